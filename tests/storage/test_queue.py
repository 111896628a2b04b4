"""The grading queue and delivery outbox: leases, completion, retries, reclaim, exactly-once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import AttemptStatus, GradeResult, PendingDelivery
from bot.pipeline import GradingWorker, Notifier
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
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
