"""Custom-bank import (`bot.core.custom_bank.validate_import`) can't read files or spend unbounded time/memory.

The study-server tests cover the format rules and limits one by one; these take the attacker's view: every
YAML trick for reaching the file system or blowing up the parser, each with a wall-clock bound, and a sentinel
file whose content must never show up anywhere in the report.
"""

from __future__ import annotations

import time

import pytest
import yaml

from bot.core.question_bank import QuestionBank, load_bank
from tests.security._population import FIXTURE_BANK

custom_bank = pytest.importorskip("bot.core.custom_bank", reason="custom-bank import is not in this checkout")

GUILD = 4242
SENTINEL = "TOP-SECRET-SENTINEL-9f8e7d"


@pytest.fixture(scope="module")
def builtin() -> QuestionBank:
    return load_bank(FIXTURE_BANK)


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(f"{SENTINEL}\n")
    return path


def validate(data: str | bytes, builtin: QuestionBank):
    raw = data.encode() if isinstance(data, str) else data
    started = time.perf_counter()
    report = custom_bank.validate_import(raw, source="upload.yaml", guild_id=GUILD, builtin=builtin)
    return report, time.perf_counter() - started


def everything_in(report) -> str:
    return "\n".join([report.summary(), repr(report.bodies), repr(report.questions), repr(report.problems)])


def hostile_documents(path: str) -> dict[str, str]:
    return {
        "python-object-apply": f"topic: !!python/object/apply:builtins.open ['{path}']\nquestions: []\n",
        "python-name": "topic: !!python/name:os.system\nquestions: []\n",
        "include-tag": f"topic: team\nquestions: !include {path}\n",
        "custom-local-tag": f"topic: !file {path}\nquestions: []\n",
        "merge-key-alias": "base: &b {id: x}\ntopic: team\nquestions: [{<<: *b}]\n",
        "yaml-directive": f"%TAG !e! tag:example.com,2000:\n---\ntopic: !e!file {path}\nquestions: []\n",
    }


@pytest.mark.parametrize(
    "kind", list(hostile_documents("/x")), ids=list(hostile_documents("/x"))
)  # fmt: skip
def test_yaml_tricks_to_reach_files_or_code_are_refused(builtin, secret_file, kind):
    report, seconds = validate(hostile_documents(str(secret_file))[kind], builtin)
    assert not report.ok and report.problems
    assert SENTINEL not in everything_in(report)
    assert seconds < 2


def test_a_path_written_as_a_value_stays_text_and_is_never_opened(builtin, secret_file):
    question = {
        "id": "team.paths",
        "topic": "team",
        "difficulty": "beginner",
        "question": f"What is in {secret_file}?",
        "reference_answer": " ".join(["A path in a question is only text and is never opened by the bot."] * 4),
        "key_points": ["Paths are text", "Nothing is read from disk", "Imports are data only"],
        "follow_ups": [f"file://{secret_file}"],
        "sources": ["new"],
    }
    text = yaml.safe_dump({"$schema": f"file://{secret_file}", "topic": "team", "questions": [question]})
    report, _ = validate(text, builtin)
    assert report.ok, report.summary()
    assert SENTINEL not in everything_in(report)
    assert str(secret_file) in report.questions[0].question  # kept verbatim as the author wrote it


@pytest.mark.parametrize("levels", [9, 12])
def test_alias_bombs_are_refused_without_expansion(builtin, levels):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    lines += ["topic: team", f"questions: *a{levels - 1}"]
    report, seconds = validate("\n".join(lines), builtin)  # 10**12 strings if expanded
    assert not report.ok and seconds < 2


@pytest.mark.parametrize("opener", ["[", "{a: "], ids=["lists", "maps"])
def test_pathological_nesting_is_refused_not_recursed_into(builtin, opener):
    closer = "]" if opener == "[" else "}"
    report, seconds = validate(opener * 50_000 + closer * 50_000, builtin)
    assert not report.ok and seconds < 5


def test_an_upload_over_the_size_limit_is_refused_before_parsing(builtin):
    huge = "topic: team\nquestions:\n" + "# padding\n" * (custom_bank.MAX_FILE_BYTES // 10 + 10)
    report, seconds = validate(huge, builtin)
    assert not report.ok and "limit" in report.summary()
    assert seconds < 1


def test_binary_and_non_utf8_uploads_are_refused(builtin):
    report, _ = validate(b"\xff\xfe\x00topic: team\x00\x00", builtin)
    assert not report.ok


def test_a_million_tiny_keys_within_the_byte_limit_are_handled_quickly(builtin):
    text = "topic: team\nquestions: []\n" + "".join(f"k{i}: 1\n" for i in range(20_000))
    report, seconds = validate(text[: custom_bank.MAX_FILE_BYTES], builtin)
    assert not report.ok and seconds < 5
