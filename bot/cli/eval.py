"""`mockinterview eval`: agreement of a grader with human scores on a CSV file (contract in DESIGN.md)."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console

from bot.cli._app import app, err_console, friendly_errors, load_settings
from bot.core.errors import GraderUnavailableError, UserFacingError
from bot.core.models import MAX_SCORE, PASS_THRESHOLD, GradeResult, Rubric
from bot.core.ports import Grader, closing_grader
from bot.wiring import build_grader

if TYPE_CHECKING:
    from bot.core.metrics import Agreement

REQUIRED_COLUMNS = ("question", "reference_answer", "student_answer", "score", "score_max")
PREDICTION_COLUMNS = ("predicted", "predicted_score")
OFFLINE_CHUNK = 256  # rows the offline grader encodes in one go (progress advances per chunk)
PROGRESS_MIN_ROWS = 50


@dataclass(frozen=True)
class EvalRow:
    line: int  # the row's line number in the file (the header is line 1)
    record: dict[str, str]
    rubric: Rubric
    answer: str
    score: float
    score_max: float


def read_eval_csv(path: Path) -> tuple[list[str], list[EvalRow]]:
    """The file's columns and rows; any problem is a `UserFacingError` naming the file and the row."""
    if not path.is_file():
        raise UserFacingError(f"{path}: no such file.")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            # "question, reference_answer, ..." (a space after each comma, as people write it) names the same columns.
            columns = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = columns
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise UserFacingError(
                    f"{path}: missing column(s) {', '.join(missing)}; "
                    f"an eval file needs {', '.join(REQUIRED_COLUMNS)} (extra columns are ignored)."
                )
            rows = [_parse_row(path, reader.line_num, record) for record in reader]
    except UnicodeDecodeError as exc:
        raise UserFacingError(f"{path}: not a UTF-8 text file ({exc.reason}).") from None
    except csv.Error as exc:
        raise UserFacingError(f"{path}: not a readable CSV file ({exc}).") from None
    if not rows:
        raise UserFacingError(f"{path}: has no rows to evaluate.")
    return columns, rows


def _parse_row(path: Path, line: int, record: dict[str, str]) -> EvalRow:
    def number(column: str) -> float:
        raw = (record.get(column) or "").strip()
        try:
            value = float(raw)
        except ValueError:
            raise UserFacingError(f"{path}, row {line}: {column} {raw!r} is not a number.") from None
        if not math.isfinite(value):
            raise UserFacingError(f"{path}, row {line}: {column} {raw!r} is not a finite number.")
        return value

    score, score_max = number("score"), number("score_max")
    if score_max <= 0:
        raise UserFacingError(f"{path}, row {line}: score_max must be positive, not {score_max:g}.")
    if not 0 <= score <= score_max:
        raise UserFacingError(f"{path}, row {line}: score {score:g} is outside 0..score_max ({score_max:g}).")
    question = (record.get("question") or "").strip()
    reference = (record.get("reference_answer") or "").strip()
    if not question or not reference:
        raise UserFacingError(f"{path}, row {line}: question and reference_answer must not be empty.")
    return EvalRow(
        line=line,
        record=record,
        rubric=Rubric(question=question, reference_answer=reference),
        answer=record.get("student_answer") or "",
        score=score,
        score_max=score_max,
    )


async def grade_rows(
    grader: Grader, rows: Sequence[EvalRow], concurrency: int, advance: Callable[[int], None]
) -> list[GradeResult]:
    """Grade every row: the offline grader in encoded batches, any other grader concurrently (bounded)."""
    from bot.grading.offline import OfflineGrader

    if isinstance(grader, OfflineGrader):
        results: list[GradeResult] = []
        for start in range(0, len(rows), OFFLINE_CHUNK):
            chunk = [(row.rubric, row.answer) for row in rows[start : start + OFFLINE_CHUNK]]
            results.extend(await asyncio.to_thread(grader.grade_many, chunk))
            advance(len(chunk))
        return results

    limit = asyncio.Semaphore(concurrency)

    async def one(row: EvalRow) -> GradeResult:
        async with limit:
            try:
                return await grader.grade(row.rubric, row.answer)
            except GraderUnavailableError as exc:
                raise UserFacingError(f"Grading row {row.line} failed: {exc.reason}") from None
            finally:
                advance(1)

    return list(await asyncio.gather(*(one(row) for row in rows)))


def check_writable(path: Path) -> None:
    if not path.parent.is_dir():
        raise UserFacingError(f"{path}: the folder {path.parent} does not exist; create it or choose another --output.")
    if path.is_dir():
        raise UserFacingError(f"{path}: is a folder; --output takes a file name.")


def write_predictions(path: Path, columns: list[str], rows: Sequence[EvalRow], predicted: Sequence[float]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        # A file that already has them (the output of an earlier run) gets the new values in the same columns once.
        kept = [c for c in columns if c not in PREDICTION_COLUMNS]
        writer = csv.DictWriter(handle, fieldnames=[*kept, *PREDICTION_COLUMNS], extrasaction="ignore")
        writer.writeheader()
        for row, value in zip(rows, predicted, strict=True):
            writer.writerow(
                {**row.record, "predicted": f"{value:.4f}", "predicted_score": f"{value * row.score_max:.4f}"}
            )


def _report(console: Console, path: Path, grader_name: str, result: Agreement) -> None:
    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    console.print(f"{path} · grader {grader_name} · {result.n} rows", highlight=False)
    console.print(f"  Pearson r     {fmt(result.pearson)}", highlight=False)
    console.print(f"  Spearman rho  {fmt(result.spearman)}", highlight=False)
    console.print(f"  RMSE          {fmt(result.rmse)}  (on the file's own scale)", highlight=False)
    if result.accuracy is not None:
        console.print(f"  accuracy      {fmt(result.accuracy)}  (pass at {PASS_THRESHOLD:g}/10)", highlight=False)
        console.print(f"  macro-F1      {fmt(result.macro_f1)}", highlight=False)


@app.command("eval")
@friendly_errors
def eval_command(
    file: Annotated[
        Path, typer.Argument(help="CSV with question, reference_answer, student_answer, score, score_max.")
    ],
    grader: Annotated[
        Literal["offline", "llm"] | None,
        typer.Option(help="Which grader to measure (default: MOCKINTERVIEW_GRADER, auto → llm when configured)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the metrics.")] = False,
    output: Annotated[
        Path | None, typer.Option(help="Write every row back with `predicted` (0-1) and `predicted_score`.")
    ] = None,
) -> None:
    """Grade every row of a human-scored CSV and report the grader's agreement with the human scores."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bot.core.metrics import agreement

    settings = load_settings()
    columns, rows = read_eval_csv(file)
    if output is not None:
        check_writable(output)  # before grading, which may take long (and cost, with an LLM)
    chosen = build_grader(settings, grader)
    show_progress = len(rows) >= PROGRESS_MIN_ROWS and err_console.is_terminal
    progress = Progress(
        TextColumn("grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,  # stderr only: stdout stays one JSON object with --json
        disable=not show_progress,
        transient=True,
    )
    with progress:
        task = progress.add_task("grading", total=len(rows))

        async def _grade_all() -> list[GradeResult]:
            async with closing_grader(chosen):
                return await grade_rows(chosen, rows, settings.llm_concurrency, lambda n: progress.advance(task, n))

        results = asyncio.run(_grade_all())
    fallbacks = sum(1 for r in results if "fallback" in r.flags)
    if fallbacks:
        err_console.print(
            f"Note: {fallbacks} of {len(results)} rows were graded by a fallback grader, not {chosen.name}.",
            markup=False,
            highlight=False,
        )
    predicted = [min(1.0, max(0.0, r.score / MAX_SCORE)) for r in results]
    result = agreement(
        predicted, [r.score for r in rows], [r.score_max for r in rows], pass_fraction=PASS_THRESHOLD / MAX_SCORE
    )
    if output is not None:
        write_predictions(output, columns, rows, predicted)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
    else:
        _report(Console(), file, chosen.name, result)
