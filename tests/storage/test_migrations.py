"""Every migration from an empty database, up and down, on both engines; head matches `tables.py`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import create_engine
from bot.storage.migrate import alembic_config, downgrade, upgrade
from bot.storage.sessions import SqlSessionRepository
from bot.storage.tables import metadata


def _inspect(url: str) -> tuple[set[str], list[tuple[object, ...]], str | None]:
    """Tables, the schema diff against `metadata`, and the current revision."""

    async def run() -> tuple[set[str], list[tuple[object, ...]], str | None]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def sync(connection_: object) -> tuple[set[str], list[tuple[object, ...]], str | None]:
                    context = MigrationContext.configure(connection_, opts={"compare_type": True})  # type: ignore[arg-type]
                    tables = set(inspect(connection_).get_table_names())  # type: ignore[arg-type]
                    diff = compare_metadata(context, metadata) if "alembic_version" in tables else []
                    return tables, diff, context.get_current_revision()

                return await connection.run_sync(sync)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_upgrade_to_head_creates_exactly_the_schema_in_tables_py(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    tables, diff, revision = _inspect(empty_db_url)
    assert tables == set(metadata.tables) | {"alembic_version"}
    assert diff == []
    assert revision == _revisions()[-1]


def test_downgrade_to_base_removes_everything_and_upgrade_again_restores_it(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    downgrade(empty_db_url, "base")
    tables, _, revision = _inspect(empty_db_url)
    assert tables <= {"alembic_version"}
    assert revision is None
    upgrade(empty_db_url)
    tables, diff, _ = _inspect(empty_db_url)
    assert tables == set(metadata.tables) | {"alembic_version"}
    assert diff == []


def test_each_revision_upgrades_and_downgrades_one_step_at_a_time(empty_db_url: str) -> None:
    revisions = _revisions()
    assert revisions[:2] == ["0001", "0002"]
    for revision in revisions:
        upgrade(empty_db_url, revision)
        assert _inspect(empty_db_url)[2] == revision
    for previous in [*reversed(revisions[:-1]), None]:
        downgrade(empty_db_url, previous or "base")
        assert _inspect(empty_db_url)[2] == previous


def test_0004_gives_existing_sessions_version_0_and_its_downgrade_keeps_them(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0003")

    async def with_engine(step: Callable[[AsyncEngine], Awaitable[object]]) -> object:
        engine = create_engine(empty_db_url)
        try:
            return await step(engine)
        finally:
            await engine.dispose()

    async def a_session_from_before(engine: AsyncEngine) -> None:
        now = datetime(2026, 11, 1, tzinfo=UTC)
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO users (id, timezone, settings, created_at) VALUES (1, 'UTC', '{}', :t)"), {"t": now}
            )
            await connection.execute(
                text(
                    "INSERT INTO interview_sessions (id, user_id, context, transport, mode, state, active, snapshot, "
                    "created_at, updated_at) VALUES (5, 1, 'dm', 'dm', 'practice', 'asking', true, '{}', :t, :t)"
                ),
                {"t": now},
            )

    asyncio.run(with_engine(a_session_from_before))
    upgrade(empty_db_url)

    async def save_twice_from_version_0(engine: AsyncEngine) -> tuple[int, int]:
        repo = SqlSessionRepository(engine)
        stored = await repo.get(5)
        saved = await repo.save(stored.model_copy(update={"state": "awaiting_answer"}))
        return stored.version, saved.version

    assert asyncio.run(with_engine(save_twice_from_version_0)) == (0, 1)
    downgrade(empty_db_url, "0003")

    async def states(engine: AsyncEngine) -> list[str]:
        async with engine.connect() as connection:
            return list((await connection.execute(text("SELECT state FROM interview_sessions"))).scalars())

    assert asyncio.run(with_engine(states)) == ["awaiting_answer"]


def test_0005_counts_answers_graded_before_it_as_reviewed(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0004")
    graded_at = datetime(2026, 11, 2, tzinfo=UTC)

    async def answers_from_before(engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO users (id, timezone, settings, created_at) VALUES (1, 'UTC', '{}', :t)"),
                {"t": graded_at},
            )
            for attempt_id, status, when in ((1, "graded", graded_at), (2, "pending", None)):
                await connection.execute(
                    text(
                        "INSERT INTO attempts (id, user_id, question_id, topic, answer, status, created_at, graded_at) "
                        "VALUES (:id, 1, 'q', 't', 'an answer', :status, :created, :graded)"
                    ),
                    {"id": attempt_id, "status": status, "created": graded_at, "graded": when},
                )

    async def reviewed(engine: AsyncEngine) -> list[tuple[object, ...]]:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT id, reviewed_at FROM attempts ORDER BY id"))
            return [tuple(row) for row in rows]

    asyncio.run(_with_engine(empty_db_url, answers_from_before))
    upgrade(empty_db_url)
    (graded, graded_reviewed_at), (pending, pending_reviewed_at) = asyncio.run(_with_engine(empty_db_url, reviewed))
    assert (graded, pending, pending_reviewed_at) == (1, 2, None)
    assert graded_reviewed_at is not None and str(graded_reviewed_at).startswith("2026-11-02")  # its review was done


async def _with_engine(url: str, step: Callable[[AsyncEngine], Awaitable[object]]) -> object:
    engine = create_engine(url)
    try:
        return await step(engine)
    finally:
        await engine.dispose()
