"""Every shipped bank file validates, ids are unique, and the seed inventory is covered."""

from __future__ import annotations

import csv
import json

import pytest

from bot.cli.bank import bank_json_schema
from bot.core.models import Difficulty
from bot.core.question_bank import bank_files, collect_bank
from bot.resources import builtin_bank_dir
from tests.conftest import SHARED_DIR

MIN_QUESTIONS = 220
MIN_TOPICS = 12


@pytest.fixture(scope="module")
def shipped():
    bank, problems = collect_bank(builtin_bank_dir())
    return bank, problems


def test_every_shipped_file_validates(shipped):
    _, problems = shipped
    assert [str(p) for p in problems] == []


def test_bank_is_big_and_broad(shipped):
    bank, _ = shipped
    assert len(bank) >= MIN_QUESTIONS
    assert len(bank.topics) >= MIN_TOPICS
    assert {q.difficulty for q in bank.questions.values()} == set(Difficulty)


def test_each_file_is_one_topic_named_after_it():
    for path in bank_files(builtin_bank_dir()):
        text = path.read_text(encoding="utf-8")
        assert f"topic: {path.stem}\n" in text, f"{path.name} must declare topic: {path.stem}"


def test_every_topic_has_enough_questions(shipped):
    bank, _ = shipped
    for topic, counts in bank.stats().items():
        assert sum(counts.values()) >= 8, f"{topic} is too thin"


def test_schema_json_is_generated_from_the_model():
    shipped_schema = json.loads((builtin_bank_dir() / "schema.json").read_text(encoding="utf-8"))
    assert shipped_schema == bank_json_schema(), "run: mockinterview bank schema --output question_bank/schema.json"


def test_schema_json_is_not_a_bank_file():
    assert all(p.suffix in {".yaml", ".yml"} for p in bank_files(builtin_bank_dir()))


@pytest.mark.skipif(not (SHARED_DIR / "seed-questions.tsv").exists(), reason="../shared (seed inventory) not present")
def test_every_seed_item_is_covered_by_some_question(shipped):
    bank, _ = shipped
    with open(SHARED_DIR / "seed-questions.tsv", encoding="utf-8") as handle:
        inventory = {row["id"] for row in csv.DictReader(handle, delimiter="\t")}
    cited = {source for q in bank.questions.values() for source in q.sources if source != "new"}
    assert sorted(inventory - cited) == []
    assert sorted(cited - inventory) == []
