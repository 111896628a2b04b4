"""Attempts and their grading jobs: an answer is stored (with its job) before anything grades it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.errors import InterviewError
from bot.core.models import AnswerSubmission, Attempt, AttemptStatus, GradeResult, HistoryPage
from bot.core.ports import Clock, SystemClock
from bot.storage.engine import dialect_insert, write_transaction
from bot.storage.tables import attempts, grading_jobs, guilds, users
from bot.storage.wakeups import notify_jobs_queued


@dataclass(frozen=True)
class QuotaReading:
    """What a daily LLM-cap check reads first (`quota_reading`); a part not asked for stays None."""

    user_today: int | None = None
    guild_settings: dict[str, Any] | None = None


# The per-answer statements are built once: a statement object keeps its SQLAlchemy cache key, so running it again
# skips re-coercing and re-keying it (issue 8); each execution passes only its parameters.
_INSERT_ATTEMPT = insert(attempts).returning(attempts.c.id)
_INSERT_ATTEMPTS = insert(attempts).returning(attempts.c.id, sort_by_parameter_order=True)
_INSERT_GRADING_JOBS = insert(grading_jobs)


class AttemptNotFoundError(InterviewError):
    pass


class InvalidCursorError(InterviewError):
    pass


async def ensure_user(connection: AsyncConnection, user_id: int, now: datetime) -> None:
    """Create the user row if missing (idempotent on both engines)."""
    await ensure_users(connection, [user_id], now)


async def ensure_users(connection: AsyncConnection, user_ids: Sequence[int], now: datetime) -> None:
    """Create every missing user row in one statement (idempotent on both engines)."""
    values = [{"id": user_id, "settings": {}, "created_at": now} for user_id in sorted(set(user_ids))]
    if not values:
        return
    await connection.execute(
        dialect_insert(connection, users).values(values).on_conflict_do_nothing(index_elements=["id"])
    )


def attempt_from_row(row: Row[Any]) -> Attempt:
    grade = GradeResult.model_validate(row.grade) if row.grade else None
    return Attempt(
        id=row.id,
        user_id=row.user_id,
        question_id=row.question_id,
        topic=row.topic,
        answer=row.answer,
        status=AttemptStatus(row.status),
        created_at=row.created_at,
        session_id=row.session_id,
        guild_id=row.guild_id,
        grade=grade,
        graded_at=row.graded_at,
        error=row.error,
        hints_used=row.hints_used,
        kind=row.kind,
    )


def grade_values(grade: GradeResult, now: datetime) -> dict[str, Any]:
    """The attempt columns a grade sets (the one place that maps a `GradeResult` onto the row)."""
    return {
        "status": AttemptStatus.GRADED.value,
        "score": grade.score,
        "grade": grade.model_dump(mode="json"),
        "grader": grade.grader,
        "model": grade.model,
        "prompt_version": grade.prompt_version,
        "prompt_tokens": grade.usage.prompt_tokens,
        "completion_tokens": grade.usage.completion_tokens,
        "cached_tokens": grade.usage.cached_tokens,
        "cost_usd": grade.usage.cost_usd,
        "latency_ms": grade.latency_ms,
        "error": None,
        "graded_at": now,
    }


def _attempt_values(submission: AnswerSubmission, now: datetime) -> dict[str, Any]:
    return {
        "user_id": submission.user_id,
        "session_id": submission.session_id,
        "guild_id": submission.guild_id,
        "question_id": submission.question_id,
        "topic": submission.topic,
        "answer": submission.answer,
        "status": AttemptStatus.PENDING.value,
        "hints_used": submission.hints_used,
        "kind": submission.kind,
        # SQL NULL (not JSON null) when there is nowhere to deliver, so `delivery IS NULL` means "no target".
        "delivery": submission.delivery,
        "delivery_status": "none",
        "created_at": now,
    }


def _new_attempt(attempt_id: int, submission: AnswerSubmission, now: datetime) -> Attempt:
    return Attempt(
        id=attempt_id,
        user_id=submission.user_id,
        question_id=submission.question_id,
        topic=submission.topic,
        answer=submission.answer,
        status=AttemptStatus.PENDING,
        created_at=now,
        session_id=submission.session_id,
        guild_id=submission.guild_id,
        hints_used=submission.hints_used,
        kind=submission.kind,
    )


def encode_cursor(created_at: datetime, attempt_id: int) -> str:
    raw = f"{created_at.isoformat()}|{attempt_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, attempt_id = raw.rsplit("|", 1)
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return created_at, int(attempt_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidCursorError(f"not a history cursor: {cursor!r}") from error


async def insert_answers(
    connection: AsyncConnection, submissions: Sequence[AnswerSubmission], now: datetime
) -> list[Attempt]:
    """Insert the attempts and their queued grading jobs on `connection` (the caller's transaction; their users
    must exist); on PostgreSQL the workers of every process are woken when it commits."""
    if len(submissions) == 1:
        ids = [await connection.scalar(_INSERT_ATTEMPT, _attempt_values(submissions[0], now))]
    else:
        result = await connection.execute(_INSERT_ATTEMPTS, [_attempt_values(s, now) for s in submissions])
        ids = list(result.scalars())
    await connection.execute(
        _INSERT_GRADING_JOBS,
        [
            {"attempt_id": attempt_id, "status": "queued", "available_at": now, "created_at": now, "updated_at": now}
            for attempt_id in ids
        ],
    )
    await notify_jobs_queued(connection)
    return [_new_attempt(int(i), s, now) for i, s in zip(ids, submissions, strict=True)]


@cache
def _llm_count(*, by_user: bool, by_guild: bool) -> Select[Any]:
    """Answers since `:since` (by `:user_id`, in `:guild_id`) that the LLM grades or graded (see
    `count_for_llm_quota`); one statement per filter combination, built once."""
    query = select(func.count()).select_from(attempts).where(attempts.c.created_at >= bindparam("since"))
    if by_user:
        query = query.where(attempts.c.user_id == bindparam("user_id"))
    if by_guild:
        query = query.where(attempts.c.guild_id == bindparam("guild_id"))
    return query.where(or_(attempts.c.grader.is_(None), attempts.c.grader != "offline"))


@cache
def _quota_reading_query(*, count_user: bool, with_guild: bool) -> Select[Any]:
    """The `quota_reading` statement for the parts asked for (one per combination, built once)."""
    parts: list[Any] = []
    if count_user:
        parts.append(_llm_count(by_user=True, by_guild=False).scalar_subquery().label("user_today"))
    if with_guild:
        settings = select(guilds.c.settings).where(guilds.c.id == bindparam("guild_id"))
        parts.append(settings.scalar_subquery().label("guild_settings"))
    return select(*parts)


@cache
def _guild_llm_counts_query() -> Select[Any]:
    """(`:user_id`'s, everyone's) LLM answers in `:guild_id` since `:since`."""
    mine = func.coalesce(func.sum(case((attempts.c.user_id == bindparam("user_id"), 1), else_=0)), 0)
    return _llm_count(by_user=False, by_guild=True).with_only_columns(mine, func.count())


class SqlAttemptRepository:
    """`AttemptRepository` over SQLAlchemy Core; the same code for SQLite and PostgreSQL."""

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    async def submit_answer(self, submission: AnswerSubmission) -> Attempt:
        """Store the answer and enqueue its grading job in one transaction."""
        return (await self.submit_answers([submission]))[0]

    async def submit_answers(self, submissions: Sequence[AnswerSubmission]) -> list[Attempt]:
        """Store many answers and their jobs in one transaction (one commit for the batch)."""
        if not submissions:
            return []
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            await ensure_users(connection, [s.user_id for s in submissions], now)
            return await insert_answers(connection, submissions, now)

    async def save_grade(self, attempt_id: int, grade: GradeResult) -> Attempt:
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            await connection.execute(
                update(attempts).where(attempts.c.id == attempt_id).values(grade_values(grade, now))
            )
            await connection.execute(
                update(grading_jobs)
                .where(grading_jobs.c.attempt_id == attempt_id)
                .values(status="done", lease_owner=None, lease_expires_at=None, updated_at=now)
            )
        return await self.get_attempt(attempt_id)

    async def mark_failed(self, attempt_id: int, error: str) -> None:
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            await connection.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id)
                .values(status=AttemptStatus.FAILED.value, error=error)
            )
            await connection.execute(
                update(grading_jobs)
                .where(grading_jobs.c.attempt_id == attempt_id)
                .values(status="failed", last_error=error, lease_owner=None, lease_expires_at=None, updated_at=now)
            )

    async def get_attempt(self, attempt_id: int) -> Attempt:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(attempts).where(attempts.c.id == attempt_id))).first()
        if row is None:
            raise AttemptNotFoundError(f"attempt {attempt_id} does not exist")
        return attempt_from_row(row)

    async def count_for_llm_quota(
        self, since: datetime, *, user_id: int | None = None, guild_id: int | None = None
    ) -> int:
        """Answers submitted at or after `since` by `user_id` and/or in `guild_id` that the LLM grades or graded:
        pending ones count (they are about to spend), ones the offline grader graded by choice don't."""
        query = _llm_count(by_user=user_id is not None, by_guild=guild_id is not None)
        parameters = {"since": since, "user_id": user_id, "guild_id": guild_id}
        async with self.engine.connect() as connection:
            return int((await connection.execute(query, parameters)).scalar_one())

    async def quota_reading(
        self, since: datetime, user_id: int, *, count_user: bool, guild_id: int | None = None
    ) -> QuotaReading:
        """In one statement: `user_id`'s LLM answers since `since` (when `count_user`) and the stored settings of
        `guild_id` (when given), which say whether the guild caps apply. Asked for nothing, it issues no query."""
        if not count_user and guild_id is None:
            return QuotaReading()
        query = _quota_reading_query(count_user=count_user, with_guild=guild_id is not None)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query, {"since": since, "user_id": user_id, "guild_id": guild_id})).one()
        values = row._asdict()
        settings = values.get("guild_settings")
        return QuotaReading(
            user_today=int(values["user_today"]) if count_user else None,
            guild_settings=None if guild_id is None else dict(settings) if isinstance(settings, dict) else {},
        )

    async def guild_llm_counts(self, since: datetime, guild_id: int, user_id: int) -> tuple[int, int]:
        """(`user_id`'s, everyone's) LLM answers in `guild_id` since `since`, counted in one statement."""
        parameters = {"since": since, "guild_id": guild_id, "user_id": user_id}
        async with self.engine.connect() as connection:
            member, everyone = (await connection.execute(_guild_llm_counts_query(), parameters)).one()
        return int(member), int(everyone)

    async def history(
        self, user_id: int, *, topic: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[Attempt]:
        query = select(attempts).where(attempts.c.user_id == user_id)
        if topic is not None:
            query = query.where(attempts.c.topic == topic)
        query = query.order_by(attempts.c.created_at.desc(), attempts.c.id.desc()).limit(limit).offset(offset)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [attempt_from_row(row) for row in rows]

    async def history_page(
        self, user_id: int, *, topic: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> HistoryPage:
        """A keyset page (newest first): cost depends on the page size, not on how deep the page is."""
        query = select(attempts).where(attempts.c.user_id == user_id)
        if topic is not None:
            query = query.where(attempts.c.topic == topic)
        if cursor is not None:
            created_at, attempt_id = decode_cursor(cursor)
            query = query.where(
                or_(
                    attempts.c.created_at < created_at,
                    and_(attempts.c.created_at == created_at, attempts.c.id < attempt_id),
                )
            )
        query = query.order_by(attempts.c.created_at.desc(), attempts.c.id.desc()).limit(limit + 1)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        page = [attempt_from_row(row) for row in rows[:limit]]
        next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit and page else None
        return HistoryPage(attempts=page, next_cursor=next_cursor)
