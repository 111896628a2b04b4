"""Terminal interview fixes found in review: pasted answers, the continue prompt, resumed answers."""

from __future__ import annotations

import io

from rich.console import Console

from bot.terminal.practice import TerminalInterview
from tests.helpers import run_cli
from tests.terminal.test_practice_cli import INTERVIEW, stored_attempts

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
