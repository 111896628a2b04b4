"""The terminal interview driven through stdin of the installed command, as a user types it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

from bot.core.models import TERMINAL_USER_ID, AttemptStatus
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from tests.helpers import mockinterview_command, run_cli

GOOD_ANSWER = (
    "Mode collapse is when the generator produces only a few kinds of samples and ignores other modes of the data.\n"
    "You can mitigate it with a Wasserstein loss with gradient penalty and with minibatch discrimination.\n"
)
PRACTICE = ["practice", "--topic", "gans", "--questions", "2", "--seed", "7"]


def stored_attempts(database_url):
    async def _read():
        engine = create_engine(database_url)
        try:
            return await SqlAttemptRepository(engine).history(TERMINAL_USER_ID, limit=100)
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def test_answer_then_skip_grades_and_saves_the_answer(cli_env, database_url):
    result = run_cli(PRACTICE, cli_env, stdin=GOOD_ANSWER + "\n:skip\n")
    assert result.returncode == 0, result.stderr
    assert "Question 1/2" in result.stdout and "Question 2/2" in result.stdout
    assert "Score " in result.stdout and "Key points" in result.stdout
    assert "Reference answer" in result.stdout
    assert "Skipped." in result.stdout
    assert "1 answered, 1 skipped" in result.stdout
    (attempt,) = stored_attempts(database_url)
    assert attempt.status == AttemptStatus.GRADED
    assert attempt.answer == GOOD_ANSWER.strip()
    assert attempt.grade is not None and attempt.grade.grader == "offline"


def test_multi_line_answer_is_kept_whole(cli_env, database_url):
    answer = "First line of my answer about GANs.\nSecond line continues it.\nThird line ends it."
    run_cli(PRACTICE, cli_env, stdin=answer + "\n\n:quit\n")
    (attempt,) = stored_attempts(database_url)
    assert attempt.answer == answer


def test_quit_ends_cleanly_and_keeps_what_was_answered(cli_env, database_url):
    result = run_cli(PRACTICE, cli_env, stdin=GOOD_ANSWER + "\n:quit\n")
    assert result.returncode == 0, result.stderr
    assert "Question 2/2" in result.stdout
    assert "1 answered, 0 skipped" in result.stdout
    assert len(stored_attempts(database_url)) == 1


def test_end_of_input_mid_answer_still_saves_it(cli_env, database_url):
    result = run_cli(PRACTICE, cli_env, stdin="An answer typed without the final empty line")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (attempt,) = stored_attempts(database_url)
    assert attempt.answer == "An answer typed without the final empty line"


def test_empty_input_ends_with_nothing_saved(cli_env, database_url):
    result = run_cli(PRACTICE, cli_env, stdin="")
    assert result.returncode == 0, result.stderr
    assert "No answers this time" in result.stdout
    assert stored_attempts(database_url) == []


def test_hint_is_shown_and_counted(cli_env, database_url):
    result = run_cli(PRACTICE, cli_env, stdin=":hint\n" + GOOD_ANSWER + "\n:quit\n")
    assert "Hint:" in result.stdout
    (attempt,) = stored_attempts(database_url)
    assert attempt.hints_used == 1


def test_second_run_shows_the_history_of_the_first(cli_env):
    run_cli(PRACTICE, cli_env, stdin=GOOD_ANSWER + "\n:quit\n")
    second = run_cli(PRACTICE, cli_env, stdin=":quit\n")
    assert "Welcome back" in second.stdout
    assert "gans." in second.stdout


def test_unknown_topic_is_a_clear_error(cli_env):
    result = run_cli(["practice", "--topic", "astrology"], cli_env, stdin="")
    assert result.returncode == 1
    assert "Unknown topic 'astrology'" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_at_the_prompt_ends_cleanly_and_keeps_answers(cli_env, database_url):
    process = subprocess.Popen(
        [*mockinterview_command(), *PRACTICE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**cli_env, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None
    process.stdin.write(GOOD_ANSWER + "\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stored_graded(database_url):
        time.sleep(0.2)
    time.sleep(0.5)  # now waiting at the second question's prompt
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "1 answered" in stdout
    assert len(stored_attempts(database_url)) == 1


def stored_graded(database_url):
    try:
        return any(a.status == AttemptStatus.GRADED for a in stored_attempts(database_url))
    except Exception:  # the database may not exist yet while the CLI starts
        return False
