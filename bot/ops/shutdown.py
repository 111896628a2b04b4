"""Graceful shutdown: on SIGTERM (or SIGINT) stop taking work, let workers finish, release what is left.

Used by `mockinterview worker` and meant for `mockinterview run`:

    async with ShutdownSignal() as stop:
        task = asyncio.create_task(worker.run())
        await stop.wait()  # or: the bot's own lifetime
        await drain_workers([(worker, task)], timeout_s, release=lambda wid: release_leases(engine, wid))

`drain_workers` calls `stop()` on every worker (they stop claiming at once), waits up to `timeout_s` for the jobs
they hold, then cancels whatever is still grading and hands its leases back to the queue, so another process
takes them over immediately instead of after the lease expires. Nothing is lost either way: the answers are stored
and a lease that is never released simply expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import write_transaction
from bot.storage.tables import grading_jobs
from bot.storage.wakeups import notify_jobs_queued

log = logging.getLogger(__name__)

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stoppable(Protocol):
    worker_id: str

    def stop(self) -> None: ...


class ShutdownSignal:
    """An async context manager: while inside, SIGTERM/SIGINT set `event` instead of killing the process."""

    def __init__(self, signals: Sequence[signal.Signals] = HANDLED_SIGNALS) -> None:
        self.signals = tuple(signals)
        self.event = asyncio.Event()
        self.received: signal.Signals | None = None
        self._installed: list[signal.Signals] = []

    def trigger(self, signum: signal.Signals | None = None) -> None:
        if self.received is None and signum is not None:
            self.received = signum
            log.info("received %s: shutting down gracefully", signum.name)
        self.event.set()

    async def wait(self) -> None:
        await self.event.wait()

    async def __aenter__(self) -> ShutdownSignal:
        loop = asyncio.get_running_loop()
        for signum in self.signals:
            try:
                loop.add_signal_handler(signum, self.trigger, signum)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows, or not the main thread
                continue
            self._installed.append(signum)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        self._installed.clear()


async def release_leases(engine: AsyncEngine, worker_id: str) -> int:
    """Return every job leased by `worker_id` to the queue now (the try it spent is given back); on PostgreSQL the
    other processes' workers are woken to take them."""
    now = datetime.now(UTC)
    async with write_transaction(engine) as connection:
        result = await connection.execute(
            update(grading_jobs)
            .where(grading_jobs.c.status == "leased", grading_jobs.c.lease_owner == worker_id)
            .values(
                status="queued",
                lease_owner=None,
                lease_expires_at=None,
                available_at=now,
                tries=case((grading_jobs.c.tries > 0, grading_jobs.c.tries - 1), else_=0),
                last_error="released at shutdown",
                updated_at=now,
            )
            .returning(grading_jobs.c.id)
        )
        released = len(result.all())
        if released:
            await notify_jobs_queued(connection)
        return released


async def drain_workers(
    workers: Sequence[tuple[Stoppable, asyncio.Task[None]]],
    timeout_s: float,
    *,
    release: Callable[[str], Awaitable[int]] | None = None,
) -> dict[str, int]:
    """Stop the workers, wait up to `timeout_s` for their jobs, cancel the rest and release their leases.

    Returns, per worker id, how many leases were released (0 when everything finished in time).
    """
    for worker, _ in workers:
        worker.stop()
    tasks = [task for _, task in workers]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    else:
        pending = set()
    for task in pending:
        # A worker cancelled mid-loop still awaits its in-flight jobs in `finally`: cancel until it is done.
        for _ in range(10):
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=1.0)
            if done:
                break
        with contextlib.suppress(asyncio.CancelledError, Exception):
            if task.done():
                task.result()
    released: dict[str, int] = {}
    for worker, task in workers:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("worker %s ended with an error: %r", worker.worker_id, task.exception())
        if release is None:
            continue
        try:
            released[worker.worker_id] = await release(worker.worker_id)
        except Exception:
            log.exception("releasing the leases of %s failed; they will expire instead", worker.worker_id)
            continue
        if released[worker.worker_id]:
            log.warning(
                "shutdown timeout (%.1fs): released %d unfinished grading jobs of %s to the queue",
                timeout_s,
                released[worker.worker_id],
                worker.worker_id,
            )
    return released
