"""Interview sessions: one active session per user per context, enforced by a partial unique index.

Saves are optimistic: each one applies only if the row is still at the version the caller read, and bumps it, so
two actions decided on the same state can't both land (the second gets `StaleSessionError` and writes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.batching import GroupCommit
from bot.core.errors import SessionAlreadyActiveError, SessionNotFoundError
from bot.core.models import AnswerSubmission, Attempt, SessionRecord, Transport
from bot.core.ports import AnswerPlan, Clock, ReviewChange, SessionRevision, StaleSessionError, SystemClock
from bot.storage.attempts import ensure_user, insert_answers
from bot.storage.engine import not_a_database_outage, write_transaction
from bot.storage.progress import reschedule_review
from bot.storage.tables import interview_sessions

# The per-answer statements are built once: a statement object keeps its SQLAlchemy cache key, so running it again
# skips re-coercing and re-keying it (issue 8); each execution passes only its parameters.
_SESSION_BY_ID = select(interview_sessions).where(interview_sessions.c.id == bindparam("session_id"))
_SESSION_BY_ID_FOR_UPDATE = _SESSION_BY_ID.with_for_update()
# Ordered, so that batches in two processes lock the rows they share in the same order (PostgreSQL).
_SESSIONS_BY_IDS_FOR_UPDATE = (
    select(interview_sessions)
    .where(interview_sessions.c.id.in_(bindparam("session_ids", expanding=True)))
    .order_by(interview_sessions.c.id)
    .with_for_update()
)
SESSION_BATCH = 64  # answers, or session revisions, stored in one write transaction at most
_SESSION_VERSION = select(interview_sessions.c.version).where(interview_sessions.c.id == bindparam("session_id"))
# The SET columns are the parameters' column keys (`_mutable_values`); the version is bumped in SQL.
_SAVE_IF_AT_VERSION = (
    update(interview_sessions)
    .where(
        interview_sessions.c.id == bindparam("session_id"),
        interview_sessions.c.version == bindparam("read_version"),
    )
    .values(version=interview_sessions.c.version + 1)
)


def session_from_row(row: Row[Any]) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        context=row.context,
        transport=Transport(row.transport),
        mode=row.mode,
        state=row.state,
        active=row.active,
        snapshot=row.snapshot,
        guild_id=row.guild_id,
        channel_id=row.channel_id,
        thread_id=row.thread_id,
        message_id=row.message_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        version=row.version,
    )


def _mutable_values(record: SessionRecord, now: datetime) -> dict[str, Any]:
    return {
        "guild_id": record.guild_id,
        "context": record.context,
        "transport": record.transport.value,
        "channel_id": record.channel_id,
        "thread_id": record.thread_id,
        "message_id": record.message_id,
        "mode": record.mode,
        "state": record.state,
        "active": record.active,
        "snapshot": record.snapshot,
        "updated_at": now,
        "finished_at": record.finished_at,
    }


async def _update(connection: AsyncConnection, record: SessionRecord, now: datetime) -> SessionRecord:
    """Save `record` on `connection` if the row is still at `record.version`; returns the stored record."""
    if record.id is None:
        raise SessionNotFoundError(None)
    result = await connection.execute(
        _SAVE_IF_AT_VERSION,
        _mutable_values(record, now) | {"session_id": record.id, "read_version": record.version},
    )
    if result.rowcount != 1:
        found = await connection.scalar(_SESSION_VERSION, {"session_id": record.id})
        raise SessionNotFoundError(record.id) if found is None else StaleSessionError(record.id)
    return _as_stored(record, now)


def _as_stored(record: SessionRecord, now: datetime) -> SessionRecord:
    """`record` as a save at `now` leaves it in the table: its version bumped."""
    return record.model_copy(update={"updated_at": now, "version": record.version + 1})


async def _update_many(connection: AsyncConnection, records: Sequence[SessionRecord], now: datetime) -> None:
    """`_update` for sessions this transaction has locked (read with FOR UPDATE, or under SQLite's write lock), so
    none can have moved on since: one executemany."""
    result = await connection.execute(
        _SAVE_IF_AT_VERSION,
        [_mutable_values(r, now) | {"session_id": r.id, "read_version": r.version} for r in records],
    )
    if result.rowcount not in (-1, len(records)):  # -1: the driver doesn't count executemany
        raise StaleSessionError(None)


async def _locked(connection: AsyncConnection, session_id: int) -> SessionRecord:
    """The session, read in a write transaction: on SQLite that already holds the database's write lock; on
    PostgreSQL the row is locked until the transaction ends."""
    row = (await connection.execute(_SESSION_BY_ID_FOR_UPDATE, {"session_id": session_id})).first()
    if row is None:
        raise SessionNotFoundError(session_id)
    return session_from_row(row)


async def _locked_many(connection: AsyncConnection, session_ids: Sequence[int]) -> dict[int, SessionRecord]:
    """`_locked` for a batch: the sessions found, by id."""
    rows = await connection.execute(_SESSIONS_BY_IDS_FOR_UPDATE, {"session_ids": sorted(set(session_ids))})
    return {row.id: session_from_row(row) for row in rows}


async def _store_answer(connection: AsyncConnection, plan: AnswerPlan, now: datetime) -> Attempt:
    (attempt,) = await insert_answers(connection, [plan.submission], now)  # the session's user exists
    await _update(connection, plan.session_for(attempt), now)  # stale: raises, and the attempt rolls back
    return attempt


AnswerRequest = tuple[int, Callable[[SessionRecord], AnswerPlan]]  # a session id and the plan for its answer
RevisionRequest = tuple[int, Callable[[SessionRecord], SessionRevision | None]]


class SqlSessionRepository:
    """`SessionRepository` over SQLAlchemy Core.

    Answers that arrive together (a burst of submits) are stored together: one write transaction reads their sessions
    and stores every answer with multi-row statements (`GroupCommit`), where a transaction per answer made SQLite's one
    writer the bound on answers per second (issue 8). Revisions (grades recorded together) likewise."""

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        # One answer that can't be stored (or one revision) must not fail the others that arrived with it.
        self._answers = GroupCommit(self._answer_many, SESSION_BATCH, item_specific=not_a_database_outage)
        self._revisions = GroupCommit(self._revise_many, SESSION_BATCH, item_specific=not_a_database_outage)

    async def create(self, record: SessionRecord) -> SessionRecord:
        now = self.clock.now()
        values = _mutable_values(record, now) | {"user_id": record.user_id, "created_at": record.created_at or now}
        try:
            async with write_transaction(self.engine) as connection:
                await ensure_user(connection, record.user_id, now)
                row = (
                    await connection.execute(insert(interview_sessions).values(values).returning(interview_sessions))
                ).one()
        except IntegrityError as error:
            existing = await self.active_for(record.user_id, record.context) if record.active else None
            if existing is None:
                raise
            raise SessionAlreadyActiveError(existing.id) from error
        return session_from_row(row)

    async def save(self, record: SessionRecord, *, review: ReviewChange | None = None) -> SessionRecord:
        now = self.clock.now()
        try:
            async with write_transaction(self.engine) as connection:
                stored = await _update(connection, record, now)
                if review is not None:  # the session's user exists (a foreign key), so no ensure_user
                    await reschedule_review(connection, review, now)
        except IntegrityError as error:  # re-activating while another session is active in that context
            existing = await self.active_for(record.user_id, record.context)
            raise SessionAlreadyActiveError(existing.id if existing else None) from error
        return stored

    async def save_answer(
        self, submission: AnswerSubmission, session_for: Callable[[Attempt], SessionRecord]
    ) -> Attempt:
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            return await _store_answer(connection, AnswerPlan(submission, session_for), now)

    async def answer(self, session_id: int, plan: Callable[[SessionRecord], AnswerPlan]) -> Attempt:
        outcome = await self._answers.store((session_id, plan))
        if isinstance(outcome, Exception):  # this answer's refusal (its plan raised): the others are stored
            raise outcome
        return outcome

    async def _answer_one(self, session_id: int, plan: Callable[[SessionRecord], AnswerPlan]) -> Attempt:
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            return await _store_answer(connection, plan(await _locked(connection, session_id)), now)

    async def _answer_many(self, requests: Sequence[AnswerRequest]) -> list[Attempt | Exception]:
        """One write transaction for the batch: read the sessions, decide each answer on its session (a plan that
        raises refuses only its own), then store the answers and the sessions' moves with multi-row statements.
        A second answer to one session in the batch is decided afterwards, on the session the first one moved."""
        now = self.clock.now()
        outcomes: list[Attempt | Exception | None] = [None] * len(requests)
        async with write_transaction(self.engine) as connection:
            records = await _locked_many(connection, [session_id for session_id, _ in requests])
            planned: dict[int, tuple[int, AnswerPlan]] = {}  # session id -> (request index, its plan)
            for index, (session_id, plan) in enumerate(requests):
                if session_id in planned:
                    continue  # decided below, after this batch
                try:
                    record = records.get(session_id)
                    if record is None:
                        raise SessionNotFoundError(session_id)
                    planned[session_id] = (index, plan(record))
                except Exception as refusal:
                    outcomes[index] = refusal
            if planned:
                answers = list(planned.values())
                stored = await insert_answers(connection, [plan.submission for _, plan in answers], now)
                moved = [plan.session_for(attempt) for (_, plan), attempt in zip(answers, stored, strict=True)]
                await _update_many(connection, moved, now)
                for (index, _), attempt in zip(answers, stored, strict=True):
                    outcomes[index] = attempt
        for index, (session_id, plan) in enumerate(requests):
            if outcomes[index] is None:  # another answer to that session came first in the batch
                try:
                    outcomes[index] = await self._answer_one(session_id, plan)
                except Exception as refusal:
                    outcomes[index] = refusal
        return [outcome for outcome in outcomes if outcome is not None]  # every one is decided by now

    async def revise(
        self, session_id: int, decide: Callable[[SessionRecord], SessionRevision | None]
    ) -> tuple[SessionRecord, bool]:
        outcome = await self._revisions.store((session_id, decide))
        if isinstance(outcome, Exception):  # this revision's own failure: the others are stored
            raise outcome
        return outcome

    async def _revise_many(self, requests: Sequence[RevisionRequest]) -> list[tuple[SessionRecord, bool] | Exception]:
        """One write transaction for the batch (grades delivered together): read the sessions, decide each revision
        on its session as the revisions before it in the batch left it, and store the changed ones (one executemany)
        with their reviews."""
        now = self.clock.now()
        outcomes: list[tuple[SessionRecord, bool] | Exception] = []
        async with write_transaction(self.engine) as connection:
            current = await _locked_many(connection, [session_id for session_id, _ in requests])
            changed: list[SessionRecord] = []
            reviews: list[ReviewChange] = []
            for session_id, decide in requests:
                try:
                    record = current.get(session_id)
                    if record is None:
                        raise SessionNotFoundError(session_id)
                    revision = decide(record)
                except Exception as failure:
                    outcomes.append(failure)
                    continue
                if revision is None:
                    outcomes.append((record, False))
                    continue
                changed.append(revision.record)
                stored = current[session_id] = _as_stored(revision.record, now)
                if revision.review is not None:
                    reviews.append(revision.review)
                outcomes.append((stored, True))
            if changed:
                await _update_many(connection, changed, now)  # in order: a session revised twice goes v, v+1
            for review in reviews:  # the sessions' users exist (a foreign key), so no ensure_user
                await reschedule_review(connection, review, now)
        return outcomes

    async def get(self, session_id: int) -> SessionRecord:
        async with self.engine.connect() as connection:
            row = (await connection.execute(_SESSION_BY_ID, {"session_id": session_id})).first()
        if row is None:
            raise SessionNotFoundError(session_id)
        return session_from_row(row)

    async def active_for(self, user_id: int, context: str) -> SessionRecord | None:
        query = select(interview_sessions).where(
            interview_sessions.c.user_id == user_id,
            interview_sessions.c.context == context,
            interview_sessions.c.active.is_(True),
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return session_from_row(row) if row is not None else None

    async def idle_since(self, cutoff: datetime, limit: int = 100) -> list[SessionRecord]:
        query = (
            select(interview_sessions)
            .where(interview_sessions.c.active.is_(True), interview_sessions.c.updated_at < cutoff)
            .order_by(interview_sessions.c.updated_at, interview_sessions.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [session_from_row(row) for row in rows]
