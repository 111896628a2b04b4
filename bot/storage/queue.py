"""The durable grading queue and the delivery outbox, in the `grading_jobs` and `attempts` tables.

Jobs: `queued` → (`claim_jobs`) `leased` → `done` | back to `queued` with a backoff | `failed`.
A lease is (owner, try number, expiry). Only the current lease may complete or fail a job, so a worker that
stalled past its lease (its job since reclaimed and leased again) can't store a second grade.

* PostgreSQL claims with `SELECT ... FOR UPDATE SKIP LOCKED` inside the `UPDATE ... RETURNING`, so workers in
  many processes never wait on each other's rows.
* SQLite runs the same statement (SQLAlchemy drops `FOR UPDATE` there) under `BEGIN IMMEDIATE`: the database
  has one writer at a time, so the read-then-lease is atomic.

Completing a job stores the grade, marks the job done and, when the answer came with a delivery target,
marks the feedback `pending` delivery, all in one transaction. `complete_many` does that for a batch of grades
in one transaction of three statements: a group commit, so a write transaction (BEGIN IMMEDIATE, SQLite's one
writer) is paid per batch, not per answer. Notifiers lease pending deliveries the same way
(`claim_deliveries`), send, and `mark_delivered` (`mark_delivered_many`: one UPDATE per batch). A notifier that
dies after sending but before marking would let its delivery be sent again after the lease expires: delivery is
at-least-once at that single point and exactly-once otherwise; adapters can make the send idempotent with the
attempt id.

On PostgreSQL every transaction that makes work available also sends a NOTIFY (`bot.storage.wakeups`), delivered
at commit: a queued or requeued job wakes the workers of every process, a delivery that became pending wakes the
notifiers. A retry after a backoff sends none (nothing is available before the backoff; the poll finds it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, Row, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.models import Attempt, AttemptStatus, ClaimedJob, GradeResult, PendingDelivery
from bot.core.ports import Clock, SystemClock
from bot.storage.attempts import attempt_from_row, grade_values
from bot.storage.engine import write_transaction
from bot.storage.tables import attempts, grading_jobs
from bot.storage.wakeups import notify_deliveries_pending, notify_jobs_queued

FailOutcome = Literal["retry", "failed", "lost"]

DEFAULT_MAX_TRIES = 5
DEFAULT_MAX_DELIVERY_TRIES = 8


# The statements every answer runs are built once: a statement object keeps its SQLAlchemy cache key, so running it
# again skips re-coercing and re-keying it (issue 8); each execution passes only its parameters.
_claimable_jobs = (
    select(grading_jobs.c.id)
    .where(grading_jobs.c.status == "queued", grading_jobs.c.available_at <= bindparam("now"))
    .order_by(grading_jobs.c.available_at, grading_jobs.c.id)
    .limit(bindparam("claim_limit", type_=Integer))
    .with_for_update(skip_locked=True)
    # A materialized CTE runs once. As a plain `IN (subquery)`, PostgreSQL may rescan it, and with SKIP LOCKED
    # each rescan finds *other* rows: one claim could lease more than `limit` jobs.
    .cte("claimable")
    .prefix_with("MATERIALIZED")
)
_LEASE_JOBS = (
    update(grading_jobs)
    .where(grading_jobs.c.id.in_(select(_claimable_jobs.c.id)), grading_jobs.c.status == "queued")
    .values(
        status="leased",
        lease_owner=bindparam("worker_id"),
        lease_expires_at=bindparam("expires"),
        tries=grading_jobs.c.tries + 1,
        updated_at=bindparam("now"),
    )
    .returning(grading_jobs.c.id, grading_jobs.c.attempt_id, grading_jobs.c.tries)
)
_ATTEMPTS_BY_IDS = select(attempts).where(attempts.c.id.in_(bindparam("attempt_ids", expanding=True)))
_STORE_GRADES = update(attempts).where(attempts.c.id == bindparam("graded_attempt_id"))  # SET: each row's keys
# A batch names its leases as (id, owner, try) rows, so one statement serves every batch size; `id IN` alone
# keeps the primary-key lookup (SQLite would otherwise scan the status index for the row-value IN).
_FINISH_HELD_JOBS = (
    update(grading_jobs)
    .where(
        grading_jobs.c.id.in_(bindparam("job_ids", expanding=True)),
        grading_jobs.c.status == "leased",
        tuple_(grading_jobs.c.id, grading_jobs.c.lease_owner, grading_jobs.c.tries).in_(
            bindparam("leases", expanding=True)
        ),
    )
    .values(status="done", lease_owner=None, lease_expires_at=None, last_error=None, updated_at=bindparam("now"))
    .returning(
        grading_jobs.c.id,
        grading_jobs.c.tries,
        select(attempts.c.delivery).where(attempts.c.id == grading_jobs.c.attempt_id).scalar_subquery(),
    )
)

_free_deliveries = and_(
    attempts.c.delivery_status == "pending",
    or_(attempts.c.delivery_lease_expires_at.is_(None), attempts.c.delivery_lease_expires_at <= bindparam("now")),
)
_deliverable = (
    select(attempts.c.id)
    .where(_free_deliveries)
    .order_by(attempts.c.id)
    .limit(bindparam("claim_limit", type_=Integer))
    .with_for_update(skip_locked=True)
    .cte("deliverable")
    .prefix_with("MATERIALIZED")  # run once: see _claimable_jobs
)
_MARK_HELD_DELIVERED = (  # the leases as (id, owner, try) rows: see _FINISH_HELD_JOBS
    update(attempts)
    .where(
        attempts.c.id.in_(bindparam("attempt_ids", expanding=True)),
        attempts.c.delivery_status == "pending",
        tuple_(attempts.c.id, attempts.c.delivery_lease_owner, attempts.c.delivery_tries).in_(
            bindparam("leases", expanding=True)
        ),
    )
    .values(
        delivery_status="delivered",
        delivered_at=bindparam("now"),
        delivery_lease_owner=None,
        delivery_lease_expires_at=None,
    )
    .returning(attempts.c.id)
)
_LEASE_DELIVERIES = (
    update(attempts)
    .where(attempts.c.id.in_(select(_deliverable.c.id)), _free_deliveries)
    .values(
        delivery_lease_owner=bindparam("worker_id"),
        delivery_lease_expires_at=bindparam("expires"),
        delivery_tries=attempts.c.delivery_tries + 1,
    )
    .returning(attempts)
)


def _delivery_status(delivery: object) -> str:
    """An answer with a delivery target has its feedback (grade or failure) queued for the notifier."""
    return "pending" if delivery else "none"


class SqlGradingQueue:
    """`GradingQueue` over SQLAlchemy Core: the same statements on SQLite and PostgreSQL."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock | None = None,
        *,
        max_tries: int = DEFAULT_MAX_TRIES,
        backoff_base_s: float = 5.0,
        backoff_max_s: float = 600.0,
        max_delivery_tries: int = DEFAULT_MAX_DELIVERY_TRIES,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.max_tries = max_tries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_delivery_tries = max_delivery_tries

    def backoff(self, tries: int) -> timedelta:
        """Delay before try `tries + 1`: exponential from `backoff_base_s`, capped at `backoff_max_s`."""
        return timedelta(seconds=min(self.backoff_base_s * 2 ** max(tries - 1, 0), self.backoff_max_s))

    # --- grading jobs

    async def claim_jobs(self, worker_id: str, limit: int, lease_seconds: float) -> list[ClaimedJob]:
        """Lease up to `limit` available jobs to `worker_id`; never hands one job to two workers."""
        if limit <= 0:
            return []
        now = self.clock.now()
        expires = now + timedelta(seconds=lease_seconds)
        lease = {"now": now, "claim_limit": limit, "worker_id": worker_id, "expires": expires}
        async with write_transaction(self.engine) as connection:
            leased = (await connection.execute(_LEASE_JOBS, lease)).all()
            if not leased:
                return []
            attempt_ids = [job.attempt_id for job in leased]
            rows = (await connection.execute(_ATTEMPTS_BY_IDS, {"attempt_ids": attempt_ids})).all()
        by_id = {row.id: attempt_from_row(row) for row in rows}
        jobs = [
            ClaimedJob(
                job_id=job.id,
                attempt=by_id[job.attempt_id],
                tries=job.tries,
                lease_owner=worker_id,
                lease_expires_at=expires,
            )
            for job in leased
        ]
        return sorted(jobs, key=lambda job: job.job_id)

    @staticmethod
    def _holds(job: ClaimedJob) -> ColumnElement[bool]:
        return and_(
            grading_jobs.c.id == job.job_id,
            grading_jobs.c.status == "leased",
            grading_jobs.c.lease_owner == job.lease_owner,
            grading_jobs.c.tries == job.tries,
        )

    async def complete(self, job: ClaimedJob, grade: GradeResult) -> Attempt | None:
        """Store the grade, finish the job and queue the feedback for delivery, atomically.

        Returns the graded attempt, or None when this lease was lost (expired and reclaimed): the grade is
        then discarded, because another lease owns the job now.
        """
        [graded] = await self.complete_many([(job, grade)])
        return graded

    async def complete_many(self, results: Sequence[tuple[ClaimedJob, GradeResult]]) -> list[Attempt | None]:
        """`complete` for a batch of grades in one transaction (a group commit): one graded attempt or None each.

        The statements are per batch, not per grade: one UPDATE finishes every job whose lease is still held
        (returning each one's delivery target), one executemany stores the grades and one SELECT reads back the
        attempts. A lost lease discards only its own grade.
        """
        if not results:
            return []
        now = self.clock.now()
        leases = {
            "job_ids": [job.job_id for job, _ in results],
            "leases": [(job.job_id, job.lease_owner, job.tries) for job, _ in results],
            "now": now,
        }
        async with write_transaction(self.engine) as connection:
            finished = await connection.execute(_FINISH_HELD_JOBS, leases)
            # By lease, not by job: a batch can hold a job's current try beside a stale one of the same worker
            # (it reclaimed its own expired lease), and only the current try's grade may be stored.
            delivery_status = {(job_id, tries): _delivery_status(delivery) for job_id, tries, delivery in finished}
            # In attempt-id order, so concurrent batches lock their rows in the same order.
            held = sorted(
                ((job, grade) for job, grade in results if (job.job_id, job.tries) in delivery_status),
                key=lambda pair: pair[0].attempt.id,
            )
            if not held:
                return [None] * len(results)
            await connection.execute(
                _STORE_GRADES,
                [
                    {
                        "graded_attempt_id": job.attempt.id,
                        **grade_values(grade, now),
                        "delivery_status": delivery_status[job.job_id, job.tries],
                    }
                    for job, grade in held
                ],
            )
            if "pending" in delivery_status.values():
                await notify_deliveries_pending(connection)
            attempt_ids = [job.attempt.id for job, _ in held]
            rows = (await connection.execute(_ATTEMPTS_BY_IDS, {"attempt_ids": attempt_ids})).all()
        graded = {row.id: attempt_from_row(row) for row in rows}
        return [graded[job.attempt.id] if (job.job_id, job.tries) in delivery_status else None for job, _ in results]

    async def fail(self, job: ClaimedJob, error: str, *, retryable: bool = True) -> FailOutcome:
        """Put the job back with a backoff, or give up after `max_tries` (or at once when not retryable).

        Giving up marks the attempt `failed` (the answer stays stored for a regrade) and, when it has a
        delivery target, queues that news for the notifier.
        """
        now = self.clock.now()
        error = error[:2000]
        async with write_transaction(self.engine) as connection:
            if retryable and job.tries < self.max_tries:
                retried = await connection.execute(
                    update(grading_jobs)
                    .where(self._holds(job))
                    .values(
                        status="queued",
                        lease_owner=None,
                        lease_expires_at=None,
                        available_at=now + self.backoff(job.tries),
                        last_error=error,
                        updated_at=now,
                    )
                    .returning(grading_jobs.c.id)
                )
                return "retry" if retried.first() is not None else "lost"
            given_up = await connection.execute(
                update(grading_jobs)
                .where(self._holds(job))
                .values(status="failed", lease_owner=None, lease_expires_at=None, last_error=error, updated_at=now)
                .returning(grading_jobs.c.attempt_id)
            )
            if given_up.first() is None:
                return "lost"
            await self._fail_attempts(connection, [job.attempt.id], error)
        return "failed"

    async def reclaim_expired(self, now: datetime | None = None) -> int:
        """Return expired leases to the queue (a crashed or stalled worker); give up on jobs out of tries.

        Run it when a worker starts and periodically. Returns how many jobs were requeued or given up.
        """
        now = now or self.clock.now()
        expired = and_(grading_jobs.c.status == "leased", grading_jobs.c.lease_expires_at < now)
        async with write_transaction(self.engine) as connection:
            exhausted = (
                await connection.execute(
                    update(grading_jobs)
                    .where(expired, grading_jobs.c.tries >= self.max_tries)
                    .values(
                        status="failed",
                        lease_owner=None,
                        lease_expires_at=None,
                        last_error="the lease expired on every try (the worker crashed or stalled)",
                        updated_at=now,
                    )
                    .returning(grading_jobs.c.attempt_id)
                )
            ).all()
            if exhausted:
                await self._fail_attempts(
                    connection, [row.attempt_id for row in exhausted], "grading did not finish; the answer is saved"
                )
            requeued = (
                await connection.execute(
                    update(grading_jobs)
                    .where(expired)
                    .values(status="queued", lease_owner=None, lease_expires_at=None, available_at=now, updated_at=now)
                    .returning(grading_jobs.c.id)
                )
            ).all()
            if requeued:
                await notify_jobs_queued(connection)
        return len(exhausted) + len(requeued)

    async def requeue(self, attempt_id: int) -> bool:
        """Grade a finished or failed attempt again (a regrade): back to pending with a fresh job.

        Refuses (returns False) while the job is queued or leased, so a regrade never races a worker.
        """
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            reset = await connection.execute(
                update(grading_jobs)
                .where(grading_jobs.c.attempt_id == attempt_id, grading_jobs.c.status.in_(["done", "failed"]))
                .values(
                    status="queued",
                    tries=0,
                    lease_owner=None,
                    lease_expires_at=None,
                    available_at=now,
                    last_error=None,
                    updated_at=now,
                )
                .returning(grading_jobs.c.id)
            )
            if reset.first() is None:
                return False
            await connection.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id)
                .values(
                    status=AttemptStatus.PENDING.value,
                    error=None,
                    delivery_status="none",
                    delivery_lease_owner=None,
                    delivery_lease_expires_at=None,
                    delivery_tries=0,
                )
            )
            await notify_jobs_queued(connection)
        return True

    async def counts(self) -> dict[str, int]:
        """Jobs per status (for metrics and tests)."""
        async with self.engine.connect() as connection:
            rows = (
                await connection.execute(select(grading_jobs.c.status, func.count()).group_by(grading_jobs.c.status))
            ).all()
        return {str(status): int(count) for status, count in rows}

    async def _delivery_status_after(self, connection: AsyncConnection, attempt_id: int) -> str:
        return _delivery_status(await connection.scalar(select(attempts.c.delivery).where(attempts.c.id == attempt_id)))

    async def _fail_attempts(self, connection: AsyncConnection, attempt_ids: Sequence[int], error: str) -> None:
        """Mark the attempts failed; the ones with a delivery target get that news queued for the notifiers."""
        pending = False
        for attempt_id in attempt_ids:
            delivery_status = await self._delivery_status_after(connection, attempt_id)
            failed = await connection.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id, attempts.c.status == AttemptStatus.PENDING.value)
                .values(status=AttemptStatus.FAILED.value, error=error, delivery_status=delivery_status)
            )
            pending = pending or (delivery_status == "pending" and failed.rowcount > 0)
        if pending:
            await notify_deliveries_pending(connection)

    # --- deliveries

    async def claim_deliveries(self, worker_id: str, limit: int, lease_seconds: float = 60.0) -> list[PendingDelivery]:
        """Lease up to `limit` pending deliveries whose lease is free (none, or expired)."""
        if limit <= 0:
            return []
        now = self.clock.now()
        expires = now + timedelta(seconds=lease_seconds)
        lease = {"now": now, "claim_limit": limit, "worker_id": worker_id, "expires": expires}
        async with write_transaction(self.engine) as connection:
            rows = (await connection.execute(_LEASE_DELIVERIES, lease)).all()
        return sorted((self._pending(row) for row in rows), key=lambda item: item.attempt.id)

    @staticmethod
    def _pending(row: Row[Any]) -> PendingDelivery:
        return PendingDelivery(
            attempt=attempt_from_row(row),
            delivery=dict(row.delivery or {}),
            tries=row.delivery_tries,
            lease_owner=row.delivery_lease_owner,
        )

    @staticmethod
    def _holds_delivery(item: PendingDelivery) -> ColumnElement[bool]:
        return and_(
            attempts.c.id == item.attempt.id,
            attempts.c.delivery_status == "pending",
            attempts.c.delivery_lease_owner == item.lease_owner,
            attempts.c.delivery_tries == item.tries,
        )

    async def mark_delivered(self, item: PendingDelivery) -> bool:
        """Record a successful delivery; False when this lease was lost (someone else owns it now)."""
        [marked] = await self.mark_delivered_many([item])
        return marked

    async def mark_delivered_many(self, items: Sequence[PendingDelivery]) -> list[bool]:
        """`mark_delivered` for a batch in one transaction and one UPDATE: True or False (lease lost) each."""
        if not items:
            return []
        now = self.clock.now()
        leases = {
            "attempt_ids": [item.attempt.id for item in items],
            "leases": [(item.attempt.id, item.lease_owner, item.tries) for item in items],
            "now": now,
        }
        async with write_transaction(self.engine) as connection:
            result = await connection.execute(_MARK_HELD_DELIVERED, leases)
            marked = set(result.scalars())
        return [item.attempt.id in marked for item in items]

    async def release_delivery(self, item: PendingDelivery, error: str) -> FailOutcome:
        """A delivery failed: retry after a backoff (the lease expiry doubles as "not before"), or give up."""
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            if item.tries < self.max_delivery_tries:
                values: dict[str, Any] = {
                    "delivery_lease_owner": None,
                    "delivery_lease_expires_at": now + self.backoff(item.tries),
                }
                outcome: FailOutcome = "retry"
            else:
                values = {"delivery_status": "failed", "delivery_lease_owner": None, "delivery_lease_expires_at": None}
                outcome = "failed"
            result = await connection.execute(
                update(attempts).where(self._holds_delivery(item)).values(values).returning(attempts.c.id)
            )
            return outcome if result.first() is not None else "lost"
