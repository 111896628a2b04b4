"""Command-line fixes found in review: banks that can't be read as they stand, interviews that can't resume,
commands that ask nothing, and clear messages where there were tracebacks."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

from bot.core.custom_bank import validate_import
from bot.resources import builtin_bank_dir
from bot.settings import Settings
from tests.helpers import mockinterview_command, run_cli
from tests.terminal.test_practice_cli import GOOD_ANSWER
from tests.terminal.test_review_fixes import save_an_answer_without_grading_it


def write_bank(folder: Path, topic: str, count: int = 2, texts: dict[str, str] | None = None) -> Path:
    """A valid one-topic bank made of shipped GAN questions renamed to `topic` (question texts from `texts`)."""
    folder.mkdir(parents=True, exist_ok=True)
    document = yaml.safe_load((builtin_bank_dir() / "gans.yaml").read_text(encoding="utf-8"))
    questions = [dict(q, id=f"{topic}.q{i}", topic=topic) for i, q in enumerate(document["questions"][:count])]
    for question in questions:
        question["question"] = (texts or {}).get(question["id"], question["question"])
    path = folder / f"{topic}.yaml"
    path.write_text(yaml.safe_dump({**document, "topic": topic, "questions": questions}, sort_keys=False))
    return path


def leave_an_interview_unfinished(env: dict[str, str], args: list[str]) -> None:
    """Start `practice` and kill it at its first question (a closed terminal): the interview stays unfinished."""
    process = subprocess.Popen(
        [*mockinterview_command(), "practice", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    shown = b""
    deadline = time.monotonic() + 60
    while b"Question 1/" not in shown and time.monotonic() < deadline:
        shown += process.stdout.read1(4096)  # type: ignore[union-attr]
    process.kill()
    process.wait()
    assert b"Question 1/" in shown


def test_practice_ends_an_interview_whose_question_left_the_bank_and_goes_on(cli_env, tmp_path):
    write_bank(tmp_path / "bank", "mine")
    leave_an_interview_unfinished({**cli_env, "MOCKINTERVIEW_BANK_DIRS": str(tmp_path / "bank")}, ["--topic", "mine"])
    # The extra bank folder is gone now, and with it the question the interview waits on.
    result = run_cli(["practice", "--topic", "gans", "--questions", "1"], cli_env, stdin=":quit\n")
    assert result.returncode == 0, result.stderr
    assert "Your unfinished interview was ended: its question 'mine.q" in result.stdout
    assert "Question 1/1" in result.stdout
    again = run_cli(["practice", "--topic", "gans", "--questions", "1"], cli_env, stdin=":quit\n")
    assert again.returncode == 0, again.stderr
    assert "unfinished" not in again.stdout


def upload(ids: list[str]) -> bytes:
    """A server's bank file of shipped GAN questions, renamed to topic 'team' with the given ids."""
    document = yaml.safe_load((builtin_bank_dir() / "gans.yaml").read_text(encoding="utf-8"))
    questions = [dict(q, id=qid, topic="team") for q, qid in zip(document["questions"], ids, strict=False)]
    return yaml.safe_dump({**document, "topic": "team", "questions": questions}, sort_keys=False).encode()


def test_import_refuses_two_questions_with_the_same_id(builtin_bank):
    report = validate_import(upload(["team.one", "team.one"]), source="team.yaml", guild_id=1, builtin=builtin_bank)
    assert not report.ok
    assert "team.yaml: team.one: id: duplicate id" in report.summary()


def test_import_refuses_a_key_given_twice(builtin_bank):
    data = upload(["team.one"]).replace(b"- id: team.one\n", b"- id: team.one\n  id: team.other\n", 1)
    report = validate_import(data, source="team.yaml", guild_id=1, builtin=builtin_bank)
    assert not report.ok
    assert "the key 'id' appears twice" in report.summary()


def test_bank_validate_refuses_a_key_given_twice_in_a_question(cli_env, tmp_path):
    path = write_bank(tmp_path / "bank", "mine", count=1)
    path.write_text(path.read_text().replace("- id: mine.q0\n", "- id: mine.q0\n  id: mine.renamed\n", 1))
    result = run_cli(["bank", "validate", str(tmp_path / "bank")], cli_env)
    assert result.returncode == 1
    assert "mine.yaml" in result.stdout + result.stderr
    assert "the key 'id' appears twice in one mapping" in result.stdout + result.stderr


def test_the_same_key_in_different_mappings_is_fine(cli_env, tmp_path):
    write_bank(tmp_path / "bank", "mine", count=2)  # every question has its own `id`, `question`, ...
    result = run_cli(["bank", "validate", str(tmp_path / "bank")], cli_env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bank_validate_names_a_file_that_is_not_utf8(cli_env, tmp_path):
    path = write_bank(tmp_path / "bank", "mine")
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")  # one Latin-1 byte, in a comment
    result = run_cli(["bank", "validate", str(tmp_path / "bank")], cli_env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "mine.yaml: is not UTF-8 text" in result.stdout


def test_practice_names_a_bank_file_that_is_not_utf8_on_one_unbroken_line(cli_env, tmp_path):
    folder = tmp_path / ("a-bank-folder-with-a-long-name-" * 3)  # the path alone is wider than 80 columns
    path = write_bank(folder, "mine")
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    result = run_cli(["practice"], {**cli_env, "MOCKINTERVIEW_BANK_DIRS": str(folder)}, stdin="")
    assert result.returncode == 1
    assert f"{path}: is not UTF-8 text" in result.stderr.splitlines()[1]
    assert "Unexpected error" not in result.stderr


def test_bank_list_shows_brackets_in_questions_as_written(cli_env, tmp_path):
    texts = {"mine.q0": "What does the [mask] token do?", "mine.q1": "What do x[1:] and [/] mean here?"}
    write_bank(tmp_path / "bank", "mine", texts=texts)
    result = run_cli(["bank", "list", str(tmp_path / "bank")], {**cli_env, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "What does the [mask] token do?" in result.stdout
    assert "What do x[1:] and [/] mean here?" in result.stdout


def test_practice_that_asks_nothing_exits_1_saying_why(cli_env, tmp_path):
    write_bank(tmp_path / "bank", "mine")  # beginner questions only
    env = {**cli_env, "MOCKINTERVIEW_BANK_DIRS": str(tmp_path / "bank")}
    result = run_cli(["practice", "--topic", "mine", "--difficulty", "advanced"], env, stdin="")
    assert result.returncode == 1
    assert "No question matches" in result.stdout


def test_db_upgrade_to_an_unknown_revision_says_so(cli_env):
    result = run_cli(["db", "upgrade", "nosuchrev"], cli_env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Can't locate revision identified by 'nosuchrev'" in result.stderr


def test_eval_output_into_a_missing_folder_is_refused_before_grading(cli_env, tmp_path):
    data = tmp_path / "scored.csv"
    data.write_text(
        "question,reference_answer,student_answer,score,score_max\n"
        "What is a GAN?,A generator and a discriminator trained adversarially.,Two networks compete.,1,1\n"
    )
    output = tmp_path / "missing" / "predictions.csv"
    result = run_cli(["eval", str(data), "--grader", "offline", "--output", str(output)], cli_env)
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Unexpected error" not in result.stderr


def test_practice_ends_an_interview_whose_saved_answer_lost_its_question(cli_env, database_url, tmp_path):
    write_bank(tmp_path / "bank", "mine")
    # The last run saved an answer and died while grading it; then the extra bank folder went away.
    save_an_answer_without_grading_it(
        Settings(database_url=database_url, bank_dirs=[tmp_path / "bank"]), topic="mine", answer=GOOD_ANSWER
    )
    result = run_cli(["practice", "--topic", "gans", "--questions", "1"], cli_env, stdin=":quit\n")
    assert result.returncode == 0, result.stderr
    assert "Can't grade it: its question is no longer in the question bank" in result.stdout
    assert "Your unfinished interview was ended: its question 'mine.q" in result.stdout
    assert "Question 1/1" in result.stdout
