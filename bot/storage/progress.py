"""Progress views: per-topic stats, guild leaderboards, streaks, and the spaced-repetition review schedule."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Float, Select, bindparam, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.models import (
    AttemptStatus,
    DueReview,
    LeaderboardEntry,
    LeaderboardPeriod,
    Streak,
    TopicStats,
)
from bot.core.ports import Clock, ReviewChange, SystemClock
from bot.core.session import ItemKind, SessionConfig
from bot.storage.attempts import ensure_user
from bot.storage.engine import named_dialect_insert, write_transaction
from bot.storage.tables import attempts, guilds, review_schedules, users

ANSWER_POINTS = 1.0  # per distinct question answered in the period, on top of the best score (0-10) on it
# The board counts an answer as the report does: hints cost points. Study and daily answers take no hints.
BOARD_HINT_PENALTY = SessionConfig().hint_penalty
# A follow-up shares its main question's id but is graded against a narrower prompt: it is not an answer to the
# question, so it counts neither for the question's best score nor for the topic's figures.
_NOT_FOLLOW_UP = attempts.c.kind != ItemKind.FOLLOW_UP.value


def zone(name: str | None) -> ZoneInfo:
    """The named IANA zone, or UTC for a missing or unknown name (never fails a leaderboard or a streak)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def period_start(period: LeaderboardPeriod, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Start of the current week (Monday 00:00) or month (the 1st, 00:00) in `tz`, as an aware UTC time."""
    if period is LeaderboardPeriod.ALL:
        return None
    local = now.astimezone(tz)
    if period is LeaderboardPeriod.WEEK:
        day = local.date() - timedelta(days=local.weekday())
    else:
        day = local.date().replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def streak_from_days(days: set[date], today: date, timezone: str) -> Streak:
    """Current and longest runs of consecutive days; the current run survives until today ends."""
    if not days:
        return Streak(current=0, longest=0, last_day=None, practised_today=False, timezone=timezone)
    ordered = sorted(days)
    longest = run = 1
    for previous, day in itertools.pairwise(ordered):
        run = run + 1 if day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
    last = ordered[-1]
    current = 0
    if today - last <= timedelta(days=1) and last <= today:
        current = 1
        day = last - timedelta(days=1)
        while day in days:
            current += 1
            day -= timedelta(days=1)
    return Streak(current=current, longest=longest, last_day=last, practised_today=last == today, timezone=timezone)


# The per-answer review statements are built once: a statement object keeps its SQLAlchemy cache key, so running
# it again skips re-coercing and re-keying it (issue 8); each execution passes only its parameters.
_REVIEW_CARD_FOR_UPDATE = (
    select(review_schedules.c.card)
    .where(
        review_schedules.c.user_id == bindparam("review_user_id"),
        review_schedules.c.question_id == bindparam("review_question_id"),
    )
    .with_for_update()
)
_REVIEW_CHANGES = ("card", "due_at", "last_score", "updated_at")


@cache
def _review_upsert(dialect: str) -> Any:  # noqa: ANN401 - a dialect Insert
    """INSERT a (user, question) card, or on conflict set its `_REVIEW_CHANGES` to the new row's values."""
    insert = named_dialect_insert(dialect, review_schedules)
    return insert.on_conflict_do_update(
        index_elements=["user_id", "question_id"], set_={key: insert.excluded[key] for key in _REVIEW_CHANGES}
    )


# A graded answer's review claims the answer first: it applies once, and never to an answer deleted meanwhile.
_CLAIM_ATTEMPT_REVIEW = (
    update(attempts)
    .where(attempts.c.id == bindparam("review_attempt_id"), attempts.c.reviewed_at.is_(None))
    .values(reviewed_at=bindparam("reviewed_at"))
)


async def reschedule_review(connection: AsyncConnection, change: ReviewChange, now: datetime) -> bool:
    """Apply `change` on `connection` (the caller's write transaction; the user must exist): the stored card is
    read, locked on PostgreSQL so two reviews of one card apply one after the other, rescheduled and stored.

    A change driven by a graded answer applies only if that answer's review was not applied yet (a redelivery, a
    grade recorded twice) and the answer still exists (its user forgot their data): returns whether it applied."""
    if change.attempt_id is not None:
        claim = {"review_attempt_id": change.attempt_id, "reviewed_at": now}
        if (await connection.execute(_CLAIM_ATTEMPT_REVIEW, claim)).rowcount != 1:
            return False
    card = await connection.scalar(
        _REVIEW_CARD_FOR_UPDATE, {"review_user_id": change.user_id, "review_question_id": change.question_id}
    )
    updated, due_at = change.reschedule(card if isinstance(card, dict) else None)
    await _upsert_review(connection, change.user_id, change.question_id, updated, due_at, change.score, now)
    return True


async def _upsert_review(
    connection: AsyncConnection,
    user_id: int,
    question_id: str,
    card: dict[str, object],
    due_at: datetime,
    last_score: float | None,
    now: datetime,
) -> None:
    values = {
        "user_id": user_id,
        "question_id": question_id,
        "card": card,
        "due_at": due_at,
        "last_score": last_score,
        "updated_at": now,
    }
    await connection.execute(_review_upsert(connection.dialect.name), values)


def _leaderboard_statement(*, windowed: bool) -> Select[Any]:
    """Per user: points, questions and average best, ranked; built once per shape (see the review statements).

    Parameters: board_guild_id, hint_penalty, board_limit, and for a window board_since and board_until."""
    counted = attempts.c.score - bindparam("hint_penalty", type_=Float) * attempts.c.hints_used
    best = (
        select(
            attempts.c.user_id,
            attempts.c.question_id,
            func.max(case((counted < 0, 0.0), else_=counted)).label("best"),
        )
        .where(
            attempts.c.guild_id == bindparam("board_guild_id"),
            attempts.c.status == AttemptStatus.GRADED.value,
            _NOT_FOLLOW_UP,
        )
        .group_by(attempts.c.user_id, attempts.c.question_id)
    )
    if windowed:
        best = best.where(
            attempts.c.created_at >= bindparam("board_since"), attempts.c.created_at <= bindparam("board_until")
        )
    per_question = best.subquery()
    points = (func.count() * ANSWER_POINTS + func.sum(per_question.c.best)).label("points")
    return (
        select(
            per_question.c.user_id,
            points,
            func.count().label("questions"),
            func.avg(per_question.c.best).label("average_best"),
        )
        .group_by(per_question.c.user_id)
        .order_by(points.desc(), func.count().desc(), per_question.c.user_id)
        .limit(bindparam("board_limit"))
    )


_LEADERBOARD_ALL_TIME = _leaderboard_statement(windowed=False)
_LEADERBOARD_WINDOW = _leaderboard_statement(windowed=True)


class SqlProgressRepository:
    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    async def topic_stats(self, user_id: int) -> list[TopicStats]:
        """Per topic: answers submitted, graded, average and best score (0-10), and the latest answer (follow-ups
        left out: they are graded against a narrower prompt than the topic's questions)."""
        graded = func.sum(case((attempts.c.status == AttemptStatus.GRADED.value, 1), else_=0))
        query = (
            select(
                attempts.c.topic,
                func.count().label("n"),
                graded.label("graded"),
                func.avg(attempts.c.score).label("average"),
                func.max(attempts.c.score).label("best"),
                func.max(attempts.c.created_at).label("last_at"),
            )
            .where(attempts.c.user_id == user_id, _NOT_FOLLOW_UP)
            .group_by(attempts.c.topic)
            .order_by(attempts.c.topic)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            TopicStats(
                topic=row.topic,
                attempts=int(row.n),
                graded=int(row.graded or 0),
                average=float(row.average) if row.average is not None else None,
                best=float(row.best) if row.best is not None else None,
                last_at=row.last_at,
            )
            for row in rows
        ]

    async def leaderboard(
        self,
        guild_id: int,
        period: LeaderboardPeriod = LeaderboardPeriod.WEEK,
        *,
        limit: int = 10,
        now: datetime | None = None,
        timezone: str | None = None,
    ) -> list[LeaderboardEntry]:
        """Ranked by points: per distinct question, `ANSWER_POINTS` + the best score in the period, counted as the
        report counts it (`BOARD_HINT_PENALTY` off per hint, never below 0; follow-ups left out).

        The week and month start in `timezone`, else the guild's `settings["timezone"]`, else UTC.
        Equal points share a rank (1, 1, 3); ties list more questions first, then lower user id.
        """
        now = now or self.clock.now()
        if timezone is None and period is not LeaderboardPeriod.ALL:
            timezone = await self._guild_timezone(guild_id)
        start = period_start(period, now, zone(timezone))
        parameters: dict[str, object] = {
            "board_guild_id": guild_id,
            "hint_penalty": BOARD_HINT_PENALTY,
            "board_limit": limit,
        }
        query = _LEADERBOARD_ALL_TIME
        if start is not None:
            parameters.update(board_since=start, board_until=now)
            query = _LEADERBOARD_WINDOW
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query, parameters)).all()
        entries: list[LeaderboardEntry] = []
        for position, row in enumerate(rows, start=1):
            value = round(float(row.points), 2)
            rank = entries[-1].rank if entries and entries[-1].points == value else position
            entries.append(
                LeaderboardEntry(
                    rank=rank,
                    user_id=row.user_id,
                    points=value,
                    questions=int(row.questions),
                    average_best=round(float(row.average_best), 2),
                )
            )
        return entries

    async def streak(self, user_id: int, *, now: datetime | None = None) -> Streak:
        """Consecutive days with an answer, counted in the user's own timezone (`users.timezone`)."""
        now = now or self.clock.now()
        async with self.engine.connect() as connection:
            timezone = await connection.scalar(select(users.c.timezone).where(users.c.id == user_id)) or "UTC"
            stamps = (
                await connection.execute(select(attempts.c.created_at).where(attempts.c.user_id == user_id))
            ).scalars()
            tz = zone(timezone)
            days = {stamp.astimezone(tz).date() for stamp in stamps}
        return streak_from_days(days, now.astimezone(tz).date(), tz.key)

    async def _guild_timezone(self, guild_id: int) -> str | None:
        async with self.engine.connect() as connection:
            settings: Any = await connection.scalar(select(guilds.c.settings).where(guilds.c.id == guild_id))
        value = settings.get("timezone") if isinstance(settings, dict) else None
        return value if isinstance(value, str) else None

    # --- spaced repetition

    async def due_reviews(
        self,
        user_id: int,
        *,
        now: datetime | None = None,
        limit: int = 20,
        question_ids: Collection[str] | None = None,
    ) -> list[DueReview]:
        """The user's cards due by `now`, oldest first; with `question_ids`, only theirs (the questions the caller
        can serve: the limit then counts only cards it can use, so others due before them never crowd them out)."""
        now = now or self.clock.now()
        query = (
            select(review_schedules)
            .where(review_schedules.c.user_id == user_id, review_schedules.c.due_at <= now)
            .order_by(review_schedules.c.due_at, review_schedules.c.question_id)
            .limit(limit)
        )
        if question_ids is not None:
            query = query.where(review_schedules.c.question_id.in_(question_ids))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            DueReview(
                user_id=row.user_id,
                question_id=row.question_id,
                card=row.card,
                due_at=row.due_at,
                last_score=row.last_score,
            )
            for row in rows
        ]

    async def get_review(self, user_id: int, question_id: str) -> DueReview | None:
        """The schedule of one (user, question) card, due or not."""
        query = select(review_schedules).where(
            review_schedules.c.user_id == user_id, review_schedules.c.question_id == question_id
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return DueReview(
            user_id=row.user_id,
            question_id=row.question_id,
            card=row.card,
            due_at=row.due_at,
            last_score=row.last_score,
        )

    async def upsert_review(
        self,
        user_id: int,
        question_id: str,
        card: dict[str, object],
        due_at: datetime,
        last_score: float | None = None,
    ) -> None:
        """Create or replace the schedule of one (user, question) card."""
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            await ensure_user(connection, user_id, now)
            await _upsert_review(connection, user_id, question_id, card, due_at, last_score, now)

    async def reschedule_review(self, change: ReviewChange) -> None:
        """Read the card and store `change.reschedule(card)` in one write transaction (see `reschedule_review`)."""
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            if change.attempt_id is None:  # else the answer's row holds its user, or the user is gone
                await ensure_user(connection, change.user_id, now)
            await reschedule_review(connection, change, now)

    async def remove_review(self, user_id: int, question_id: str) -> bool:
        async with write_transaction(self.engine) as connection:
            result = await connection.execute(
                delete(review_schedules)
                .where(review_schedules.c.user_id == user_id, review_schedules.c.question_id == question_id)
                .returning(review_schedules.c.user_id)
            )
            return result.first() is not None
