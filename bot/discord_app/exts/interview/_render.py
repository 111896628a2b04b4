"""What the interview looks like in Discord: question, feedback, model answer and report embeds, plus buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.core.models import Attempt, AttemptStatus, Question, Verdict
from bot.core.question_bank import QuestionBank
from bot.core.report import QuestionScore, Report, unscored_notes
from bot.core.service import Prompt, SessionView
from bot.core.session import InterviewSession, ItemKind, ItemOutcome, SessionState
from bot.discord_app.embeds import escape, paginate, trim
from bot.discord_app.exts.interview._views import ShareButton, feedback_buttons, question_buttons

if TYPE_CHECKING:
    from bot.discord_app.runtime import Runtime

Pages = list[list[discord.Embed]]

BLURPLE = discord.Colour.blurple()
GREEN = discord.Colour.green()
ORANGE = discord.Colour.orange()
RED = discord.Colour.red()
VERDICT_MARK = {Verdict.COVERED: "✅", Verdict.PARTIAL: "🟡", Verdict.MISSING: "❌", Verdict.INCORRECT: "⚠️"}


def _score_colour(score: float) -> discord.Colour:
    return GREEN if score >= 7 else ORANGE if score >= 4 else RED


def _bullets(lines: Sequence[str], mark: str = "•") -> str:
    return "\n".join(f"{mark} {line}" for line in lines)


def topic_title(bank: QuestionBank, topic: str) -> str:
    info = bank.topics.get(topic)
    return info.title if info else topic


def question_message(bank: QuestionBank, prompt: Prompt, *, typed_answers: bool) -> tuple[Pages, discord.ui.View]:
    """The question embed and its Answer/Hint/Skip/Reveal/End buttons."""
    kind = prompt.item.kind
    label = {ItemKind.FOLLOW_UP: " · follow-up", ItemKind.RETRY: " · another try"}.get(kind, "")
    question = prompt.question
    how = "Press **Answer** to write your answer" + (", or just type it here." if typed_answers else ".")
    pages = paginate(
        f"Question {prompt.number} of {prompt.total}{label}",
        description=f"{prompt.item.prompt}\n\n{how}",
        fields=[
            ("Topic", topic_title(bank, question.topic)),
            ("Difficulty", question.difficulty.value.title()),
        ],
        colour=BLURPLE,
        footer=f"{question.id} · hints left: {prompt.hints_left}",
    )
    return pages, question_buttons(prompt.session_id, prompt.item_index, prompt.hints_left)


def feedback_message(
    runtime: Runtime, attempt: Attempt, view: SessionView | None, *, shareable: bool = False
) -> tuple[Pages, discord.ui.View | None]:
    """The feedback for a graded (or failed) attempt, with Next/Try again/End while the session waits on it, and
    Share when the feedback is private to the user in a server."""
    question = runtime.bank.questions.get(attempt.question_id)
    buttons = None
    session = view.session if view is not None else None
    if session is not None and session.id is not None and session.state == SessionState.FEEDBACK:
        buttons = feedback_buttons(session.id, session.item_index, can_retry=attempt.kind != ItemKind.FOLLOW_UP.value)
    if shareable and attempt.grade is not None:
        buttons = buttons or discord.ui.View(timeout=None)
        buttons.add_item(ShareButton(attempt.id))
    if attempt.status != AttemptStatus.GRADED or attempt.grade is None:
        pages = paginate(
            "Answer saved — grading failed",
            description=(
                "Your answer is safe, but it couldn't be graded right now. It stays in your /history; "
                "press **Next** to carry on."
            ),
            colour=ORANGE,
            footer=f"attempt #{attempt.id}",
        )
        return pages, buttons
    grade = attempt.grade
    summary = [f"**Score: {grade.score:.1f} / 10**"]
    if attempt.hints_used:
        summary.append(f"Hints used: {attempt.hints_used}")
    if question is not None:
        summary.insert(0, f"*{trim(question.question, 300)}*")
    summary.extend(f"\N{INFORMATION SOURCE} {escape(n)}" for n in grade.notices)
    fields: list[tuple[str, str]] = []
    if grade.key_points:
        lines = []
        for kp in grade.key_points:
            line = f"{VERDICT_MARK.get(kp.verdict, '•')} {kp.key_point}"
            if kp.evidence:
                line += f" — “{escape(trim(kp.evidence, 160))}”"
            lines.append(line)
        fields.append(("Key points", "\n".join(lines)))
    for name, items in (
        ("Strengths", grade.strengths),
        ("To improve", grade.improvements),
        ("Factual errors", grade.factual_errors),
    ):
        if items:
            fields.append((name, _bullets([escape(i) for i in items])))
    if grade.follow_up:
        fields.append(("Something to think about", escape(grade.follow_up)))
    grader = grade.grader + (f" · {grade.model}" if grade.model else "")
    pages = paginate(
        "Feedback",
        description="\n".join(summary),
        fields=fields,
        colour=_score_colour(grade.score),
        footer=f"graded by {grader} · attempt #{attempt.id}",
    )
    return pages, buttons


def reveal_message(question: Question, view: SessionView) -> tuple[Pages, discord.ui.View | None]:
    pages = paginate(
        "Model answer",
        description=question.reference_answer,
        fields=[("Key points", _bullets(question.key_points))],
        colour=BLURPLE,
        footer=f"{question.id} · counts as not answered",
    )
    session = view.session
    buttons = (
        feedback_buttons(session.id, session.item_index, can_retry=False)
        if session.id is not None and session.live
        else None
    )
    return pages, buttons


def report_pages(bank: QuestionBank, report: Report, session: InterviewSession) -> Pages:
    title = "Practice result" if session.mode.value == "practice" else "Interview report"
    headline = f"**Overall: {report.overall:.1f} / 10** · answered {report.answered}, skipped {report.skipped}"
    lines = [", ".join([headline, *unscored_notes(report)])]
    if report.trend is not None and report.previous_average is not None:
        arrow = "📈" if report.trend > 0 else "📉" if report.trend < 0 else "\N{HEAVY MINUS SIGN}"
        lines.append(f"{arrow} {report.trend:+.1f} against your earlier average ({report.previous_average:.1f})")
    fields: list[tuple[str, str]] = []
    if report.questions:
        fields.append(
            (
                "Questions",
                "\n".join(
                    f"{_question_score(q)} · {trim(q.question, 120)} ({q.outcome.value})" for q in report.questions
                ),
            )
        )
    if report.topics:
        fields.append(
            (
                "By topic",
                "\n".join(f"{topic_title(bank, t.topic)}: {t.average:.1f} ({t.questions})" for t in report.topics),
            )
        )
    if report.strongest_points:
        fields.append(("Strongest points", _bullets(report.strongest_points)))
    if report.weakest_points:
        fields.append(("Weakest points", _bullets(report.weakest_points)))
    if report.study_next:
        fields.append(("Study next", _bullets([f"{s.focus} (`{s.question_id}`)" for s in report.study_next])))
    return paginate(
        title, description="\n".join(lines), fields=fields, colour=BLURPLE, footer="See /progress and /review"
    )


def _question_score(score: QuestionScore) -> str:
    # A question whose answers the grader failed on has no score yet; "0.0" would read as a grade.
    return "**not graded**" if score.outcome == ItemOutcome.FAILED else f"**{score.score:.1f}**"


def share_embed(bank: QuestionBank, attempt: Attempt, display_name: str) -> discord.Embed:
    score = attempt.grade.score if attempt.grade else 0.0
    question = bank.questions.get(attempt.question_id)
    embed = discord.Embed(
        title=trim(f"{escape(display_name)} scored {score:.1f} / 10", 256),
        description=trim(question.question, 1000) if question else attempt.question_id,
        colour=_score_colour(score),
    )
    embed.set_footer(text=f"{topic_title(bank, attempt.topic)} · practise with /practice")
    return embed


def history_pages(bank: QuestionBank, attempts: Sequence[Attempt], topic: str | None) -> Pages:
    if not attempts:
        return paginate("Your history", description="No answers yet. Try /practice or /interview start.")
    lines = []
    for attempt in attempts:
        question = bank.questions.get(attempt.question_id)
        text = trim(question.question, 90) if question else attempt.question_id
        score = f"**{attempt.grade.score:.1f}**" if attempt.grade else attempt.status.value
        lines.append(f"`{attempt.created_at:%Y-%m-%d}` {score} · {text}")
    title = f"Your history · {topic_title(bank, topic)}" if topic else "Your history"
    return paginate(title, description="\n".join(lines), colour=BLURPLE, footer="newest first")
