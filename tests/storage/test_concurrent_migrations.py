"""Two processes migrating one database at once both start: the second waits for the first, then finds it upgraded.

Every process that opens the database migrates it first (MOCKINTERVIEW_AUTO_MIGRATE, on by default), so a bot and a
worker started together race through the same migrations. Without a lock one of them crashed: SQLite 'database is
locked', PostgreSQL a duplicate pg_type or "Online migration expected to match one row"."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.storage.migrate import downgrade, head_revision, is_at_head
from tests.storage.conftest import ENGINES, _admin, _skip_without_postgres, create_pg_database, drop_pg_database

ROUNDS = 4  # each a fresh race: even rounds on an empty database, odd ones on the same one moved back a revision


def _migrate_each_round(urls: list[str], barrier: Any, results: Any) -> None:
    """In a process of its own: each round, wait until the test and the other process are ready, then upgrade."""
    from bot.storage.migrate import upgrade_async

    for url in urls:
        barrier.wait(60)
        try:
            asyncio.run(upgrade_async(url))
            results.put("ok")
        except Exception as error:
            results.put(f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")


@pytest.fixture(params=ENGINES)
def round_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """The database of each round: a new SQLite file every other round; one PostgreSQL database, emptied then."""
    if request.param == "sqlite":
        yield [f"sqlite+aiosqlite:///{tmp_path / f'race{i // 2}.db'}" for i in range(ROUNDS)]
        return
    _skip_without_postgres()
    url = create_pg_database()
    yield [url] * ROUNDS
    drop_pg_database(url)


def _previous_revision() -> str:
    head = head_revision()
    assert head is not None and head.isdigit()
    return f"{int(head) - 1:04d}"


def _prepare(url: str, round_: int) -> None:
    if round_ % 2:  # the database the last round upgraded, moved back one revision
        downgrade(url, _previous_revision())
    elif round_ and url.startswith("postgresql"):  # empty again
        asyncio.run(_admin(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))


def test_two_processes_migrating_one_database_at_once_both_succeed(round_urls: list[str]) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()  # the two migrators and this test, which prepares
    processes = [context.Process(target=_migrate_each_round, args=(round_urls, barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for round_, url in enumerate(round_urls):
            _prepare(url, round_)
            barrier.wait(60)
            outcomes += [results.get(timeout=60) for _ in processes]
            assert asyncio.run(is_at_head(url))
    finally:
        barrier.abort()  # a failed round lets the processes out of their next wait
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    assert outcomes == ["ok"] * 2 * ROUNDS
