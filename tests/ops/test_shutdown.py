"""Graceful shutdown in-process: signals become an event; draining finishes short jobs and releases long ones."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from bot.core.models import GradeResult, Rubric
from bot.ops.shutdown import ShutdownSignal, drain_workers, release_leases
from bot.pipeline import GradingWorker
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.queue import SqlGradingQueue
from tests.ops._worker import attempt_rows, jobs, submit, wait_until


class SlowGrader:
    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = 0

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        self.started += 1
        await asyncio.sleep(self.seconds)
        return GradeResult(score=5.0, grader="slow")


def rubric(attempt) -> Rubric:
    return Rubric(question="q?", reference_answer="r")


@pytest.fixture
async def engine(database_url):
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def started(grader: SlowGrader, n: int) -> None:
    await wait_until(lambda: grader.started >= n, 10, f"{n} grading calls")


async def test_sigterm_sets_the_event_instead_of_killing_the_process():
    async with ShutdownSignal() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(5):
            await stop.wait()
        assert stop.received == signal.SIGTERM
    # the loop's handler is removed on exit (remove_signal_handler says whether one was still installed)
    assert asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM) is False


async def test_drain_waits_for_jobs_that_finish_within_the_timeout(engine):
    await submit(engine, 2)
    grader = SlowGrader(0.3)
    worker = GradingWorker(SqlGradingQueue(engine), grader, rubric, worker_id="w", concurrency=2, poll_interval=0.05)
    task = asyncio.create_task(worker.run())
    await started(grader, 2)
    released = await drain_workers([(worker, task)], 10, release=lambda wid: release_leases(engine, wid))
    assert released == {"w": 0}
    assert [job.status for job in await jobs(engine)] == ["done", "done"]
    assert grader.started == 2  # nothing new was claimed after stop()


async def test_drain_cancels_and_releases_jobs_that_outlast_the_timeout(engine):
    await submit(engine, 3)
    grader = SlowGrader(60)
    worker = GradingWorker(SqlGradingQueue(engine), grader, rubric, worker_id="w", concurrency=2, poll_interval=0.05)
    task = asyncio.create_task(worker.run())
    await started(grader, 2)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    released = await drain_workers([(worker, task)], 0.5, release=lambda wid: release_leases(engine, wid))
    assert loop.time() - t0 < 5
    assert released == {"w": 2} and task.done()
    assert [(job.status, job.tries, job.lease_owner) for job in await jobs(engine)] == [("queued", 0, None)] * 3
    assert {row.status for row in await attempt_rows(engine)} == {"pending"}


async def test_release_touches_only_the_named_workers_leases(engine):
    await submit(engine, 2)
    queue = SqlGradingQueue(engine)
    await queue.claim_jobs("mine", 1, 60)
    await queue.claim_jobs("theirs", 1, 60)
    assert await release_leases(engine, "mine") == 1
    assert sorted((job.status, job.lease_owner) for job in await jobs(engine)) == [
        ("leased", "theirs"),
        ("queued", None),
    ]
