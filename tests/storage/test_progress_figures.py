"""Progress figures count an answer as the report does: follow-ups left out, hints cost points; due reviews can be
limited to the questions the caller serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import GradeResult, LeaderboardPeriod
from bot.core.session import SessionConfig
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.progress import SqlProgressRepository
from tests.storage._storage_helpers import FixedClock, submission
from tests.storage.test_prebuilt_statements import assert_reuses_statements

GUILD = 77
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


async def _answer(repo: SqlAttemptRepository, user: int, question: str, score: float, **extra: object) -> None:
    attempt = await repo.submit_answer(submission(user, question_id=question, guild_id=GUILD, **extra))
    await repo.save_grade(attempt.id, GradeResult(score=score, grader="fake"))


def _board(entries: list) -> list[tuple[int, float]]:
    return [(entry.user_id, entry.points) for entry in entries]


async def test_a_follow_up_is_not_the_best_answer_to_its_question(engine: AsyncEngine) -> None:
    """A follow-up shares its main question's id but is graded against a narrower prompt: a 3/10 answer with a
    9/10 follow-up counts 3, below an 8/10 answer with none."""
    clock = FixedClock(NOW)
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    await _answer(repo, 1, "rag.a", 3.0)
    await _answer(repo, 1, "rag.a", 9.0, kind="follow_up")
    await _answer(repo, 1, "rag.b", 6.0, kind="retry")  # a retry is another try at the question itself
    await _answer(repo, 2, "rag.a", 8.0)
    board = await progress.leaderboard(GUILD, LeaderboardPeriod.ALL, now=NOW)
    assert _board(board) == [(1, 11.0), (2, 9.0)]  # (1 + 3) + (1 + 6), then 1 + 8
    assert (board[0].questions, board[0].average_best) == (2, 4.5)


async def test_hints_cost_points_on_the_board_as_in_the_report(engine: AsyncEngine) -> None:
    """Two hints on a raw 9 count 7, below 8.5 unaided; hints never take an answer below 0."""
    assert SessionConfig().hint_penalty == 1.0  # the report's default
    clock = FixedClock(NOW)
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    await _answer(repo, 1, "rag.a", 9.0, hints_used=2)
    await _answer(repo, 2, "rag.a", 8.5)
    await _answer(repo, 3, "rag.a", 1.0, hints_used=3)
    expected = [(2, 9.5), (1, 8.0), (3, 1.0)]
    assert _board(await progress.leaderboard(GUILD, LeaderboardPeriod.ALL, now=NOW)) == expected
    assert _board(await progress.leaderboard(GUILD, LeaderboardPeriod.WEEK, now=NOW, timezone="UTC")) == expected


async def test_each_board_reuses_its_prebuilt_statement(engine: AsyncEngine) -> None:
    progress = SqlProgressRepository(engine, FixedClock(NOW))

    async def boards(n: int) -> None:
        await progress.leaderboard(GUILD + n, LeaderboardPeriod.ALL, now=NOW, limit=5 + n)
        await progress.leaderboard(GUILD + n, LeaderboardPeriod.MONTH, now=NOW, timezone="UTC")

    await assert_reuses_statements(engine, boards)


async def test_topic_stats_leave_follow_ups_out(engine: AsyncEngine) -> None:
    clock = FixedClock(NOW)
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    await _answer(repo, 1, "rag.a", 2.0)
    await _answer(repo, 1, "rag.a", 10.0, kind="follow_up")
    await _answer(repo, 1, "rag.b", 4.0)
    [rag] = await progress.topic_stats(1)
    assert (rag.attempts, rag.graded, rag.average, rag.best) == (2, 2, 3.0, 4.0)


async def test_due_reviews_of_the_served_questions_only(engine: AsyncEngine) -> None:
    """Cards of questions the caller doesn't serve, due first, neither fill the limit nor come back."""
    clock = FixedClock(NOW)
    progress = SqlProgressRepository(engine, clock)
    for minutes, question in enumerate(["g9-team.a", "g9-team.b", "rag.a", "rag.b"]):
        await progress.upsert_review(1, question, {}, NOW - timedelta(days=1) + timedelta(minutes=minutes))
    await progress.upsert_review(1, "rag.c", {}, NOW + timedelta(days=1))  # not due yet
    due = await progress.due_reviews(1, now=NOW, limit=2, question_ids=["rag.a", "rag.b", "rag.c", "gans.a"])
    assert [review.question_id for review in due] == ["rag.a", "rag.b"]
    assert await progress.due_reviews(1, now=NOW, question_ids=[]) == []
    assert len(await progress.due_reviews(1, now=NOW)) == 4
