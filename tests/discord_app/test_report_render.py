"""The Discord report says what the terminal's does: answers the grader failed on are "not graded" (no 0.0 beside
them), and answers still being graded when the interview ended are counted as such."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.report import QuestionScore, Report
from bot.core.session import InterviewSession, ItemOutcome, Mode, SessionState
from bot.discord_app.exts.interview._render import report_pages


def test_a_report_names_ungraded_and_still_grading_answers_and_gives_no_score_to_ungraded(builtin_bank) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    session = InterviewSession(
        user_id=1,
        mode=Mode.INTERVIEW,
        state=SessionState.FINISHED,
        plan=["gans.mode-collapse"],
        created_at=now,
        last_activity_at=now,
    )
    question = builtin_bank.questions["gans.mode-collapse"]
    failed = QuestionScore(
        question_id=question.id,
        topic=question.topic,
        question=question.question,
        score=0.0,
        outcome=ItemOutcome.FAILED,
    )
    report = Report(
        session_id=1,
        overall=0.0,
        answered=0,
        skipped=0,
        not_graded=1,
        still_grading=1,
        questions=[failed],
        topics=[],
        strongest_points=[],
        weakest_points=[],
        study_next=[],
        previous_average=None,
        trend=None,
    )
    [page] = report_pages(builtin_bank, report, session)
    description = page[0].description or ""
    assert "1 not graded (grading failed; not counted)" in description
    assert "1 still being graded (counted once graded)" in description
    questions = next(f.value for f in page[0].fields if f.name == "Questions")
    assert questions.startswith("**not graded** · ") and "0.0" not in questions
