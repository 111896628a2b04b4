"""`mockinterview grade`: grade one answer to a bank question."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Literal

import typer
from rich.console import Console

from bot.cli._app import app, friendly_errors, load_settings
from bot.core.models import GradeResult, Rubric
from bot.core.ports import closing_grader
from bot.wiring import build_bank, build_grader

GraderOption = Annotated[
    Literal["offline", "llm"] | None,
    typer.Option(help="Which grader to use (default: MOCKINTERVIEW_GRADER, auto → llm when configured)."),
]


@app.command("grade")
@friendly_errors
def grade(
    question_id: Annotated[str, typer.Option("--question-id", help="Bank question id (see `bank list`).")],
    answer: Annotated[str, typer.Option(help="The answer text, or '-' to read it from stdin.")],
    grader: GraderOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a report.")] = False,
) -> None:
    """Grade one answer against a bank question's reference answer and key points."""
    from bot.terminal.render import print_grade

    settings = load_settings()
    question = build_bank(settings).get(question_id)
    text = sys.stdin.read() if answer == "-" else answer
    chosen = build_grader(settings, grader)

    async def _grade() -> GradeResult:
        async with closing_grader(chosen):
            return await chosen.grade(Rubric.from_question(question), text)

    result = asyncio.run(_grade())
    if as_json:
        payload = {"question_id": question.id, **result.model_dump(mode="json"), "normalized": result.normalized}
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        print_grade(Console(), result, question)
