"""`mockinterview practice` and `mockinterview history`: the terminal adapter (offline by default, no keys)."""

from __future__ import annotations

import asyncio
import random
import select
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console

from bot.cli._app import app, friendly_errors, load_settings
from bot.core.models import TERMINAL_USER_ID, Difficulty
from bot.core.ports import closing_grader
from bot.wiring import build_bank, build_grader, open_storage

PASTE_GAP_SECONDS = 0.05  # a paste's lines arrive together; a person takes far longer to type the next line


def _console() -> Console:
    return Console(width=min(Console().width, 100))


def _stdin_waiting() -> bool:
    """Is more input already there (or its end)? Lets a pasted answer keep its blank lines."""
    try:
        ready, _, _ = select.select([sys.stdin], [], [], PASTE_GAP_SECONDS)
    except (OSError, ValueError):  # no pollable stdin (e.g. Windows consoles): every empty line sends
        return False
    return bool(ready)


@app.command("practice")
@friendly_errors
def practice(
    topic: Annotated[str | None, typer.Option(help="Only questions of this topic (see `bank stats`).")] = None,
    difficulty: Annotated[Difficulty | None, typer.Option(help="Only questions of this difficulty.")] = None,
    questions: Annotated[int, typer.Option(min=1, max=50, help="How many questions.")] = 5,
    review: Annotated[bool, typer.Option("--review", help="Review the questions due for spaced repetition.")] = False,
    new: Annotated[bool, typer.Option("--new", help="Start over instead of resuming an unfinished interview.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed, for a repeatable question choice.")] = None,
) -> None:
    """Run a mock interview in the terminal; every answer is saved and graded, with a report at the end."""
    from bot.core.service import InterviewService
    from bot.core.session import Mode
    from bot.terminal.practice import InterviewRequest, TerminalInterview

    settings = load_settings()
    bank = build_bank(settings)
    if topic is not None:
        bank.filter(topic)  # an unknown topic is a clear error before anything starts
    console = _console()
    grader = build_grader(settings)
    mode = Mode.REVIEW if review else Mode.PRACTICE if questions == 1 else Mode.INTERVIEW
    request = InterviewRequest(mode, topic, difficulty.value if difficulty else None, questions, fresh=new)

    async def _run() -> bool:
        # asyncio's own SIGINT handler can't interrupt a blocking input(); restore the default so Ctrl-C at
        # the prompt raises KeyboardInterrupt there and the interview ends cleanly (answers are already saved).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        async with closing_grader(grader), open_storage(settings) as storage:
            service = InterviewService(
                bank, storage.sessions, storage.attempts, storage.progress, rng_factory=lambda: random.Random(seed)
            )
            interview = TerminalInterview(
                console, console.input, service, grader, storage.attempts, input_waiting=_stdin_waiting
            )
            return await interview.run(request) is not None

    try:
        asked = asyncio.run(_run())
    except KeyboardInterrupt:  # Ctrl-C outside the prompts (starting, grading): the interview stays resumable
        console.print("\nStopped. Every answer you sent is saved; run `mockinterview practice` again to go on.")
        return
    if not asked:  # nothing to ask (no question matches, nothing due): said why; not a success for scripts
        raise typer.Exit(1)


@app.command("history")
@friendly_errors
def history(
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many answers to show.")] = 20,
) -> None:
    """Show your past answers in the terminal, newest first, with their scores."""
    from bot.terminal.render import history_table

    settings = load_settings()

    async def _run() -> None:
        async with open_storage(settings) as storage:
            attempts = await storage.attempts.history(TERMINAL_USER_ID, topic=topic, limit=limit)
            stats = await storage.progress.topic_stats(TERMINAL_USER_ID)
        console = _console()
        if not attempts:
            console.print("No answers yet. Start with `mockinterview practice`.")
            return
        console.print(history_table(attempts, "Your answers"))
        for item in stats:
            average = "—" if item.average is None else f"{item.average:.1f}"
            console.print(f"{item.topic}: {item.attempts} answers, average {average}")

    asyncio.run(_run())
