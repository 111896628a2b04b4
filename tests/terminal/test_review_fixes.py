"""Terminal interview fixes found in review: pasted answers, the continue prompt, resumed answers."""

from __future__ import annotations

import asyncio
import io
import random

from rich.console import Console

from bot.core.models import TERMINAL_USER_ID
from bot.core.service import InterviewService
from bot.core.session import Mode
from bot.settings import Settings
from bot.terminal.practice import TERMINAL, TerminalInterview
from bot.wiring import build_bank, open_storage
from tests.helpers import run_cli
from tests.terminal.test_practice_cli import GOOD_ANSWER, INTERVIEW, stored_attempts

FIRST_PARAGRAPH = "Mode collapse means the generator produces only a few kinds of samples and ignores other modes."
SECOND_PARAGRAPH = (
    "To mitigate it, use Wasserstein loss with gradient penalty, minibatch discrimination and unrolled GANs."
)


def test_a_pasted_answer_of_two_paragraphs_is_one_answer(cli_env, database_url):
    run_cli(INTERVIEW, cli_env, stdin=FIRST_PARAGRAPH + "\n\n" + SECOND_PARAGRAPH + "\n\n")
    assert [a.answer for a in stored_attempts(database_url)] == [FIRST_PARAGRAPH + "\n\n" + SECOND_PARAGRAPH]


def test_text_at_the_continue_prompt_is_not_taken_for_enter():
    output = io.StringIO()
    lines = iter(["the rest of my answer", ":retry"])
    interview = TerminalInterview(
        Console(file=output, width=200),
        lambda _prompt: next(lines),
        None,
        None,
        None,  # type: ignore[arg-type]
    )
    assert interview._read_continue() == "retry"
    assert "looks like more answer text" in output.getvalue()


def save_an_answer_without_grading_it(settings: Settings, topic: str = "gans", answer: str = GOOD_ANSWER) -> None:
    """Where `practice` stands when it dies during "Grading…": the answer saved, the interview waiting on it."""

    async def _run() -> None:
        async with open_storage(settings) as storage:
            service = InterviewService(
                build_bank(settings), storage.sessions, storage.attempts, storage.progress, rng_factory=random.Random
            )
            view = await service.start(TERMINAL_USER_ID, TERMINAL, Mode.INTERVIEW, topic=topic, count=2)
            await service.submit_answer(view.session.id, TERMINAL_USER_ID, answer)

    asyncio.run(_run())


def test_an_answer_graded_on_resume_shows_its_feedback(cli_env, database_url):
    save_an_answer_without_grading_it(Settings(database_url=database_url))
    result = run_cli(["practice"], cli_env, stdin=":quit\n")
    assert result.returncode == 0, result.stderr
    assert "Grading an answer saved last time" in result.stdout
    assert "Score " in result.stdout and "Key points" in result.stdout
