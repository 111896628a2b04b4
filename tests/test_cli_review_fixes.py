"""Command-line fixes found in review: banks that can't be read as they stand, interviews that can't resume,
commands that ask nothing, and clear messages where there were tracebacks."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

from bot.resources import builtin_bank_dir
from tests.helpers import mockinterview_command, run_cli


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
    assert "Your unfinished interview was ended" in result.stdout and "mine.q0" in result.stdout
    assert "Question 1/1" in result.stdout
    again = run_cli(["practice", "--topic", "gans", "--questions", "1"], cli_env, stdin=":quit\n")
    assert again.returncode == 0, again.stderr
    assert "unfinished" not in again.stdout
