"""`mockinterview bank validate|stats|list|schema`: check and inspect question banks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli._app import app, friendly_errors, load_settings
from bot.core.models import BankFile, Difficulty
from bot.resources import builtin_bank_dir

if TYPE_CHECKING:
    from bot.core.question_bank import QuestionBank

bank_app = typer.Typer(help="Check and inspect question banks.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")
console = Console()

DirsArgument = Annotated[
    list[Path] | None,
    typer.Argument(help="Bank folders to read (default: the built-in bank plus MOCKINTERVIEW_BANK_DIRS)."),
]


def _dirs(dirs: list[Path] | None) -> tuple[Path, list[Path]]:
    if dirs:
        return dirs[0], dirs[1:]
    return builtin_bank_dir(), load_settings().bank_dirs


@bank_app.command("validate")
def validate(dirs: DirsArgument = None) -> None:
    """Report every problem (file, question id, field) in the banks; exit 1 if there is any."""
    from bot.core.question_bank import collect_bank

    first, rest = _dirs(dirs)
    bank, problems = collect_bank(first, rest)
    for problem in problems:
        typer.echo(str(problem))  # one unwrapped line per problem: easy to grep and to jump to
    if problems:
        console.print(f"{len(problems)} problem(s) found.", style="bold red")
        raise typer.Exit(1)
    console.print(f"OK: {len(bank)} questions in {len(bank.topics)} topics.", style="green")


@bank_app.command("stats")
@friendly_errors
def stats(dirs: DirsArgument = None) -> None:
    """Count questions by topic and difficulty."""
    bank = _load(dirs)
    table = Table(title=f"{len(bank)} questions in {len(bank.topics)} topics")
    table.add_column("topic")
    for level in Difficulty:
        table.add_column(level.value, justify="right")
    table.add_column("total", justify="right", style="bold")
    totals: dict[str, int] = dict.fromkeys((d.value for d in Difficulty), 0)
    for topic, counts in sorted(bank.stats().items()):
        table.add_row(topic, *(str(counts[d.value]) for d in Difficulty), str(sum(counts.values())))
        for name in totals:
            totals[name] += counts[name]
    table.add_section()
    table.add_row("all", *(str(totals[d.value]) for d in Difficulty), str(len(bank)))
    console.print(table)


@bank_app.command("list")
@friendly_errors
def list_questions(
    dirs: DirsArgument = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
    difficulty: Annotated[Difficulty | None, typer.Option(help="Only this difficulty.")] = None,
) -> None:
    """List question ids and questions."""
    bank = _load(dirs)
    table = Table(show_lines=False)
    table.add_column("id", no_wrap=True)
    table.add_column("level")
    table.add_column("question")
    for question in bank.filter(topic, difficulty):
        # Text, not markup: a question may hold brackets ("[mask]", "x[1:]") that Rich would eat or fail on.
        table.add_row(Text(question.id), question.difficulty.value, Text(question.question))
    console.print(table)


@bank_app.command("schema")
def schema(output: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None) -> None:
    """Print the JSON Schema of bank files (for editors; `question_bank/schema.json` is this output)."""
    text = json.dumps(bank_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


def bank_json_schema() -> dict[str, object]:
    schema = BankFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mock-interviewer question bank file"
    return schema


def _load(dirs: list[Path] | None) -> QuestionBank:
    from bot.core.question_bank import load_bank

    first, rest = _dirs(dirs)
    return load_bank(first, rest)
