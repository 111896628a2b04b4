"""Storage fixtures: the same tests on a real SQLite file and on a real PostgreSQL database.

PostgreSQL comes from `MOCKINTERVIEW_TEST_POSTGRES_URL` (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test);
without it the PostgreSQL half of every test is skipped with that reason. Each test gets its own database,
copied from a template migrated once per session (SQLite: a file copy; PostgreSQL: CREATE DATABASE ... TEMPLATE),
so tests are isolated and concurrent runs of the suite don't collide.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade

PG_ENV = "MOCKINTERVIEW_TEST_POSTGRES_URL"
ENGINES = ["sqlite", "postgres"]


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_admin_dsn(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def create_pg_database(template: str | None = None) -> str:
    base = postgres_url()
    assert base is not None
    name = f"mi_test_{uuid.uuid4().hex[:12]}"
    suffix = f" TEMPLATE {template}" if template else ""
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"{suffix}'))
    return _with_database(base, name)


def drop_pg_database(url: str) -> None:
    base = postgres_url()
    assert base is not None
    name = make_url(url).database
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    if postgres_url() is None:
        yield None
        return
    url = create_pg_database()
    upgrade(url)
    yield make_url(url).database
    drop_pg_database(url)


def _skip_without_postgres() -> None:
    if postgres_url() is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")


@pytest.fixture(params=ENGINES)
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, postgres_template: str | None
) -> Iterator[str]:
    """A migrated, empty database of each engine."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    _skip_without_postgres()
    url = create_pg_database(template=postgres_template)
    yield url
    drop_pg_database(url)


@pytest.fixture(params=ENGINES)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty (unmigrated) database of each engine."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    _skip_without_postgres()
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()
