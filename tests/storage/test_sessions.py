"""Interview sessions: one active session per user and context, enforced by the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import SessionAlreadyActiveError, SessionNotFoundError
from bot.core.models import Attempt, SessionRecord, Transport
from bot.core.ports import ReviewChange, StaleSessionError
from bot.storage.sessions import SqlSessionRepository
from bot.storage.tables import attempts, grading_jobs, review_schedules
from tests.storage._storage_helpers import FixedClock, submission


def _record(user_id: int = 1, context: str = "dm", **extra: object) -> SessionRecord:
    values: dict[str, object] = {
        "user_id": user_id,
        "context": context,
        "transport": Transport.DM,
        "mode": "practice",
        "state": "asking",
        "active": True,
        "snapshot": {"questions": ["rag.q1"], "index": 0},
    }
    values.update(extra)
    return SessionRecord.model_validate(values)


async def test_create_then_get_round_trips_every_field(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine, FixedClock())
    created = await repo.create(_record(channel_id=10, thread_id=11, message_id=12, guild_id=13))
    assert created.id is not None
    assert await repo.get(created.id) == created
    assert created.snapshot == {"questions": ["rag.q1"], "index": 0}


async def test_a_second_active_session_in_the_same_context_is_refused(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine)
    first = await repo.create(_record())
    with pytest.raises(SessionAlreadyActiveError) as raised:
        await repo.create(_record())
    assert raised.value.session_id == first.id
    assert (await repo.create(_record(context="guild:5"))).id != first.id  # another context is fine
    assert (await repo.create(_record(user_id=2))).id != first.id


async def test_racing_creates_leave_exactly_one_active_session(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine)
    results = await asyncio.gather(*(repo.create(_record()) for _ in range(20)), return_exceptions=True)
    created = [r for r in results if isinstance(r, SessionRecord)]
    refused = [r for r in results if isinstance(r, SessionAlreadyActiveError)]
    assert len(created) == 1 and len(refused) == 19


async def test_finishing_frees_the_context_and_reactivating_a_duplicate_is_refused(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine)
    first = await repo.create(_record())
    finished = await repo.save(first.model_copy(update={"active": False, "state": "finished"}))
    assert await repo.active_for(1, "dm") is None
    second = await repo.create(_record())
    assert (await repo.active_for(1, "dm")) == second
    with pytest.raises(SessionAlreadyActiveError):
        await repo.save(finished.model_copy(update={"active": True}))


async def test_save_updates_state_and_timestamp_and_missing_ids_raise(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo = SqlSessionRepository(engine, clock)
    created = await repo.create(_record())
    clock.advance(minutes=5)
    saved = await repo.save(created.model_copy(update={"state": "grading", "message_id": 99}))
    assert (saved.state, saved.message_id, saved.updated_at) == ("grading", 99, clock.now())
    assert saved.created_at == created.created_at
    with pytest.raises(SessionNotFoundError):
        await repo.get(12345)
    with pytest.raises(SessionNotFoundError):
        await repo.save(created.model_copy(update={"id": 12345}))


async def test_idle_since_lists_only_active_sessions_untouched_since_the_cutoff(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo = SqlSessionRepository(engine, clock)
    old = await repo.create(_record(user_id=1))
    done = await repo.create(_record(user_id=2))
    await repo.save(done.model_copy(update={"active": False}))
    clock.advance(hours=2)
    fresh = await repo.create(_record(user_id=3))
    idle = await repo.idle_since(clock.now() - timedelta(hours=1))
    assert [s.id for s in idle] == [old.id]
    assert fresh.id not in [s.id for s in idle]


# --- optimistic locking (migration 0004): a save applies only to the version it was decided on


def _review(user_id: int, score: float) -> ReviewChange:
    due = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    return ReviewChange(user_id, "rag.q1", score, lambda card: ({"reps": int((card or {}).get("reps", 0)) + 1}, due))


async def _rows(engine: AsyncEngine, table: Table) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(table))).all())


async def test_a_save_decided_on_an_older_version_is_refused_and_writes_nothing(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine, FixedClock())
    created = await repo.create(_record())
    saved = await repo.save(created.model_copy(update={"state": "grading"}))
    assert (created.version, saved.version) == (0, 1)
    assert await repo.get(created.id or 0) == saved
    with pytest.raises(StaleSessionError):  # decided on version 0, which is gone
        await repo.save(created.model_copy(update={"state": "feedback"}), review=_review(1, 7.0))
    assert (await repo.get(created.id or 0)).state == "grading"
    assert await _rows(engine, review_schedules) == []  # the review rolled back with it
    assert (await repo.save(saved.model_copy(update={"state": "feedback"}))).version == 2


async def test_a_save_with_a_review_stores_both_in_one_transaction(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine, FixedClock())
    created = await repo.create(_record())
    saved = await repo.save(created.model_copy(update={"state": "feedback"}), review=_review(1, 7.0))
    await repo.save(saved, review=_review(1, 3.0))  # rescheduled from the stored card
    (row,) = await _rows(engine, review_schedules)
    assert (row.user_id, row.question_id, row.card, row.last_score) == (1, "rag.q1", {"reps": 2}, 3.0)


async def test_save_answer_stores_the_attempt_its_job_and_the_session_together_or_nothing(
    engine: AsyncEngine,
) -> None:
    repo = SqlSessionRepository(engine, FixedClock())
    created = await repo.create(_record())
    answer = submission(1, session_id=created.id)

    def grading(attempt: Attempt) -> SessionRecord:
        return created.model_copy(update={"state": "grading", "snapshot": {"pending": attempt.id}})

    attempt = await repo.save_answer(answer, grading)
    stored = await repo.get(created.id or 0)
    assert (stored.state, stored.snapshot, stored.version) == ("grading", {"pending": attempt.id}, 1)
    assert [(r.id, r.session_id) for r in await _rows(engine, attempts)] == [(attempt.id, created.id)]
    assert [r.attempt_id for r in await _rows(engine, grading_jobs)] == [attempt.id]

    with pytest.raises(StaleSessionError):  # the same modal submitted twice: decided on version 0 again
        await repo.save_answer(answer, grading)
    assert len(await _rows(engine, attempts)) == 1 and len(await _rows(engine, grading_jobs)) == 1
    assert (await repo.get(created.id or 0)).version == 1
