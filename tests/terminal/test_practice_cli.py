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
    "Mode collapse means the generator covers only a few modes and maps many noise vectors to similar outputs.\n"
    "It happens because the generator optimises against the current discriminator, not the whole distribution.\n"
    "You detect it with sample grids, nearest neighbours and recall metrics.\n"
    "Wasserstein or hinge losses with spectral normalisation or a gradient penalty reduce it, and minibatch\n"
    "standard deviation lets the discriminator penalise low diversity.\n"
)
FOLLOW_UP_ANSWER = "Minibatch standard deviation appends the batch's feature spread so the critic sees diversity.\n"
# Seed 10 makes gans.mode-collapse the first question of a two-question GAN interview.
INTERVIEW = ["practice", "--topic", "gans", "--questions", "2", "--seed", "10"]
SINGLE = ["practice", "--topic", "gans", "--questions", "1", "--seed", "10"]


def stored_attempts(database_url):
    async def _read():
        engine = create_engine(database_url)
        try:
            return await SqlAttemptRepository(engine).history(TERMINAL_USER_ID, limit=100)
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def test_single_question_is_saved_graded_and_reported(cli_env, database_url):
    result = run_cli(SINGLE, cli_env, stdin=GOOD_ANSWER + "\n\n")
    assert result.returncode == 0, result.stderr
    assert "Question 1/1" in result.stdout
    assert "Score " in result.stdout and "Key points" in result.stdout and "Reference answer" in result.stdout
    assert "Interview report" in result.stdout
    (attempt,) = stored_attempts(database_url)
    assert attempt.status == AttemptStatus.GRADED
    assert attempt.question_id == "gans.mode-collapse"
    assert attempt.answer == GOOD_ANSWER.strip()
    assert attempt.grade is not None and attempt.grade.grader == "offline"


def test_interview_asks_a_follow_up_then_the_next_question_and_reports(cli_env, database_url):
    stdin = GOOD_ANSWER + "\n\n" + FOLLOW_UP_ANSWER + "\n\n" + ":skip\n"
    result = run_cli(INTERVIEW, cli_env, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "Follow-up on question 1/2" in result.stdout
    assert "Question 2/2" in result.stdout and "Skipped." in result.stdout
    assert "Interview report" in result.stdout and "1 answered, 1 skipped" in result.stdout
    assert "Study next" in result.stdout
    kinds = sorted(a.kind for a in stored_attempts(database_url))
    assert kinds == ["answer", "follow_up"]


def test_multi_line_answer_is_kept_whole(cli_env, database_url):
    answer = "First line of my answer about GANs.\nSecond line continues it.\nThird line ends it."
    run_cli(SINGLE, cli_env, stdin=answer + "\n\n")
    (attempt,) = stored_attempts(database_url)
    assert attempt.answer == answer


def test_quit_ends_cleanly_with_a_report_and_keeps_what_was_answered(cli_env, database_url):
    result = run_cli(INTERVIEW, cli_env, stdin=GOOD_ANSWER + "\n:quit\n")
    assert result.returncode == 0, result.stderr
    assert "Interview report" in result.stdout
    assert len(stored_attempts(database_url)) == 1


def test_end_of_input_mid_answer_still_saves_it(cli_env, database_url):
    result = run_cli(INTERVIEW, cli_env, stdin="An answer typed without the final empty line")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (attempt,) = stored_attempts(database_url)
    assert attempt.answer == "An answer typed without the final empty line"


def test_empty_input_ends_with_nothing_saved(cli_env, database_url):
    result = run_cli(INTERVIEW, cli_env, stdin="")
    assert result.returncode == 0, result.stderr
    assert stored_attempts(database_url) == []


def test_hint_is_shown_and_counted(cli_env, database_url):
    result = run_cli(SINGLE, cli_env, stdin=":hint\n" + GOOD_ANSWER + "\n:quit\n")
    assert "Hint:" in result.stdout
    (attempt,) = stored_attempts(database_url)
    assert attempt.hints_used == 1


def test_reveal_shows_the_model_answer(cli_env, database_url):
    result = run_cli(SINGLE, cli_env, stdin=":reveal\n\n")
    assert "Model answer" in result.stdout
    assert "0 answered" in result.stdout
    assert stored_attempts(database_url) == []


def test_retry_answers_the_same_question_again(cli_env, database_url):
    result = run_cli(SINGLE, cli_env, stdin="A weak first answer.\n\n:retry\n" + GOOD_ANSWER + "\n\n")
    assert "another try" in result.stdout
    attempts = stored_attempts(database_url)
    assert [a.kind for a in attempts] == ["retry", "answer"]
    assert attempts[0].grade.score > attempts[1].grade.score


def test_second_run_shows_the_history_of_the_first(cli_env):
    run_cli(SINGLE, cli_env, stdin=GOOD_ANSWER + "\n\n")
    second = run_cli(SINGLE, cli_env, stdin=":quit\n")
    assert "Welcome back" in second.stdout
    assert "gans.mode-collapse" in second.stdout


def test_history_command_lists_past_answers(cli_env):
    run_cli(SINGLE, cli_env, stdin=GOOD_ANSWER + "\n\n")
    result = run_cli(["history"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "gans.mode-collapse" in result.stdout and "gans: 1 answers" in result.stdout


def test_review_the_next_day_brings_back_a_weak_answer(cli_env, database_url):
    run_cli(SINGLE, cli_env, stdin="I am not sure at all.\n\n\n")
    nothing_due = run_cli(["practice", "--review"], cli_env, stdin="")
    assert "Nothing is due for review" in nothing_due.stdout


def test_unknown_topic_is_a_clear_error(cli_env):
    result = run_cli(["practice", "--topic", "astrology"], cli_env, stdin="")
    assert result.returncode == 1
    assert "Unknown topic 'astrology'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unfinished_interview_resumes_after_a_crash(cli_env, database_url):
    process = start_practice(cli_env)
    process.stdin.write(GOOD_ANSWER + "\n")
    process.stdin.flush()
    wait_until(lambda: stored_graded(database_url))
    process.kill()  # like a crash: no chance to end the session
    process.wait(timeout=30)
    resumed = run_cli(INTERVIEW, cli_env, stdin="\n" + FOLLOW_UP_ANSWER + "\n:quit\n")
    assert "Resuming your unfinished interview (question 1 of 2)" in resumed.stdout
    assert "Follow-up on question 1/2" in resumed.stdout


def test_ctrl_c_at_the_prompt_ends_cleanly_and_keeps_answers(cli_env, database_url):
    process = start_practice(cli_env)
    process.stdin.write(GOOD_ANSWER + "\n")
    process.stdin.flush()
    shown = read_until(process, "Press Enter to continue")  # graded, shown, and now at the continue prompt
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    stdout = shown + stdout
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Interview report" in stdout
    assert len(stored_attempts(database_url)) == 1


def start_practice(env):
    return subprocess.Popen(
        [*mockinterview_command(), *INTERVIEW],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )


def read_until(process, text: str, timeout: float = 60) -> str:
    """What `process` printed up to and including `text` (read from its pipe as it comes)."""
    shown = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in shown and time.monotonic() < deadline and process.poll() is None:
        shown += process.stdout.buffer.read1(4096)
    assert text.encode() in shown, shown.decode(errors="replace")[-2000:]
    return shown.decode()


def wait_until(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def stored_graded(database_url):
    try:
        return any(a.status == AttemptStatus.GRADED for a in stored_attempts(database_url))
    except Exception:  # the database may not exist yet while the CLI starts
        return False
