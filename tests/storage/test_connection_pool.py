"""The engine's connections and transactions (issue 8): under a burst, pooled connections are kept, not reopened;
none goes back to the pool inside a transaction although the pool no longer rolls back on return; and on SQLite the
BEGIN the engine issues itself (straight through aiosqlite) still makes reads a snapshot and writes take the write
lock up front."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import SQLITE_POOL_SIZE, write_transaction

CONCURRENT = 40


@contextmanager
def pool_events(engine: AsyncEngine, name: str) -> Iterator[list[Any]]:
    """The DBAPI connections of every `name` pool event ("connect", "checkin") while the block runs."""
    seen: list[Any] = []

    def record(dbapi_connection: Any, *_args: Any) -> None:
        seen.append(dbapi_connection)

    event.listen(engine.sync_engine, name, record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, name, record)


async def _read(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT count(*) FROM attempts"))
        await asyncio.sleep(0.01)  # hold the connection so the burst really is concurrent


async def _write(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as connection:
        await connection.execute(text("UPDATE attempts SET id = id WHERE id = -1"))


async def test_bursts_of_reads_reuse_the_pooled_sqlite_connections(engine: AsyncEngine, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the fixed pool is SQLite's; PostgreSQL keeps SQLAlchemy's defaults")
    with pool_events(engine, "connect") as opened:
        for _ in range(3):
            await asyncio.gather(*(_read(engine) for _ in range(CONCURRENT)))
    # SQLAlchemy's default pool (5 + 10 overflow) closed the overflow connections after each burst and opened them
    # again in the next: 15 + 10 + 10 here.
    assert len(opened) <= SQLITE_POOL_SIZE


async def test_no_connection_goes_back_to_the_pool_inside_a_transaction(engine: AsyncEngine) -> None:
    async def failing_write() -> None:
        with pytest.raises(RuntimeError):
            async with write_transaction(engine) as connection:
                await connection.execute(text("UPDATE attempts SET id = id WHERE id = -1"))
                raise RuntimeError("the handler failed mid-transaction")

    async def abandoned_read() -> None:
        async with engine.connect() as connection:  # autobegun, never committed or rolled back by hand
            await connection.execute(text("SELECT 1"))

    in_transaction: list[bool] = []

    def record(dbapi_connection: Any, _record: Any) -> None:
        driver = dbapi_connection.driver_connection
        if engine.dialect.name == "sqlite":
            in_transaction.append(driver.in_transaction)
        else:
            in_transaction.append(driver.is_in_transaction())

    event.listen(engine.sync_engine, "checkin", record)
    try:
        await asyncio.gather(_write(engine), failing_write(), abandoned_read(), _read(engine))
    finally:
        event.remove(engine.sync_engine, "checkin", record)
    assert in_transaction == [False] * 4


def _sqlite_file(db_url: str) -> str:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's BEGIN modes")
    return str(make_url(db_url).database)


async def test_a_sqlite_read_sees_one_snapshot_while_another_connection_commits(
    engine: AsyncEngine, db_url: str
) -> None:
    other = sqlite3.connect(_sqlite_file(db_url), isolation_level=None)
    try:
        async with engine.connect() as connection:
            before = (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one()
            other.execute("INSERT INTO users (id, settings, created_at) VALUES (424242, '{}', '2026-01-01 00:00:00')")
            again = (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one()
        assert again == before  # inside BEGIN: the snapshot of the first read; without it, the new row shows
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one() == before + 1
    finally:
        other.close()


async def test_a_sqlite_write_transaction_holds_the_write_lock_from_its_start(engine: AsyncEngine, db_url: str) -> None:
    other = sqlite3.connect(_sqlite_file(db_url), isolation_level=None, timeout=0)
    try:
        async with write_transaction(engine):  # BEGIN IMMEDIATE: locked before any statement runs
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at the end of the block
        other.execute("ROLLBACK")
    finally:
        other.close()
