"""Attempts and their grading jobs: an answer is stored (with its job) before anything grades it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.errors import InterviewError
from bot.core.models import AnswerSubmission, Attempt, AttemptStatus, GradeResult
from bot.core.ports import Clock, SystemClock
from bot.storage.tables import attempts, grading_jobs, users


class AttemptNotFoundError(InterviewError):
    pass


async def ensure_user(connection: AsyncConnection, user_id: int, now: datetime) -> None:
    """Create the user row if missing (idempotent on both engines)."""
    values = {"id": user_id, "settings": {}, "created_at": now}
    dialect = connection.dialect.name
    if dialect == "postgresql":
        await connection.execute(pg_insert(users).values(values).on_conflict_do_nothing(index_elements=["id"]))
    elif dialect == "sqlite":
        await connection.execute(sqlite_insert(users).values(values).on_conflict_do_nothing(index_elements=["id"]))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        exists = await connection.scalar(select(users.c.id).where(users.c.id == user_id))
        if exists is None:
            await connection.execute(insert(users).values(values))


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
    )


class SqlAttemptRepository:
    """`AttemptRepository` over SQLAlchemy Core; the same code for SQLite and PostgreSQL."""

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    async def submit_answer(self, submission: AnswerSubmission) -> Attempt:
        now = self.clock.now()
        async with self.engine.begin() as connection:
            await ensure_user(connection, submission.user_id, now)
            attempt_id = await connection.scalar(
                insert(attempts)
                .values(
                    user_id=submission.user_id,
                    session_id=submission.session_id,
                    guild_id=submission.guild_id,
                    question_id=submission.question_id,
                    topic=submission.topic,
                    answer=submission.answer,
                    status=AttemptStatus.PENDING.value,
                    hints_used=submission.hints_used,
                    delivery=submission.delivery,
                    delivery_status="none",
                    created_at=now,
                )
                .returning(attempts.c.id)
            )
            await connection.execute(
                insert(grading_jobs).values(
                    attempt_id=attempt_id, status="queued", available_at=now, created_at=now, updated_at=now
                )
            )
        return await self.get_attempt(int(attempt_id))  # RETURNING always yields the id

    async def save_grade(self, attempt_id: int, grade: GradeResult) -> Attempt:
        now = self.clock.now()
        async with self.engine.begin() as connection:
            await connection.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id)
                .values(
                    status=AttemptStatus.GRADED.value,
                    score=grade.score,
                    grade=grade.model_dump(mode="json"),
                    grader=grade.grader,
                    model=grade.model,
                    prompt_version=grade.prompt_version,
                    prompt_tokens=grade.usage.prompt_tokens,
                    completion_tokens=grade.usage.completion_tokens,
                    cached_tokens=grade.usage.cached_tokens,
                    cost_usd=grade.usage.cost_usd,
                    latency_ms=grade.latency_ms,
                    error=None,
                    graded_at=now,
                )
            )
            await connection.execute(
                update(grading_jobs)
                .where(grading_jobs.c.attempt_id == attempt_id)
                .values(status="done", lease_owner=None, lease_expires_at=None, updated_at=now)
            )
        return await self.get_attempt(attempt_id)

    async def mark_failed(self, attempt_id: int, error: str) -> None:
        now = self.clock.now()
        async with self.engine.begin() as connection:
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
