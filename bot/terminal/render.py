"""Rich renderings of questions, grades and history that read well in 80 columns."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.core.models import Attempt, GradeResult, Question, Verdict

VERDICT_STYLE = {
    Verdict.COVERED: ("✔", "green"),
    Verdict.PARTIAL: ("◐", "yellow"),
    Verdict.MISSING: ("✘", "red"),
    Verdict.INCORRECT: ("!", "bold red"),
}


def score_style(score: float) -> str:
    return "green" if score >= 7 else "yellow" if score >= 4 else "red"


def question_panel(question: Question, number: int, total: int) -> Panel:
    title = f"Question {number}/{total} · {question.topic} · {question.difficulty.value}"
    return Panel(Text(question.question, style="bold"), title=title, title_align="left", border_style="cyan")


def grade_panel(grade: GradeResult, question: Question | None = None) -> Panel:
    parts: list[Text | Table] = []
    header = Text()
    header.append(f"Score {grade.score:.1f}/10", style=f"bold {score_style(grade.score)}")
    label = grade.grader if not grade.model else f"{grade.grader}, {grade.model}"
    header.append(f"   graded by {label}", style="dim")
    parts.append(header)
    for notice in grade.notices:
        parts.append(Text(f"Note: {notice}", style="yellow"))
    if grade.key_points:
        table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
        table.add_column(width=1, no_wrap=True)
        table.add_column(ratio=1)
        for kp in grade.key_points:
            mark, style = VERDICT_STYLE[kp.verdict]
            table.add_row(Text(mark, style=style), Text(kp.key_point))
        parts.append(Text("\nKey points", style="bold"))
        parts.append(table)
    for title, items in (
        ("Factual errors", grade.factual_errors),
        ("Strengths", grade.strengths),
        ("To improve", grade.improvements),
    ):
        if items and not (title != "Factual errors" and grade.grader.startswith("offline")):
            parts.append(Text(f"\n{title}", style="bold"))
            parts.extend(Text(f"• {item}") for item in items)
    if grade.follow_up:
        parts.append(Text(f"\nFollow-up to think about: {grade.follow_up}", style="italic"))
    if question is not None:
        parts.append(Text("\nReference answer", style="bold"))
        parts.append(Text(question.reference_answer, style="dim"))
    return Panel(Group(*parts), title="Feedback", title_align="left", border_style=score_style(grade.score))


def history_table(attempts: Sequence[Attempt], title: str = "Your recent answers") -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("when", no_wrap=True)
    table.add_column("question")
    table.add_column("score", justify="right", no_wrap=True)
    for attempt in attempts:
        when = attempt.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if attempt.grade is not None:
            score = Text(f"{attempt.grade.score:.1f}", style=score_style(attempt.grade.score))
        else:
            score = Text(attempt.status.value, style="dim")
        table.add_row(when, attempt.question_id, score)
    return table


def print_grade(console: Console, grade: GradeResult, question: Question | None = None) -> None:
    console.print(grade_panel(grade, question))
