"""`mockinterview practice`: a mock interview in the terminal (offline by default, no keys needed)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

from bot.cli._app import app, friendly_errors, load_settings
from bot.core.models import Difficulty
from bot.terminal.practice import TerminalPractice, pick_questions
from bot.wiring import build_bank, build_grader, open_attempts


@app.command("practice")
@friendly_errors
def practice(
    topic: Annotated[str | None, typer.Option(help="Only questions of this topic (see `bank stats`).")] = None,
    difficulty: Annotated[Difficulty | None, typer.Option(help="Only questions of this difficulty.")] = None,
    questions: Annotated[int, typer.Option(min=1, max=50, help="How many questions.")] = 5,
    seed: Annotated[int | None, typer.Option(help="Random seed, for a repeatable question order.")] = None,
) -> None:
    """Run a mock interview in the terminal; every answer is saved and graded."""
    settings = load_settings()
    bank = build_bank(settings)
    chosen = pick_questions(bank, questions, topic, difficulty.value if difficulty else None, seed)
    console = Console(width=min(Console().width, 100))
    grader = build_grader(settings)

    async def _run() -> None:
        # asyncio's own SIGINT handler can't interrupt a blocking input(); restore the default so Ctrl-C at
        # the prompt raises KeyboardInterrupt there and the interview ends cleanly (answers are already saved).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        async with open_attempts(settings) as attempts:
            await TerminalPractice(console, console.input, bank, grader, attempts).run(chosen)

    try:
        asyncio.run(_run())
    except KeyboardInterrupt:  # Ctrl-C outside the question loop (e.g. while starting): leave quietly
        console.print("\nBye.")
