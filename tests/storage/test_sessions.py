"""Interview sessions: one active session per user and context, enforced by the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import SessionAlreadyActiveError, SessionNotFoundError
from bot.core.models import SessionRecord, Transport
from bot.storage.sessions import SqlSessionRepository
from tests.storage._storage_helpers import FixedClock


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
    await repo.save(first.model_copy(update={"active": False, "state": "finished"}))
    assert await repo.active_for(1, "dm") is None
    second = await repo.create(_record())
    assert (await repo.active_for(1, "dm")) == second
    with pytest.raises(SessionAlreadyActiveError):
        await repo.save(first.model_copy(update={"active": True}))


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
