"""The grading pipeline's loops: `GradingWorker` (claim → grade → complete/fail) and `Notifier` (deliver).

Pure asyncio over the `GradingQueue` and `Grader` ports: no database, Discord or OpenAI imports here, so
the same loops run in the bot process, in separate worker processes, and in tests with fakes.

Both loops record their outcomes through a `GroupCommit` (`bot.batching`): grades (and deliveries) that finish
together are stored in one transaction, which on SQLite (one writer at a time) is the difference between a write
transaction per answer and one per burst.

An idle loop sleeps until its poll interval passes or something calls its `wake()`: in-process, whoever
queued the work; across processes, a `WakeUps` source (`listen_to`), which storage provides on PostgreSQL
(LISTEN/NOTIFY). Polling stays the safety net, so a lost wake-up costs at most one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.batching import GroupCommit
from bot.core.errors import GraderUnavailableError, UserFacingError
from bot.core.models import Attempt, ClaimedJob, PendingDelivery, Rubric
from bot.core.ports import Grader, GradingQueue

log = logging.getLogger(__name__)

RubricFor = Callable[[Attempt], Rubric | Awaitable[Rubric]]
Deliver = Callable[[PendingDelivery], Awaitable[None]]
Wake = Callable[[], None]


# A worker id is stored as the lease owner of the jobs it claims: String(64) columns (bot/storage/tables.py).
MAX_WORKER_ID_LENGTH = 64


def default_worker_id(role: str = "worker", *, max_length: int = MAX_WORKER_ID_LENGTH) -> str:
    """`role:host:pid:random`, at most `max_length` characters (less leaves room for a `/n` per loop); a long host
    name is shortened, never the pid and random part that make it unique."""
    prefix, suffix = f"{role}:", f":{os.getpid()}:{id(object()) & 0xFFFF:x}"
    room = max(max_length - len(prefix) - len(suffix), 0)
    return f"{prefix}{socket.gethostname()[:room]}{suffix}"[-max_length:]


def checked_worker_id(worker_id: str) -> str:
    """`worker_id` if the database can store it as a lease owner; otherwise a UserFacingError saying why.

    Longer, every claim would fail on PostgreSQL (SQLite doesn't enforce the length) while the worker looked
    healthy."""
    if len(worker_id) > MAX_WORKER_ID_LENGTH:
        raise UserFacingError(
            f"The worker id {worker_id[:20]!r}... is {len(worker_id)} characters long; "
            f"the limit is {MAX_WORKER_ID_LENGTH}. Choose a shorter --worker-id."
        )
    return worker_id


class WakeUps(Protocol):
    """News of work from other processes: calls the registered `wake`s (on the event loop) when it arrives."""

    def on_jobs_queued(self, wake: Wake) -> None:
        """Call `wake` when a grading job becomes available (an answer stored, a job requeued)."""
        ...

    def on_deliveries_pending(self, wake: Wake) -> None:
        """Call `wake` when feedback becomes ready to deliver (a job completed or failed for good)."""
        ...


class _Loop:
    """Shared wake/stop plumbing: sleep until the poll interval passes, `wake()` is called, or stop is set."""

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self) -> None:
        """Look at the queue now (call after submitting an answer in the same process)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _looking(self) -> None:
        """About to look at the queue: what any wake so far announced, this look will find."""
        self._wake.clear()

    async def _nap(self, seconds: float) -> None:
        if self.stopping:  # `stop()` may have come between `_looking()` and here
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()


class GradingWorker(_Loop):
    """Grades queued answers with bounded concurrency; survives crashes of itself and its peers.

    Each loop: reclaim expired leases (at start and every `reclaim_interval`), lease as many jobs as there
    are free slots, grade each in its own task, and complete or fail it. `lease_seconds` must exceed the
    grader's worst case (timeout x (retries + 1)); a job whose lease expires is graded again elsewhere,
    and this worker's late result is discarded by the queue. Grades that finish together are stored together
    (`complete_many`, at most `concurrency` to a transaction); `item_specific(error)` says whether a failed batch
    may be one grade's fault, and so is worth storing grade by grade (`GroupCommit`).
    """

    def __init__(
        self,
        queue: GradingQueue,
        grader: Grader,
        rubric_for: RubricFor,
        *,
        worker_id: str | None = None,
        concurrency: int = 4,
        lease_seconds: float = 300.0,
        poll_interval: float = 1.0,
        reclaim_interval: float | None = None,
        item_specific: Callable[[Exception], bool] = lambda error: False,
    ) -> None:
        super().__init__(poll_interval)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.queue = queue
        self.grader = grader
        self.rubric_for = rubric_for
        self.worker_id = checked_worker_id(worker_id or default_worker_id())
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        # Look for expired leases often enough that a crashed peer's jobs wait about one lease, not 30 s more.
        self.reclaim_interval = reclaim_interval if reclaim_interval is not None else min(30.0, lease_seconds / 2)
        self.graded = 0
        self.failed = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._last_reclaim = float("-inf")
        self._completions = GroupCommit(queue.complete_many, concurrency, item_specific=item_specific)

    def listen_to(self, wake_ups: WakeUps) -> None:
        """Claim as soon as another process queues a job, instead of at the next poll."""
        wake_ups.on_jobs_queued(self.wake)

    async def run(self, *, until_idle: bool = False) -> None:
        """Work until `stop()` (or, with `until_idle`, until the queue has nothing for this worker)."""
        try:
            while not self.stopping:
                await self._maybe_reclaim()
                claimed = await self._claim()
                if claimed is None:  # the database failed, which says nothing about the queue being empty
                    await self._nap(self.poll_interval)
                    continue
                if until_idle and not claimed and not self._in_flight:
                    return
                if len(self._in_flight) >= self.concurrency:
                    await asyncio.wait(self._in_flight, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
                else:  # a free slot: a finished job (`_finished`) or new work (`wake`) ends the nap
                    await self._nap(self.poll_interval)
        finally:
            if self._in_flight:  # finish what we hold rather than leave it to lease expiry
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _maybe_reclaim(self) -> None:
        if time.monotonic() - self._last_reclaim < self.reclaim_interval:
            return
        self._last_reclaim = time.monotonic()
        try:
            reclaimed = await self.queue.reclaim_expired()
        except Exception:
            log.exception("reclaiming expired grading leases failed")
            return
        if reclaimed:
            log.warning("returned %d expired grading leases to the queue", reclaimed)

    async def _claim(self) -> list[ClaimedJob] | None:
        """Lease jobs for the free slots and start grading them; None when the claim itself failed."""
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return []
        self._looking()
        try:
            jobs = await self.queue.claim_jobs(self.worker_id, free, self.lease_seconds)
        except Exception:
            log.exception("claiming grading jobs failed; retrying in %.1fs", self.poll_interval)
            return None
        for job in jobs:
            task = asyncio.create_task(self._process(job), name=f"grade-attempt-{job.attempt.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return jobs

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self.wake()

    async def _process(self, job: ClaimedJob) -> None:
        attempt = job.attempt
        try:
            try:
                rubric = self.rubric_for(attempt)
                if inspect.isawaitable(rubric):
                    rubric = await rubric
            except Exception as error:
                log.warning("no rubric for attempt %d (question %s): %r", attempt.id, attempt.question_id, error)
                await self._fail(job, f"no rubric for question {attempt.question_id}: {error}", retryable=False)
                return
            try:
                grade = await self.grader.grade(rubric, attempt.answer)
            except GraderUnavailableError as error:
                await self._fail(job, error.reason, retryable=error.retryable)
                return
            except Exception as error:
                log.exception("grader crashed on attempt %d", attempt.id)
                await self._fail(job, f"grader error: {type(error).__name__}", retryable=True)
                return
            if await self._completions.store((job, grade)) is None:
                log.warning("lease on attempt %d expired before its grade was stored; discarded", attempt.id)
            else:
                self.graded += 1
        except Exception:  # the database itself: the lease will expire and the job will be reclaimed
            log.exception("storing the outcome of attempt %d failed", attempt.id)

    async def _fail(self, job: ClaimedJob, error: str, *, retryable: bool) -> None:
        outcome = await self.queue.fail(job, error, retryable=retryable)
        if outcome == "failed":
            self.failed += 1
        log.info("grading attempt %d failed (try %d): %s -> %s", job.attempt.id, job.tries, error, outcome)


class Notifier(_Loop):
    """Delivers feedback once per attempt: lease pending deliveries, `deliver` each, mark it delivered.

    `deliver(item)` sends the grade (or the news that grading failed: check `item.attempt.status`) to
    `item.delivery`. If it raises, the delivery is retried after a backoff and dropped after the queue's
    `max_delivery_tries`. Deliveries that finish together are marked together (`mark_delivered_many`;
    `item_specific` as for `GradingWorker`).
    """

    def __init__(
        self,
        queue: GradingQueue,
        deliver: Deliver,
        *,
        worker_id: str | None = None,
        batch_size: int = 20,
        concurrency: int = 20,  # sends are Discord REST calls: I/O, each to its own interaction's webhook
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        item_specific: Callable[[Exception], bool] = lambda error: False,
    ) -> None:
        super().__init__(poll_interval)
        self.queue = queue
        self.deliver = deliver
        self.worker_id = checked_worker_id(worker_id or default_worker_id("notifier"))
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self._marks = GroupCommit(queue.mark_delivered_many, max(batch_size, 1), item_specific=item_specific)
        self.delivered = 0

    def listen_to(self, wake_ups: WakeUps) -> None:
        """Deliver as soon as another process finishes a grade, instead of at the next poll."""
        wake_ups.on_deliveries_pending(self.wake)

    async def run_once(self) -> int:
        """Deliver one batch; returns how many deliveries it claimed.

        It leases no more than it sends at once, so each lease runs only as long as its own send: a delivery left
        waiting for a free slot could see its lease expire meanwhile, and another process's notifier send it too.
        """
        self._looking()
        limit = min(self.batch_size, self.concurrency)
        items = await self.queue.claim_deliveries(self.worker_id, limit, self.lease_seconds)
        if items:
            await asyncio.gather(*(self._send(item) for item in items))
        return len(items)

    async def run(self, *, until_idle: bool = False) -> None:
        while not self.stopping:
            try:
                claimed = await self.run_once()
            except Exception:  # the database failed, which says nothing about there being nothing to deliver
                log.exception("claiming deliveries failed; retrying in %.1fs", self.poll_interval)
                await self._nap(self.poll_interval)
                continue
            if not claimed:
                if until_idle:
                    return
                await self._nap(self.poll_interval)

    async def _send(self, item: PendingDelivery) -> None:
        try:
            await self.deliver(item)
        except Exception as error:
            log.warning("delivering feedback for attempt %d failed: %r", item.attempt.id, error)
            try:
                await self.queue.release_delivery(item, repr(error))
            except Exception:
                log.exception("releasing delivery of attempt %d failed", item.attempt.id)
            return
        try:
            if await self._marks.store(item):
                self.delivered += 1
            else:
                log.warning("delivery lease of attempt %d expired while sending", item.attempt.id)
        except Exception:
            log.exception("marking attempt %d delivered failed", item.attempt.id)
