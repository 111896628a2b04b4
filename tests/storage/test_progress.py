"""Topic stats, leaderboard points and periods, streaks across timezones, and review schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import GradeResult, LeaderboardPeriod
from bot.storage.accounts import SqlAccountRepository
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.progress import SqlProgressRepository, period_start, streak_from_days, zone
from tests.storage._storage_helpers import FixedClock, submission


async def _answer(
    repo: SqlAttemptRepository,
    clock: FixedClock,
    user: int,
    question: str,
    score: float | None,
    *,
    at: datetime,
    guild: int | None = 77,
    topic: str = "rag",
) -> None:
    clock.current = at
    attempt = await repo.submit_answer(submission(user, 0, question_id=question, guild_id=guild, topic=topic))
    if score is not None:
        await repo.save_grade(attempt.id, GradeResult(score=score, grader="fake"))


NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


async def test_topic_stats_count_average_best_and_last(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    await _answer(repo, clock, 1, "rag.a", 4, at=NOW)
    await _answer(repo, clock, 1, "rag.b", 8, at=NOW + timedelta(hours=1))
    await _answer(repo, clock, 1, "rag.c", None, at=NOW + timedelta(hours=2))  # still pending
    await _answer(repo, clock, 1, "gans.a", 10, at=NOW, topic="gans")
    await _answer(repo, clock, 2, "rag.a", 1, at=NOW)
    stats = {s.topic: s for s in await progress.topic_stats(1)}
    assert set(stats) == {"gans", "rag"}
    rag = stats["rag"]
    assert (rag.attempts, rag.graded, rag.average, rag.best) == (3, 2, 6.0, 8.0)
    assert rag.last_at == NOW + timedelta(hours=2)


async def test_leaderboard_counts_the_best_score_per_question_once(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    for _ in range(20):  # spam: one question, twenty times
        await _answer(repo, clock, 1, "rag.a", 5, at=NOW)
    await _answer(repo, clock, 1, "rag.a", 7, at=NOW)
    await _answer(repo, clock, 2, "rag.a", 6, at=NOW)
    await _answer(repo, clock, 2, "rag.b", 3, at=NOW)
    await _answer(repo, clock, 3, "rag.a", 9, at=NOW)  # 1 + 9 = 10, below user 2: (1 + 6) + (1 + 3) = 11
    await _answer(repo, clock, 4, "rag.a", 10, at=NOW, guild=78)  # another guild
    await _answer(repo, clock, 5, "rag.a", None, at=NOW)  # ungraded answers earn nothing yet
    board = await progress.leaderboard(77, LeaderboardPeriod.ALL, now=NOW)
    assert [(e.user_id, e.points, e.questions, e.rank) for e in board] == [
        (2, 11.0, 2, 1),
        (3, 10.0, 1, 2),
        (1, 8.0, 1, 3),
    ]
    assert board[0].average_best == 4.5


async def test_leaderboard_equal_points_share_a_rank(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    await _answer(repo, clock, 1, "rag.a", 5, at=NOW)
    await _answer(repo, clock, 2, "rag.b", 5, at=NOW)
    await _answer(repo, clock, 3, "rag.c", 2, at=NOW)
    board = await progress.leaderboard(77, LeaderboardPeriod.ALL, now=NOW)
    assert [(e.user_id, e.rank) for e in board] == [(1, 1), (2, 1), (3, 3)]


async def test_weekly_and_monthly_boards_start_monday_and_the_first_in_the_guild_timezone(
    engine: AsyncEngine,
) -> None:
    clock = FixedClock()
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    # Monday 2 March 00:30 in Tokyo is Sunday 1 March 15:30 UTC.
    await _answer(repo, clock, 1, "rag.a", 5, at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    await _answer(repo, clock, 2, "rag.a", 5, at=datetime(2026, 2, 28, 12, 0, tzinfo=UTC))  # February
    await _answer(repo, clock, 3, "rag.a", 5, at=NOW)
    utc_week = await progress.leaderboard(77, LeaderboardPeriod.WEEK, now=NOW)
    assert {e.user_id for e in utc_week} == {3}  # Sunday 15:30 UTC is last week in UTC
    await SqlAccountRepository(engine, clock).update_guild_settings(77, {"timezone": "Asia/Tokyo"})
    tokyo_week = await progress.leaderboard(77, LeaderboardPeriod.WEEK, now=NOW)
    assert {e.user_id for e in tokyo_week} == {1, 3}
    month = await progress.leaderboard(77, LeaderboardPeriod.MONTH, now=NOW, timezone="UTC")
    assert {e.user_id for e in month} == {1, 3}
    everything = await progress.leaderboard(77, LeaderboardPeriod.ALL, now=NOW)
    assert {e.user_id for e in everything} == {1, 2, 3}


def test_period_start_handles_dst_and_month_boundaries() -> None:
    ny = zone("America/New_York")
    # Sunday 8 March 2026 is the US DST change; the week began Monday 2 March 00:00 EST = 05:00 UTC.
    assert period_start(LeaderboardPeriod.WEEK, datetime(2026, 3, 9, 3, 0, tzinfo=UTC), ny) == datetime(
        2026, 3, 2, 5, 0, tzinfo=UTC
    )
    assert period_start(LeaderboardPeriod.MONTH, datetime(2026, 4, 1, 3, 0, tzinfo=UTC), ny) == datetime(
        2026, 3, 1, 5, 0, tzinfo=UTC
    )
    assert period_start(LeaderboardPeriod.ALL, NOW, ny) is None
    assert zone("Not/AZone").key == "UTC"


@pytest.mark.parametrize(
    ("days", "today", "current", "longest"),
    [
        ([], date(2026, 3, 4), 0, 0),
        ([date(2026, 3, 4)], date(2026, 3, 4), 1, 1),
        ([date(2026, 3, 2), date(2026, 3, 3)], date(2026, 3, 4), 2, 2),  # alive until today ends
        ([date(2026, 3, 1), date(2026, 3, 2)], date(2026, 3, 4), 0, 2),  # broken yesterday
        (
            [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 3), date(2026, 3, 4)],
            date(2026, 3, 4),
            2,
            3,
        ),
    ],
    ids=["none", "today", "through-yesterday", "broken", "longest-in-the-past"],
)
def test_streak_arithmetic(days: list[date], today: date, current: int, longest: int) -> None:
    streak = streak_from_days(set(days), today, "UTC")
    assert (streak.current, streak.longest) == (current, longest)


async def test_streak_counts_days_in_the_users_timezone(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, progress = SqlAttemptRepository(engine, clock), SqlProgressRepository(engine, clock)
    # 23:30 UTC on 2 and 3 March: one day apart in UTC; in Berlin (UTC+1) both are the next day.
    for stamp in [
        datetime(2026, 3, 2, 23, 30, tzinfo=UTC),
        datetime(2026, 3, 3, 23, 30, tzinfo=UTC),
        datetime(2026, 3, 4, 0, 15, tzinfo=UTC),
    ]:
        await _answer(repo, clock, 1, "rag.a", 5, at=stamp)
    now = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    utc = await progress.streak(1, now=now)
    assert (utc.current, utc.longest, utc.practised_today, utc.timezone) == (3, 3, True, "UTC")
    await SqlAccountRepository(engine, clock).set_timezone(1, "Europe/Berlin")
    berlin = await progress.streak(1, now=now)
    assert (berlin.current, berlin.longest, berlin.last_day) == (2, 2, date(2026, 3, 4))
    await SqlAccountRepository(engine, clock).set_timezone(1, "America/Los_Angeles")  # UTC-8
    la = await progress.streak(1, now=now)
    assert (la.current, la.last_day, la.practised_today) == (2, date(2026, 3, 3), False)  # alive until today ends


async def test_due_reviews_and_upsert_of_a_schedule(engine: AsyncEngine) -> None:
    clock = FixedClock(NOW)
    progress = SqlProgressRepository(engine, clock)
    await progress.upsert_review(1, "rag.a", {"state": 1}, NOW - timedelta(days=1), 4.0)
    await progress.upsert_review(1, "rag.b", {"state": 1}, NOW + timedelta(days=1))
    await progress.upsert_review(2, "rag.a", {"state": 1}, NOW - timedelta(days=1))
    due = await progress.due_reviews(1)
    assert [(d.question_id, d.last_score) for d in due] == [("rag.a", 4.0)]
    await progress.upsert_review(1, "rag.a", {"state": 2, "stability": 3.5}, NOW + timedelta(days=3), 9.0)
    assert await progress.due_reviews(1) == []
    later = await progress.due_reviews(1, now=NOW + timedelta(days=5))
    assert [(d.question_id, d.card, d.last_score) for d in later] == [
        ("rag.b", {"state": 1}, None),
        ("rag.a", {"state": 2, "stability": 3.5}, 9.0),
    ]
    assert await progress.remove_review(1, "rag.b") is True
    assert await progress.remove_review(1, "rag.b") is False
