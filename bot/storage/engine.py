"""The async engine for `MOCKINTERVIEW_DATABASE_URL`, with SQLite tuned for a bot's concurrent writes.

SQLite allows one writer at a time. Two things keep writers from tripping over each other:

* every transaction starts with an explicit `BEGIN`; write transactions (`write_transaction`) use
  `BEGIN IMMEDIATE`, which takes the write lock up front and so waits in SQLite's busy handler instead of
  failing with `SQLITE_BUSY` when a deferred reader later tries to write (the classic lock-upgrade deadlock);
* inside one process, write transactions also queue on an `asyncio.Lock`, so concurrent tasks wait in the
  event loop (FIFO, no polling) rather than in the busy handler's sleep-and-retry loop.

PostgreSQL needs neither: `write_transaction` is just `engine.begin()` there.
"""

from __future__ import annotations

import asyncio
import functools
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy import exc as sql_errors
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from bot.core.errors import UserFacingError
from bot.storage import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_POOL_SIZE = 15  # concurrent readers (WAL); writers queue on the write lock below anyway
SQLITE_BEGIN_OPTION = "mockinterview_sqlite_begin"

_write_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class MemoryDatabaseError(UserFacingError):
    """An in-memory SQLite URL: the migrations would make their tables in a database of their own, which vanishes."""

    def __init__(self) -> None:
        super().__init__(
            "MOCKINTERVIEW_DATABASE_URL names an in-memory SQLite database, which this project can't use: every "
            "engine (the migrations', the bot's) would get its own empty one, without tables. "
            "Use a file, e.g. sqlite+aiosqlite:///path/to/interview.db"
        )


def refuse_memory_database(url: str) -> None:
    """MemoryDatabaseError for `sqlite://`, `sqlite:///:memory:` and a `mode=memory` URI."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:") or parsed.query.get("mode") == "memory":
        raise MemoryDatabaseError


def expand_sqlite_home(url: str) -> str:
    """`url` with a SQLite path starting with `~` made the home directory's: sqlite3 would open `~/...` literally,
    a folder named `~` under the current directory."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or not database.startswith("~"):
        return url
    return parsed.set(database=str(Path(database).expanduser())).render_as_string(hide_password=False)


def ensure_sqlite_file(url: str) -> None:
    """Make a SQLite database file that doesn't exist yet, and its missing folders, private to the owner.

    Everyone's answers and grades are in it, and sqlite3 would create it (and mkdir its folder) with the umask's
    usual world-readable modes. An empty file is an empty database; SQLite gives its -wal and -shm files the
    database file's mode. An existing file or folder is left as its owner made it."""
    database = make_url(url).database
    if not is_sqlite(url) or not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    _make_private_folders(path.parent)
    with suppress(FileExistsError):  # exists already (perhaps made by another process just now)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _make_private_folders(folder: Path) -> None:
    if folder.exists() or folder.parent == folder:
        return
    _make_private_folders(folder.parent)
    with suppress(FileExistsError):
        folder.mkdir(mode=0o700)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:  # noqa: ANN401 - passed through to SQLAlchemy
    """Build the engine; on SQLite turn on WAL, a busy timeout and foreign keys for every connection."""
    refuse_memory_database(url)
    url = expand_sqlite_home(url)
    ensure_sqlite_file(url)
    # Every connection is used through `engine.connect()`/`begin()` blocks, whose end commits or rolls back any
    # transaction; the pool's own rollback on return then only repeated it, one more round trip (an aiosqlite
    # thread hop, a PostgreSQL network round trip) after every write transaction.
    kwargs.setdefault("pool_reset_on_return", None)
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)

    busy_timeout_s = SQLITE_BUSY_TIMEOUT_MS / 1000
    # A fixed pool: SQLAlchemy's default (5 kept + 10 overflow) closed every overflow connection on return, so a
    # burst of interactions opened and closed SQLite connections (a thread, the file, four PRAGMAs each) over and
    # over. Connections are opened on first use only.
    parsed = make_url(url)
    kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
    kwargs.setdefault("max_overflow", 0)
    # The same sqlite3 connection SQLAlchemy would open, through a driver that runs a statement in one hop.
    arguments, options = SQLiteDialect_aiosqlite().create_connect_args(parsed)
    creator = functools.partial(sqlite_driver.connect, *arguments, timeout=busy_timeout_s, **options)
    kwargs.setdefault("async_creator", creator)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:  # noqa: ANN401
        # Let SQLAlchemy (not the driver) emit BEGIN, so write transactions can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(connection: Any) -> None:  # noqa: ANN401
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        # Straight to aiosqlite: one hop to its thread, which runs the statement and drops the cursor there.
        # `exec_driver_sql` took three (open, run, close a cursor) plus SQLAlchemy's execution machinery: ~0.1 ms
        # of CPU per transaction, on every read and write.
        await_only(connection.connection.driver_connection.execute_fetchall(f"BEGIN {mode}"))

    return engine


def _write_lock(engine: AsyncEngine) -> asyncio.Lock:
    key = engine.sync_engine
    lock = _write_locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _write_locks[key] = lock
    return lock


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that will write: `BEGIN IMMEDIATE` plus an in-process writer queue on SQLite."""
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            yield connection
        return
    async with _write_lock(engine), engine.connect() as connection:
        await connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        async with connection.begin():
            yield connection


# The database itself in trouble (unreachable, locked, timed out, out of connections): the same for every write.
_DATABASE_TROUBLE = (
    sql_errors.OperationalError,
    sql_errors.InterfaceError,
    sql_errors.InternalError,
    sql_errors.DisconnectionError,
    sql_errors.TimeoutError,
    OSError,  # connection refused or reset, timeouts
)


# PostgreSQL's errors through asyncpg arrive as a plain DBAPIError; their SQLSTATE class says when the server is in
# trouble: connection exceptions (08), insufficient resources (53), operator intervention such as a shutdown or a
# cancelled statement (57), system errors (58).
_SERVER_TROUBLE_SQLSTATES = frozenset({"08", "53", "57", "58"})


def not_a_database_outage(error: Exception) -> bool:
    """Whether a failed write may be one row's own doing (a constraint, a value the driver refused, a bug on one
    item's path), so that writing a batch's rows one by one stores the others (`GroupCommit`'s `item_specific`)."""
    if isinstance(error, _DATABASE_TROUBLE):
        return False
    if isinstance(error, sql_errors.DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None)
        if error.connection_invalidated or (isinstance(sqlstate, str) and sqlstate[:2] in _SERVER_TROUBLE_SQLSTATES):
            return False
    return True


def dialect_insert(connection: AsyncConnection, table: Table) -> Any:  # noqa: ANN401 - a dialect Insert
    """The dialect's INSERT for `table`, which has ON CONFLICT DO NOTHING / DO UPDATE on both engines."""
    return named_dialect_insert(connection.dialect.name, table)


def named_dialect_insert(dialect: str, table: Table) -> Any:  # noqa: ANN401 - a dialect Insert
    """`dialect_insert` by dialect name, for a statement built once per dialect (cached by that name)."""
    if dialect == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)
