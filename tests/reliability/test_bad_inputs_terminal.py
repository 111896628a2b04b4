"""The worst bad inputs typed into `mockinterview practice` (stdin of the installed command): no crash, no traceback."""

from __future__ import annotations

import subprocess

import pytest

from bot.core.models import AttemptStatus, storable_text
from tests.helpers import mockinterview_command
from tests.reliability._corpus import pick
from tests.terminal.test_practice_cli import stored_attempts

pytestmark = pytest.mark.slow

WORST = [
    "length-100k-a",
    "length-100k-emoji",
    "control-01",
    "control-04",
    "control-06",
    "rtl-03",
    "zalgo-03",
    "fence-01",
    "injection-26",
    "mention-11",
]


def practice(cli_env, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*mockinterview_command(), "practice", "--topic", "gans", "--questions", "1", "--seed", "10"],
        input=stdin,
        capture_output=True,
        env=cli_env,
        timeout=180,
        check=False,
    )


def test_practice_survives_every_hostile_answer_each_saved_and_graded(cli_env, database_url):
    # One process answers them all (`:retry` at the continue prompt asks the question again), so the corpus costs
    # one interpreter start-up instead of ten (~3 s each); each answer is still checked on its own below.
    # One line per answer in the terminal; the blank line ends it.
    answers = [entry.text().replace("\n", " ").replace("\r", " ") for entry in pick(*WORST)]
    stdin = b":retry\n".join(answer.encode("utf-8", "surrogateescape") + b"\n\n" for answer in answers)
    result = practice(cli_env, stdin)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr[-2000:]
    assert b"Traceback" not in result.stderr + result.stdout
    assert b"Interview report" in result.stdout
    attempts = sorted(stored_attempts(database_url), key=lambda attempt: attempt.id)
    assert len(attempts) == len(WORST), [attempt.answer[:40] for attempt in attempts]
    wrong = [
        entry_id
        for entry_id, answer, attempt in zip(WORST, answers, attempts, strict=True)
        if attempt.status != AttemptStatus.GRADED
        or attempt.kind != ("answer" if entry_id == WORST[0] else "retry")
        or attempt.answer != storable_text(answer)  # saved whole, only NUL made storable
    ]
    assert not wrong, f"not saved whole and graded: {wrong}"


def test_practice_survives_invalid_utf8_bytes_on_stdin(cli_env):
    result = practice(cli_env, b"\xff\xfe\xc3\x28 broken bytes \xed\xa0\x80\n\n")
    assert b"Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.returncode in (0, 1)
