"""Rich renderings of questions, grades and history that read well in 80 columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.core.models import Attempt, GradeResult, Question, Verdict
from bot.core.session import ItemKind

if TYPE_CHECKING:  # `history` and `grade` render without the service, its bank (YAML) and reports
    from bot.core.question_bank import QuestionBank
    from bot.core.report import Report
    from bot.core.service import Prompt

VERDICT_STYLE = {
    Verdict.COVERED: ("✔", "green"),
    Verdict.PARTIAL: ("◐", "yellow"),
    Verdict.MISSING: ("✘", "red"),
    Verdict.INCORRECT: ("!", "bold red"),
}


def score_style(score: float) -> str:
    return "green" if score >= 7 else "yellow" if score >= 4 else "red"


def prompt_panel(prompt: Prompt) -> Panel:
    question = prompt.question
    if prompt.item.kind == ItemKind.FOLLOW_UP:
        title = f"Follow-up on question {prompt.number}/{prompt.total}"
    elif prompt.item.kind == ItemKind.RETRY:
        title = f"Question {prompt.number}/{prompt.total}, another try"
    else:
        title = f"Question {prompt.number}/{prompt.total} · {question.topic} · {question.difficulty.value}"
    return Panel(Text(prompt.item.prompt, style="bold"), title=title, title_align="left", border_style="cyan")


def reference_panel(question: Question) -> Panel:
    body = Group(
        Text(question.reference_answer),
        Text("\nKey points", style="bold"),
        *(Text(f"• {point}") for point in question.key_points),
    )
    return Panel(body, title="Model answer", title_align="left", border_style="magenta")


def report_panel(report: Report, bank: QuestionBank) -> Panel:
    from bot.core.report import unscored_notes

    parts: list[Text | Table] = []
    headline = Text()
    headline.append(f"Overall {report.overall:.1f}/10", style=f"bold {score_style(report.overall)}")
    headline.append(f"   {report.answered} answered, {report.skipped} skipped")
    for note in unscored_notes(report):
        headline.append(f", {note}", style="yellow")
    if report.trend is not None and report.previous_average is not None:
        arrow = "▲" if report.trend > 0 else "▼" if report.trend < 0 else "="
        headline.append(f"   {arrow} {report.trend:+.1f} vs your earlier average {report.previous_average:.1f}")
    parts.append(headline)
    if report.topics:
        table = Table(show_header=True, box=None, padding=(0, 2))
        table.add_column("topic")
        table.add_column("questions", justify="right")
        table.add_column("average", justify="right")
        for topic in report.topics:
            table.add_row(topic.topic, str(topic.questions), Text(f"{topic.average:.1f}", score_style(topic.average)))
        parts.extend([Text(""), table])
    for title, items in (("Strongest points", report.strongest_points), ("Weakest points", report.weakest_points)):
        if items:
            parts.append(Text(f"\n{title}", style="bold"))
            parts.extend(Text(f"• {item}") for item in items)
    if report.study_next:
        parts.append(Text("\nStudy next", style="bold"))
        for suggestion in report.study_next:
            parts.append(Text(f"• {suggestion.focus}  ({suggestion.question_id})"))
    return Panel(Group(*parts), title="Interview report", title_align="left", border_style="blue")


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
