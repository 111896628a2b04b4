"""The SQLite driver behind the engine (`bot.storage.sqlite_driver`): a statement is one hop to aiosqlite's thread,
and what SQLAlchemy reads back (rows, row counts, inserted ids, errors) is what aiosqlite's own cursor gave it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import create_engine, write_transaction
from bot.storage.migrate import upgrade_async
from bot.storage.sqlite_driver import OneHopConnection
from bot.storage.tables import users

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


@contextmanager
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every call aiosqlite hands to its connection thread while the block runs."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn, *args, **kwargs):
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", counted)
        yield calls


async def test_a_one_statement_read_is_three_hops(sqlite_engine: AsyncEngine, monkeypatch) -> None:
    async with sqlite_engine.connect() as connection:  # the pooled connection exists before counting
        await connection.execute(text("SELECT 1"))
    with thread_hops(monkeypatch) as hops:
        async with sqlite_engine.connect() as connection:
            assert (await connection.execute(select(users.c.id))).all() == []
    # BEGIN, the SELECT with its rows, ROLLBACK. SQLAlchemy's adapter over aiosqlite's own cursor took 8: a BEGIN
    # and a SELECT each opened, ran, (fetched) and closed a cursor in separate hops.
    assert hops == ["_execute_fetchall", "_run", "rollback"]


async def test_rows_counts_and_ids_come_back_as_sqlalchemy_expects(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.connect() as connection:
        assert isinstance((await connection.get_raw_connection()).driver_connection, OneHopConnection)
    async with write_transaction(sqlite_engine) as connection:
        one = await connection.execute(insert(users).values(id=1, settings={}, created_at=NOW))
        assert one.inserted_primary_key == (1,)
        many = await connection.execute(
            insert(users), [{"id": n, "settings": {"n": n}, "created_at": NOW} for n in (2, 3, 4)]
        )
        assert many.rowcount == 3  # executemany
        returned = await connection.execute(
            update(users).where(users.c.id >= 3).values(timezone="Europe/Paris").returning(users.c.id)
        )
        assert sorted(returned.scalars()) == [3, 4]
        changed = await connection.execute(update(users).where(users.c.id <= 2).values(timezone="UTC"))
        assert changed.rowcount == 2  # the version-checked session saves rely on this count
        missed = await connection.execute(update(users).where(users.c.id == 99).values(timezone="UTC"))
        assert missed.rowcount == 0
    async with sqlite_engine.connect() as connection:
        rows = (await connection.execute(select(users.c.id, users.c.settings).order_by(users.c.id))).all()
        assert [(r.id, r.settings) for r in rows] == [(1, {}), (2, {"n": 2}), (3, {"n": 3}), (4, {"n": 4})]
        first = (await connection.execute(select(users.c.id).order_by(users.c.id))).first()
        assert first is not None and first.id == 1


async def test_driver_errors_surface_as_sqlalchemy_errors_and_roll_back(sqlite_engine: AsyncEngine) -> None:
    async with write_transaction(sqlite_engine) as connection:
        await connection.execute(insert(users).values(id=7, settings={}, created_at=NOW))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with write_transaction(sqlite_engine) as connection:
            await connection.execute(insert(users).values(id=8, settings={}, created_at=NOW))
            await connection.execute(insert(users).values(id=7, settings={}, created_at=NOW))
    async with sqlite_engine.connect() as connection:
        assert list((await connection.execute(select(users.c.id))).scalars()) == [7]
