"""The grading queue and delivery outbox: leases, completion, retries, reclaim, exactly-once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import Attempt, AttemptStatus, ClaimedJob, GradeResult, PendingDelivery, Rubric
from bot.pipeline import GradingWorker, Notifier
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine, not_a_database_outage
from bot.storage.queue import SqlGradingQueue
from bot.storage.tables import attempts, grading_jobs
from tests.storage._storage_helpers import FakeGrader, FixedClock, fake_score, rubric_for, submission

GRADE = GradeResult(score=8.0, grader="fake")


async def _job_row(engine: AsyncEngine, attempt_id: int) -> object:
    async with engine.connect() as connection:
        return (await connection.execute(select(grading_jobs).where(grading_jobs.c.attempt_id == attempt_id))).one()


async def _attempt_row(engine: AsyncEngine, attempt_id: int) -> object:
    async with engine.connect() as connection:
        return (await connection.execute(select(attempts).where(attempts.c.id == attempt_id))).one()


class RecordingQueue(SqlGradingQueue):
    """The real queue, recording the attempt ids of every completion and delivery transaction.

    `complete` and `mark_delivered` go through the batch forms, so every transaction is recorded. Clear `open`
    to hold completions (a slow flush; `completing` is set once one has started); `before_complete` runs inside
    each one before it stores anything.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.completions: list[list[int]] = []
        self.deliveries: list[list[int]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.completing = asyncio.Event()
        self.before_complete: Callable[[Sequence[tuple[ClaimedJob, GradeResult]]], Awaitable[None]] | None = None

    async def complete_many(self, results: Sequence[tuple[ClaimedJob, GradeResult]]) -> list[Attempt | None]:
        self.completions.append([job.attempt.id for job, _ in results])
        self.completing.set()
        await self.open.wait()
        if self.before_complete is not None:
            await self.before_complete(results)
        return await super().complete_many(results)

    async def mark_delivered_many(self, items: Sequence[PendingDelivery]) -> list[bool]:
        self.deliveries.append([item.attempt.id for item in items])
        return await super().mark_delivered_many(items)


class BarrierGrader:
    """Grades `parties` answers at once: each waits until all have started, so they all finish together."""

    name = "barrier"

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.started = 0
        self.all_started = asyncio.Event()

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        self.started += 1
        if self.started == self.parties:
            self.all_started.set()
        await self.all_started.wait()
        return GradeResult(score=fake_score(answer), grader="fake")


async def test_claim_leases_oldest_jobs_and_never_the_same_job_twice(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    stored = await repo.submit_answers([submission(1, n) for n in range(5)])
    first = await queue.claim_jobs("w1", 3, 60)
    second = await queue.claim_jobs("w2", 10, 60)
    assert [j.attempt.id for j in first] == [a.id for a in stored[:3]]
    assert [j.attempt.id for j in second] == [a.id for a in stored[3:]]
    assert await queue.claim_jobs("w3", 10, 60) == []
    assert first[0].tries == 1 and first[0].lease_expires_at == clock.now() + timedelta(seconds=60)
    assert await queue.counts() == {"leased": 5}


async def test_complete_stores_grade_finishes_job_and_queues_delivery_in_one_step(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), SqlGradingQueue(engine)
    with_target = await repo.submit_answer(submission(1, 1, delivery={"channel_id": 9}))
    without_target = await repo.submit_answer(submission(1, 2))
    jobs = await queue.claim_jobs("w", 10, 60)
    for job in jobs:
        graded = await queue.complete(job, GRADE)
        assert graded is not None and graded.status is AttemptStatus.GRADED and graded.grade == GRADE
    assert (await _attempt_row(engine, with_target.id)).delivery_status == "pending"  # type: ignore[attr-defined]
    assert (await _attempt_row(engine, without_target.id)).delivery_status == "none"  # type: ignore[attr-defined]
    assert (await _job_row(engine, with_target.id)).status == "done"  # type: ignore[attr-defined]


async def test_a_lost_lease_cannot_complete_or_fail(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    attempt = await repo.submit_answer(submission())
    [stale] = await queue.claim_jobs("slow", 1, 10)
    clock.advance(seconds=11)
    assert await queue.reclaim_expired() == 1
    [fresh] = await queue.claim_jobs("fast", 1, 10)
    assert await queue.complete(stale, GRADE) is None
    assert await queue.fail(stale, "late") == "lost"
    assert (await repo.get_attempt(attempt.id)).status is AttemptStatus.PENDING
    assert await queue.complete(fresh, GRADE) is not None
    assert (await _job_row(engine, attempt.id)).tries == 2  # type: ignore[attr-defined]


async def test_a_stale_try_batched_with_the_current_try_of_its_job_is_discarded(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    attempt = await repo.submit_answer(submission())
    [stale] = await queue.claim_jobs("w", 1, 10)
    clock.advance(seconds=11)
    assert await queue.reclaim_expired() == 1
    [current] = await queue.claim_jobs("w", 1, 10)  # the same worker leases its own job again: try 2
    late, fresh = GradeResult(score=1.0, grader="try 1, late"), GradeResult(score=9.0, grader="try 2")
    # Both tries finish during one flush, so they share a batch (the worker's group commit).
    outcomes = await queue.complete_many([(current, fresh), (stale, late)])
    assert outcomes[1] is None
    assert outcomes[0] is not None and outcomes[0].grade is not None and outcomes[0].grade.grader == "try 2"
    stored = (await repo.get_attempt(attempt.id)).grade
    assert stored is not None and stored.grader == "try 2"


async def test_complete_many_stores_held_grades_in_one_go_and_discards_lost_ones(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    with_target, lost, without_target = await repo.submit_answers(
        [submission(1, 1, delivery={"channel_id": 9}), submission(1, 2, delivery={"dm": 1}), submission(1, 3)]
    )
    jobs = await queue.claim_jobs("w", 10, 60)
    [stale] = [job for job in jobs if job.attempt.id == lost.id]
    async with engine.begin() as connection:  # another worker took that job over after its lease expired
        await connection.execute(
            update(grading_jobs).where(grading_jobs.c.id == stale.job_id).values(lease_owner="other", tries=2)
        )
    grades = [GradeResult(score=float(n), grader="fake") for n in range(3)]
    batch = list(zip(jobs, grades, strict=True))[::-1]  # outcomes come back in the batch's order
    graded = await queue.complete_many(batch)
    assert [attempt.id if attempt else None for attempt in graded] == [without_target.id, None, with_target.id]
    assert [attempt.grade for attempt in graded if attempt] == [grades[2], grades[0]]
    assert all(attempt.status is AttemptStatus.GRADED for attempt in graded if attempt)
    rows = {a.id: await _attempt_row(engine, a.id) for a in (with_target, lost, without_target)}
    assert [(r.status, r.delivery_status) for r in rows.values()] == [  # type: ignore[attr-defined]
        ("graded", "pending"),
        ("pending", "none"),  # the lost grade is discarded: nothing queued for delivery either
        ("graded", "none"),
    ]
    assert (await _job_row(engine, lost.id)).status == "leased"  # type: ignore[attr-defined]
    assert (await _job_row(engine, with_target.id)).status == "done"  # type: ignore[attr-defined]
    assert await queue.complete_many([]) == []
    assert await queue.complete_many(batch) == [None, None, None]  # done already


async def test_mark_delivered_many_marks_held_deliveries_and_refuses_lost_ones(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    await repo.submit_answers([submission(1, n, delivery={"channel_id": n}) for n in range(3)])
    await queue.complete_many([(job, GRADE) for job in await queue.claim_jobs("w", 10, 60)])
    taken, second, third = await queue.claim_deliveries("n1", 10, lease_seconds=5)
    clock.advance(seconds=6)
    [fresh] = await queue.claim_deliveries("n2", 1)  # takes over the oldest expired lease
    assert fresh.attempt.id == taken.attempt.id
    assert await queue.mark_delivered_many([]) == []
    assert await queue.mark_delivered_many([taken, second, third]) == [False, True, True]
    assert (await _attempt_row(engine, taken.attempt.id)).delivery_status == "pending"  # type: ignore[attr-defined]
    row = await _attempt_row(engine, third.attempt.id)
    assert (row.delivery_status, row.delivered_at) == ("delivered", clock.now())  # type: ignore[attr-defined]
    assert await queue.mark_delivered_many([fresh, third]) == [True, False]  # third was delivered already
    assert await queue.claim_deliveries("n3", 10) == []


async def test_reclaim_leaves_live_leases_alone(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    await repo.submit_answer(submission())
    await queue.claim_jobs("w", 1, 30)
    clock.advance(seconds=29)
    assert await queue.reclaim_expired() == 0
    assert await queue.counts() == {"leased": 1}


async def test_fail_backs_off_exponentially_then_gives_up_and_queues_the_bad_news(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo = SqlAttemptRepository(engine, clock)
    queue = SqlGradingQueue(engine, clock, max_tries=3, backoff_base_s=10)
    attempt = await repo.submit_answer(submission(delivery={"dm": 1}))
    delays = []
    for _ in range(2):
        [job] = await queue.claim_jobs("w", 1, 60)
        assert await queue.fail(job, "timeout") == "retry"
        row = await _job_row(engine, attempt.id)
        delays.append((row.available_at - clock.now()).total_seconds())  # type: ignore[attr-defined]
        assert await queue.claim_jobs("w", 1, 60) == []  # not available before the backoff
        clock.current = row.available_at  # type: ignore[attr-defined]
    assert delays == [10, 20]
    [job] = await queue.claim_jobs("w", 1, 60)
    assert job.tries == 3
    assert await queue.fail(job, "timeout again") == "failed"
    row = await _attempt_row(engine, attempt.id)
    assert (row.status, row.error, row.delivery_status) == ("failed", "timeout again", "pending")  # type: ignore[attr-defined]
    assert await queue.counts() == {"failed": 1}


async def test_a_job_whose_worker_keeps_dying_is_given_up_after_max_tries(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo = SqlAttemptRepository(engine, clock)
    queue = SqlGradingQueue(engine, clock, max_tries=2)
    attempt = await repo.submit_answer(submission())
    for _ in range(2):
        assert len(await queue.claim_jobs("doomed", 1, 5)) == 1
        clock.advance(seconds=6)
        assert await queue.reclaim_expired() == 1
    assert (await repo.get_attempt(attempt.id)).status is AttemptStatus.FAILED
    assert await queue.claim_jobs("w", 1, 5) == []


async def test_requeue_regrades_a_failed_attempt(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), SqlGradingQueue(engine)
    attempt = await repo.submit_answer(submission())
    [job] = await queue.claim_jobs("w", 1, 60)
    assert await queue.requeue(attempt.id) is False  # never while a worker holds it
    await queue.fail(job, "refused", retryable=False)
    assert await queue.requeue(attempt.id) is True
    [again] = await queue.claim_jobs("w", 1, 60)
    assert again.tries == 1 and again.attempt.status is AttemptStatus.PENDING


async def test_concurrent_claimers_on_separate_engines_split_the_jobs(db_url: str) -> None:
    engines = [create_engine(db_url) for _ in range(4)]
    try:
        await SqlAttemptRepository(engines[0]).submit_answers([submission(1, n) for n in range(200)])
        queues = [SqlGradingQueue(e) for e in engines]

        async def drain(index: int) -> list[int]:
            taken: list[int] = []
            while jobs := await queues[index % 4].claim_jobs(f"w{index}", 3, 60):
                taken += [job.attempt.id for job in jobs]
            return taken

        results = await asyncio.gather(*(drain(i) for i in range(8)))
        claimed = [attempt_id for taken in results for attempt_id in taken]
        assert len(claimed) == 200 and len(set(claimed)) == 200
    finally:
        for e in engines:
            await e.dispose()


async def test_two_notifiers_deliver_each_feedback_exactly_once(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), SqlGradingQueue(engine)
    stored = await repo.submit_answers([submission(1, n, delivery={"channel_id": n}) for n in range(60)])
    for job in await queue.claim_jobs("w", 100, 60):
        await queue.complete(job, GRADE)
    sent: list[int] = []

    async def deliver(item: PendingDelivery) -> None:
        await asyncio.sleep(0.001)
        assert item.delivery == {"channel_id": int(item.attempt.answer.split()[1])}
        sent.append(item.attempt.id)

    notifiers = [Notifier(queue, deliver, worker_id=f"n{i}", batch_size=7) for i in range(2)]
    await asyncio.gather(*(n.run(until_idle=True) for n in notifiers))
    assert sorted(sent) == sorted(a.id for a in stored)
    assert sum(n.delivered for n in notifiers) == 60
    assert await queue.claim_deliveries("n3", 100) == []


async def test_a_failed_delivery_is_retried_after_backoff_and_then_dropped(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo = SqlAttemptRepository(engine, clock)
    queue = SqlGradingQueue(engine, clock, max_delivery_tries=2, backoff_base_s=30)
    attempt = await repo.submit_answer(submission(delivery={"dm": 1}))
    [job] = await queue.claim_jobs("w", 1, 60)
    await queue.complete(job, GRADE)
    [item] = await queue.claim_deliveries("n", 10)
    assert await queue.claim_deliveries("other", 10) == []  # leased
    assert await queue.release_delivery(item, "discord 503") == "retry"
    assert await queue.claim_deliveries("n", 10) == []
    clock.advance(seconds=30)
    [again] = await queue.claim_deliveries("n", 10)
    assert again.tries == 2
    assert await queue.release_delivery(again, "still down") == "failed"
    assert (await _attempt_row(engine, attempt.id)).delivery_status == "failed"  # type: ignore[attr-defined]
    assert await queue.mark_delivered(again) is False


async def test_a_notifier_leases_only_what_it_sends_at_once_so_slow_sends_are_never_sent_twice(
    engine: AsyncEngine,
) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    await repo.submit_answers([submission(1, n, delivery={"dm": n}) for n in range(4)])
    await queue.complete_many([(job, GRADE) for job in await queue.claim_jobs("w", 9, 60)])
    sent: list[int] = []

    async def record(item: PendingDelivery) -> None:
        sent.append(item.attempt.id)

    other = Notifier(queue, record, worker_id="shard-1")  # another bot process's notifier

    async def slow_send(item: PendingDelivery) -> None:
        sent.append(item.attempt.id)
        clock.advance(seconds=25)  # each send well inside the 60 s lease (Discord rate limits, say)
        if len(sent) == 3:  # meanwhile (at 75 s) the other process's notifier looks for work
            await other.run_once()

    notifier = Notifier(queue, slow_send, worker_id="shard-0", batch_size=4, concurrency=1, lease_seconds=60)
    await notifier.run(until_idle=True)
    # A delivery that waited for a free slot under a lease could have been sent by both processes.
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 4
    assert notifier.delivered + other.delivered == 4


async def test_expired_delivery_lease_is_taken_over_and_the_stale_notifier_cannot_mark_it(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), SqlGradingQueue(engine, clock)
    await repo.submit_answer(submission(delivery={"dm": 1}))
    [job] = await queue.claim_jobs("w", 1, 60)
    await queue.complete(job, GRADE)
    [stale] = await queue.claim_deliveries("n1", 10, lease_seconds=5)
    clock.advance(seconds=6)
    [fresh] = await queue.claim_deliveries("n2", 10, lease_seconds=5)
    assert await queue.mark_delivered(stale) is False
    assert await queue.mark_delivered(fresh) is True
    assert await queue.claim_deliveries("n3", 10) == []


class BlinkingQueue(SqlGradingQueue):
    """The real queue, whose first claim of jobs and first claim of deliveries fail (the database blinked)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.blinks = {"jobs": 1, "deliveries": 1}

    def _blink(self, what: str) -> None:
        if self.blinks[what]:
            self.blinks[what] -= 1
            raise ConnectionResetError("the database blinked")

    async def claim_jobs(self, worker_id: str, limit: int, lease_seconds: float) -> list[ClaimedJob]:
        self._blink("jobs")
        return await super().claim_jobs(worker_id, limit, lease_seconds)

    async def claim_deliveries(self, worker_id: str, limit: int, lease_seconds: float = 60.0) -> list[PendingDelivery]:
        self._blink("deliveries")
        return await super().claim_deliveries(worker_id, limit, lease_seconds)


async def test_a_failed_claim_is_not_an_empty_queue_to_loops_that_run_until_idle(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), BlinkingQueue(engine)
    await repo.submit_answers([submission(1, n, delivery={"dm": n}) for n in range(3)])
    worker = GradingWorker(queue, FakeGrader(), rubric_for, worker_id="w", poll_interval=0.01)
    await asyncio.wait_for(worker.run(until_idle=True), 30)  # `mockinterview worker --until-idle`
    assert worker.graded == 3
    delivered: list[int] = []

    async def deliver(item: PendingDelivery) -> None:
        delivered.append(item.attempt.id)

    notifier = Notifier(queue, deliver, worker_id="n", poll_interval=0.01)
    await asyncio.wait_for(notifier.run(until_idle=True), 30)
    assert len(delivered) == 3 and queue.blinks == {"jobs": 0, "deliveries": 0}


async def test_worker_grades_everything_once_with_bounded_concurrency(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), SqlGradingQueue(engine)
    stored = await repo.submit_answers([submission(n % 5, n) for n in range(40)])
    grader = FakeGrader(delay=0.01)
    peak = 0

    class Counting:
        name = "counting"
        running = 0

        async def grade(self, rubric: object, answer: str) -> GradeResult:
            nonlocal peak
            self.running += 1
            peak = max(peak, self.running)
            try:
                return await grader.grade(rubric, answer)  # type: ignore[arg-type]
            finally:
                self.running -= 1

    worker = GradingWorker(queue, Counting(), rubric_for, worker_id="w", concurrency=4, poll_interval=0.05)
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert sorted(grader.calls) == sorted(s.answer for s in stored)
    assert peak == 4
    assert worker.graded == 40
    for attempt in stored[::9]:
        graded = await repo.get_attempt(attempt.id)
        assert graded.grade is not None and graded.grade.score == fake_score(attempt.answer)


async def test_worker_retries_an_outage_and_fails_a_question_without_rubric(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo = SqlAttemptRepository(engine, clock)
    queue = SqlGradingQueue(engine, clock, backoff_base_s=1)
    ok, orphan = await repo.submit_answers([submission(1, 1), submission(1, 2, question_id="gone.q")])

    def rubric(attempt: object) -> object:
        if getattr(attempt, "question_id", "") == "gone.q":
            raise KeyError("gone.q")
        return rubric_for(attempt)

    worker = GradingWorker(queue, FakeGrader(fail_first=1), rubric, worker_id="w", poll_interval=0.01)  # type: ignore[arg-type]
    await worker.run(until_idle=True)
    assert (await repo.get_attempt(orphan.id)).status is AttemptStatus.FAILED
    assert (await repo.get_attempt(ok.id)).status is AttemptStatus.PENDING  # backing off after the outage
    clock.advance(seconds=1)
    await worker.run(until_idle=True)
    assert (await repo.get_attempt(ok.id)).status is AttemptStatus.GRADED


async def test_a_batch_costs_one_transaction_and_the_same_statements_whatever_its_size(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), SqlGradingQueue(engine)
    await repo.submit_answers([submission(1, n, delivery={"dm": n}) for n in range(10)])
    jobs = await queue.claim_jobs("w", 10, 60)
    transactions, statements = [], []
    event.listen(engine.sync_engine, "begin", transactions.append)
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    costs = []
    for batch in (jobs[:2], jobs[2:]):
        transactions.clear(), statements.clear()
        assert all(await queue.complete_many([(job, GRADE) for job in batch]))
        costs.append((len(transactions), len(statements)))
    for batch in (await queue.claim_deliveries("n", 2), await queue.claim_deliveries("n", 8)):
        transactions.clear(), statements.clear()
        assert all(await queue.mark_delivered_many(batch))
        costs.append((len(transactions), len(statements)))
    assert costs[0] == costs[1] and costs[2] == costs[3]
    assert costs[0][0] == costs[2][0] == 1


async def test_grades_that_finish_together_are_stored_in_one_transaction(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), RecordingQueue(engine)
    stored = await repo.submit_answers([submission(n % 3, n, delivery={"channel_id": n}) for n in range(8)])
    worker = GradingWorker(queue, BarrierGrader(8), rubric_for, worker_id="w", concurrency=8, poll_interval=0.05)
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert [sorted(ids) for ids in queue.completions] == [sorted(a.id for a in stored)]
    assert worker.graded == 8
    for attempt in stored:
        row = await _attempt_row(engine, attempt.id)
        assert (row.status, row.score, row.delivery_status) == ("graded", fake_score(attempt.answer), "pending")  # type: ignore[attr-defined]


async def test_grades_finishing_during_a_flush_join_the_next_and_a_lone_grade_waits_for_no_one(
    engine: AsyncEngine,
) -> None:
    repo, queue = SqlAttemptRepository(engine), RecordingQueue(engine)
    first, *rest = await repo.submit_answers([submission(1, n) for n in range(4)])
    finish = {attempt.answer: asyncio.Event() for attempt in (first, *rest)}

    class OnCue:
        name = "on-cue"

        async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
            await finish[answer].wait()
            return GradeResult(score=fake_score(answer), grader="fake")

    worker = GradingWorker(queue, OnCue(), rubric_for, worker_id="w", concurrency=4, poll_interval=60)
    running = asyncio.create_task(worker.run(until_idle=True))
    queue.open.clear()  # the first flush is slow
    finish[first.answer].set()
    await asyncio.wait_for(queue.completing.wait(), 10)
    assert queue.completions == [[first.id]]  # flushed at once and alone, while the others still grade
    for attempt in rest:
        finish[attempt.answer].set()
    await asyncio.sleep(0.05)
    assert queue.completions == [[first.id]]  # the others wait for the running flush...
    queue.open.set()
    await asyncio.wait_for(running, 10)
    assert [sorted(ids) for ids in queue.completions] == [[first.id], sorted(a.id for a in rest)]  # ...then go together
    assert worker.graded == 4
    assert await queue.counts() == {"done": 4}


async def test_a_lost_lease_in_a_batch_discards_only_its_own_grade(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    repo, queue = SqlAttemptRepository(engine), RecordingQueue(engine)
    stored = await repo.submit_answers([submission(1, n) for n in range(4)])
    taken = stored[2]

    async def take_over(results: Sequence[tuple[ClaimedJob, GradeResult]]) -> None:
        async with engine.begin() as connection:  # its lease expired and another worker leased it meanwhile
            await connection.execute(
                update(grading_jobs).where(grading_jobs.c.attempt_id == taken.id).values(lease_owner="other", tries=2)
            )

    queue.before_complete = take_over
    worker = GradingWorker(queue, BarrierGrader(4), rubric_for, worker_id="w", concurrency=4, poll_interval=0.05)
    with caplog.at_level(logging.WARNING, logger="bot.pipeline"):
        await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert len(queue.completions) == 1 and worker.graded == 3
    discarded = [r.getMessage() for r in caplog.records if "expired before its grade was stored" in r.getMessage()]
    assert discarded == [f"lease on attempt {taken.id} expired before its grade was stored; discarded"]
    assert (await repo.get_attempt(taken.id)).status is AttemptStatus.PENDING
    assert await queue.counts() == {"done": 3, "leased": 1}


async def test_a_failed_flush_leaves_its_grades_to_lease_expiry_and_they_are_graded_again(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FixedClock()
    repo, queue = SqlAttemptRepository(engine, clock), RecordingQueue(engine, clock)
    stored = await repo.submit_answers([submission(1, n, delivery={"dm": n}) for n in range(4)])

    async def database_down(results: Sequence[tuple[ClaimedJob, GradeResult]]) -> None:
        raise ConnectionError("database went away")

    queue.before_complete = database_down
    worker = GradingWorker(queue, BarrierGrader(4), rubric_for, worker_id="w", concurrency=4, lease_seconds=30)
    with caplog.at_level(logging.ERROR, logger="bot.pipeline"):
        await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert len(queue.completions) == 1 and worker.graded == 0
    failed = sorted(r.getMessage() for r in caplog.records if r.getMessage().startswith("storing the outcome"))
    assert failed == sorted(f"storing the outcome of attempt {a.id} failed" for a in stored)
    assert await queue.counts() == {"leased": 4}

    queue.before_complete = None
    clock.advance(seconds=31)
    retry = GradingWorker(queue, BarrierGrader(4), rubric_for, worker_id="w2", concurrency=4, lease_seconds=30)
    await asyncio.wait_for(retry.run(until_idle=True), 30)
    assert retry.graded == 4 and await queue.counts() == {"done": 4}


async def test_a_grade_that_cannot_be_stored_leaves_only_itself_to_lease_expiry(engine: AsyncEngine) -> None:
    repo, queue = SqlAttemptRepository(engine), RecordingQueue(engine)
    stored = await repo.submit_answers([submission(1, n) for n in range(4)])
    bad = stored[1]

    async def refuse_the_bad_one(results: Sequence[tuple[ClaimedJob, GradeResult]]) -> None:
        if any(job.attempt.id == bad.id for job, _ in results):
            raise ValueError("a value the database refuses")  # the grade's own fault, not the database's

    queue.before_complete = refuse_the_bad_one
    worker = GradingWorker(
        queue, BarrierGrader(4), rubric_for, worker_id="w", concurrency=4, item_specific=not_a_database_outage
    )
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    # The batch failed as a whole; its grades were then stored one by one, and only the bad one is left.
    batch, *one_by_one = queue.completions
    assert sorted(batch) == [a.id for a in stored] and one_by_one == [[attempt_id] for attempt_id in batch]
    assert worker.graded == 3
    assert await queue.counts() == {"done": 3, "leased": 1}
    assert (await repo.get_attempt(bad.id)).status is AttemptStatus.PENDING


async def test_worker_and_notifier_store_and_deliver_every_grade_once_in_fewer_transactions(
    engine: AsyncEngine,
) -> None:
    repo, queue = SqlAttemptRepository(engine), RecordingQueue(engine)
    stored = await repo.submit_answers([submission(n % 4, n, delivery={"channel_id": n}) for n in range(40)])
    worker = GradingWorker(queue, FakeGrader(delay=0.01), rubric_for, worker_id="w", concurrency=8, poll_interval=0.05)
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    sent: list[int] = []
    all_sending = asyncio.Event()

    async def deliver(item: PendingDelivery) -> None:
        sent.append(item.attempt.id)
        if len(sent) % 8 == 0:
            all_sending.set()
        await all_sending.wait()  # each claimed batch of 8 finishes sending together
        if len(sent) % 8 == 0:
            all_sending.clear()

    notifier = Notifier(queue, deliver, worker_id="n", batch_size=8, concurrency=8)
    await asyncio.wait_for(notifier.run(until_idle=True), 30)
    everyone = sorted(a.id for a in stored)
    completed = sorted(i for ids in queue.completions for i in ids)
    delivered = sorted(i for ids in queue.deliveries for i in ids)
    assert completed == everyone and delivered == everyone and sorted(sent) == everyone  # each exactly once
    assert len(queue.completions) < 40 and len(queue.deliveries) == 5  # one transaction per batch of 8 sends
    assert worker.graded == 40 and notifier.delivered == 40
    assert await queue.claim_deliveries("n2", 100) == []
    for attempt in stored[::7]:
        row = await _attempt_row(engine, attempt.id)
        assert (row.score, row.delivery_status) == (fake_score(attempt.answer), "delivered")  # type: ignore[attr-defined]
