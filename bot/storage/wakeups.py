"""Cross-process wake-ups on PostgreSQL: LISTEN/NOTIFY for "a grading job is queued" and "feedback is pending".

Writers call `notify_*` inside the transaction that makes the work available: `pg_notify` is delivered at commit,
and only on commit, so a listener never looks for a row it can't see yet. Each process listens on one dedicated
asyncpg connection (`PgWakeUps`), not on one of SQLAlchemy's pool (LISTEN belongs to a session, and a pooled
connection is handed to someone else between uses), and calls the loops' `wake()` (`bot.pipeline.WakeUps`).

Polling stays the safety net: a notification lost while the listener reconnects delays that work by at most one
poll interval, and every (re)connection wakes all subscribers once to catch up. A listener that can't connect
only logs and retries with a backoff; nothing else waits for it.

On SQLite nothing is sent or listened for (`NoWakeUps`): one host, one writer, and the poll finds the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

JOBS_QUEUED = "mockinterview_jobs_queued"
DELIVERIES_PENDING = "mockinterview_deliveries_pending"
APPLICATION_NAME = "mockinterview-wakeups"  # how the listener shows in pg_stat_activity
CLOSE_GRACE_S = 2.0

Wake = Callable[[], None]  # a loop's `wake()` (`bot.pipeline.WakeUps`)

# Built once (issue 8). PostgreSQL delivers identical notifications of one transaction once.
_NOTIFY = {channel: text(f"SELECT pg_notify('{channel}', '')") for channel in (JOBS_QUEUED, DELIVERIES_PENDING)}


async def notify_jobs_queued(connection: AsyncConnection) -> None:
    """Wake the workers of every process when this transaction commits (PostgreSQL; nothing on SQLite)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(_NOTIFY[JOBS_QUEUED])


async def notify_deliveries_pending(connection: AsyncConnection) -> None:
    """Wake the notifiers of every process when this transaction commits (PostgreSQL; nothing on SQLite)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(_NOTIFY[DELIVERIES_PENDING])


class NoWakeUps:
    """SQLite: no cross-process wake-ups; the loops poll."""

    def on_jobs_queued(self, wake: Wake) -> None:
        pass

    def on_deliveries_pending(self, wake: Wake) -> None:
        pass

    async def __aenter__(self) -> NoWakeUps:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass


class PgWakeUps:
    """LISTEN on one dedicated asyncpg connection; reconnects with a backoff when it drops.

    Subscribe (`on_jobs_queued`, `on_deliveries_pending`) first, then run it as an async context manager: it
    listens only on the channels someone subscribed to. A ping every `ping_interval_s` finds a connection that
    died silently (no FIN from a vanished host), which would otherwise look like a quiet queue.
    """

    def __init__(
        self,
        connect_kwargs: dict[str, Any],
        *,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        ping_interval_s: float = 30.0,
        ping_timeout_s: float = 10.0,
    ) -> None:
        self.connect_kwargs = connect_kwargs
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.connections = 0  # successful LISTENs so far: 2 or more means it reconnected
        self.listening = asyncio.Event()
        self._subscribers: dict[str, list[Wake]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._stirred = asyncio.Event()  # the listening connection dropped, or the listener is closing

    @classmethod
    def for_engine(cls, engine: AsyncEngine, **options: Any) -> PgWakeUps:  # noqa: ANN401 - the options above
        """A listener on `engine`'s database, connecting as SQLAlchemy would (its URL and connect arguments)."""
        _, url_kwargs = engine.dialect.create_connect_args(engine.url)
        kwargs = dict(url_kwargs)
        for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
            kwargs.pop(adapter_only, None)  # SQLAlchemy's asyncpg adapter takes these; asyncpg.connect doesn't
        kwargs["server_settings"] = {**kwargs.get("server_settings", {}), "application_name": APPLICATION_NAME}
        kwargs.setdefault("timeout", 10)
        return cls(kwargs, **options)

    def on_jobs_queued(self, wake: Wake) -> None:
        self._subscribe(JOBS_QUEUED, wake)

    def on_deliveries_pending(self, wake: Wake) -> None:
        self._subscribe(DELIVERIES_PENDING, wake)

    def _subscribe(self, channel: str, wake: Wake) -> None:
        if self._task is not None:
            raise RuntimeError("subscribe before the listener starts: it LISTENs on the channels it knows of then")
        self._subscribers.setdefault(channel, []).append(wake)

    async def __aenter__(self) -> PgWakeUps:
        if self._subscribers:
            self._task = asyncio.create_task(self._run(), name="wake-up-listener")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing.set()
        self._stirred.set()
        if self._task is None:
            return
        await asyncio.wait({self._task}, timeout=CLOSE_GRACE_S)
        if not self._task.done():  # still connecting (`timeout` is 10 s): don't hold the shutdown for it
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def _wake(self, channel: str) -> None:
        for wake in self._subscribers.get(channel, ()):
            wake()

    def _wake_all(self) -> None:
        for channel in self._subscribers:
            self._wake(channel)

    def _on_notification(self, _connection: object, _pid: int, channel: str, _payload: str) -> None:
        self._wake(channel)

    async def _run(self) -> None:
        import asyncpg  # only PostgreSQL deployments need it at run time

        delay = self.reconnect_min_s
        while not self._closing.is_set():
            try:
                connection = await asyncpg.connect(**self.connect_kwargs)
            except Exception as error:  # unreachable, refused, starting up: retried, polling covers meanwhile
                log.warning("wake-up listener: connecting failed (%r); retrying in %.1fs", error, delay)
            else:
                listened = self.connections
                try:
                    await self._listen(connection)
                except Exception as error:
                    if self.connections > listened:  # it had been listening: start the backoff afresh
                        delay = self.reconnect_min_s
                    log.warning("wake-up listener: connection lost (%r); reconnecting in %.1fs", error, delay)
                finally:
                    self.listening.clear()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), self.ping_timeout_s)
                    connection.terminate()  # no-op once closed; cuts a connection that wouldn't close
                if self._closing.is_set():
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
            delay = min(delay * 2, self.reconnect_max_s)

    async def _listen(self, connection: asyncpg.Connection) -> None:
        """LISTEN and wait until the connection drops (raises) or the listener closes (returns)."""
        self._stirred.clear()
        if self._closing.is_set():
            return
        connection.add_termination_listener(lambda _connection: self._stirred.set())
        for channel in self._subscribers:
            await connection.add_listener(channel, self._on_notification)
        self.connections += 1
        self.listening.set()
        log.info("wake-up listener: listening on %s", ", ".join(self._subscribers))
        self._wake_all()  # anything queued while nobody listened
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stirred.wait(), self.ping_interval_s)
            if self._closing.is_set():
                return
            if self._stirred.is_set() or connection.is_closed():
                raise ConnectionError("the listening connection closed")
            await asyncio.wait_for(connection.fetchval("SELECT 1"), self.ping_timeout_s)


def wake_ups_for(engine: AsyncEngine) -> PgWakeUps | NoWakeUps:
    """Cross-process wake-ups for `engine`'s database: LISTEN/NOTIFY on PostgreSQL, none on SQLite."""
    return PgWakeUps.for_engine(engine) if engine.dialect.name == "postgresql" else NoWakeUps()
