"""aiosqlite with one thread hop per statement, for SQLAlchemy's aiosqlite dialect (`create_engine` plugs it in).

aiosqlite runs each call in its connection's thread: queue the call, wake the thread, wake the event loop with the
result, ~25 µs of CPU per call. SQLAlchemy's adapter makes four calls per statement (open a cursor, execute, fetch
the rows, close the cursor), so an answer's ~9 statements cost ~35 hops. `StatementCursor` does all four in one
call and serves the rows, description, row count and last row id it brought back; everything else is aiosqlite's
own `Connection` (SQLAlchemy's adapter also uses its queue and thread, which is why this subclasses it).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import aiosqlite

_NO_ROWS: Sequence[Any] = ()  # immutable: shared by every statement without rows


@dataclass(frozen=True)
class _Outcome:
    description: Any
    rows: Sequence[Any]
    rowcount: int
    lastrowid: int | None


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:  # noqa: ANN401
    """In aiosqlite's thread: the whole statement, its cursor closed before returning."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        # Rows first: SQLite counts the rows of an INSERT/UPDATE ... RETURNING only once they are all fetched.
        rows = cursor.fetchall() if cursor.description else _NO_ROWS
        return _Outcome(cursor.description, rows, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class StatementCursor:
    """The part of aiosqlite's `Cursor` SQLAlchemy's adapter uses, with each statement run in one hop."""

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self._rows: Sequence[Any] = _NO_ROWS
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> StatementCursor:  # SQLAlchemy enters the cursor `cursor()` returns
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> StatementCursor:  # noqa: ANN401
        self._take(await self._connection.run_statement(sql, parameters, many=False))
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> StatementCursor:
        self._take(await self._connection.run_statement(sql, parameters, many=True))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, self._rows = outcome.description, outcome.rows
        self.rowcount, self.lastrowid = outcome.rowcount, outcome.lastrowid

    async def fetchall(self) -> Sequence[Any]:
        rows, self._rows = self._rows, _NO_ROWS
        return rows

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:  # noqa: ANN401 - a row or None
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def close(self) -> None:
        self._rows = _NO_ROWS


class OneHopConnection(aiosqlite.Connection):
    def cursor(self) -> StatementCursor:  # type: ignore[override]  # no hop: the cursor opens in `execute`
        return StatementCursor(self)

    async def run_statement(self, sql: str, parameters: Any, *, many: bool) -> _Outcome:  # noqa: ANN401
        outcome: _Outcome = await self._execute(_run, self._conn, sql, parameters, many)  # type: ignore[no-untyped-call]
        return outcome


async def connect(database: str, **options: Any) -> OneHopConnection:  # noqa: ANN401 - sqlite3.connect's options
    """An open `OneHopConnection` to `database` (`sqlite3.connect` arguments), for `async_creator`."""
    connection = OneHopConnection(lambda: sqlite3.connect(database, **options), iter_chunk_size=64)
    # As SQLAlchemy sets aiosqlite's own: an unclosed connection doesn't hold the exit (before 0.22 it is the thread).
    thread = cast(threading.Thread, getattr(connection, "_thread", connection))
    thread.daemon = True
    await connection  # starts its thread and opens the database there
    return connection
