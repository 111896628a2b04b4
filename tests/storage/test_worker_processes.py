"""Real worker processes on one queue: each job graded exactly once; a kill -9 mid-job is recovered."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import AnswerSubmission, AttemptStatus, GradeResult, Rubric
from bot.pipeline import GradingWorker
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.queue import SqlGradingQueue
from bot.storage.tables import attempts, grading_jobs

SCRIPT = Path(__file__).with_name("worker_proc.py")
pytestmark = pytest.mark.slow


def _spawn(url: str, worker_id: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(SCRIPT), url, worker_id, str(log), *extra])


async def _submit(engine: AsyncEngine, n: int) -> list[int]:
    repo = SqlAttemptRepository(engine)
    stored = await repo.submit_answers(
        [AnswerSubmission(user_id=1, question_id="rag.q", topic="rag", answer=f"placeholder {i}") for i in range(n)]
    )
    # Tag each answer with its attempt id so the grader (in another process) can log what it graded.
    async with engine.begin() as connection:
        for attempt in stored:
            await connection.execute(
                attempts.update().where(attempts.c.id == attempt.id).values(answer=f"answer #{attempt.id}# text")
            )
    return [a.id for a in stored]


async def test_two_worker_processes_grade_each_job_exactly_once(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    ids = await _submit(engine, 300)
    log, go = tmp_path / "graded.log", tmp_path / "go"
    procs = [_spawn(db_url, f"proc{i}", log, "--go", str(go)) for i in range(2)]
    try:
        # Start both at once: one interpreter can take a second longer to import than the other on a busy machine.
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-proc{i}").exists() for i in range(2)):
            assert time.monotonic() < deadline, "the worker processes never got ready"
            assert all(proc.poll() is None for proc in procs), "a worker process exited early"
            await asyncio.sleep(0.02)
        go.touch()
        for proc in procs:
            assert await asyncio.to_thread(proc.wait, 120) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    lines = [line.split() for line in log.read_text().splitlines()]
    graded = Counter(int(parts[1]) for parts in lines)
    assert sorted(graded) == sorted(ids)
    assert set(graded.values()) == {1}, "some job was graded twice"
    by_worker = Counter(parts[2] for parts in lines)
    assert set(by_worker) == {"proc0", "proc1"}, f"both processes should have worked: {by_worker}"
    async with engine.connect() as connection:
        statuses = Counter((await connection.execute(select(grading_jobs.c.status))).scalars())
        models = Counter((await connection.execute(select(attempts.c.model))).scalars())
        tries = set((await connection.execute(select(grading_jobs.c.tries))).scalars())
    assert statuses == {"done": 300}
    assert tries == {1}
    assert models == by_worker  # the stored grade came from the process that graded it


async def test_worker_killed_mid_job_has_its_job_reclaimed_after_the_lease_and_completed(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    [attempt_id] = await _submit(engine, 1)
    log = tmp_path / "hang.log"
    lease = 10.0  # long enough that a stalled machine can't expire it before the checks below
    proc = _spawn(db_url, "doomed", log, "--hang", "--lease", str(lease))
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and log.read_text().strip()):
            assert time.monotonic() < deadline, "the worker process never claimed the job"
            assert proc.poll() is None, "the worker process exited early"
            await asyncio.sleep(0.05)
        assert log.read_text().split() == ["claimed", str(attempt_id)]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    queue = SqlGradingQueue(engine)
    async with engine.connect() as connection:
        job = (await connection.execute(select(grading_jobs))).one()
    assert (job.status, job.lease_owner, job.tries) == ("leased", "doomed", 1)
    assert await queue.reclaim_expired() == 0  # the dead worker's lease has not expired yet
    assert await queue.claim_jobs("rescuer", 1, 30) == []

    wait = (job.lease_expires_at - queue.clock.now()).total_seconds()
    await asyncio.sleep(max(wait, 0) + 0.2)

    class Grader:
        name = "rescue"

        async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
            return GradeResult(score=9.0, grader="rescue")

    worker = GradingWorker(queue, Grader(), lambda a: Rubric(question="q", reference_answer="r"), worker_id="rescuer")
    await asyncio.wait_for(worker.run(until_idle=True), 30)  # its start-up reclaim returns the job
    attempt = await SqlAttemptRepository(engine).get_attempt(attempt_id)
    assert attempt.status is AttemptStatus.GRADED and attempt.grade is not None
    assert attempt.grade.grader == "rescue"
    async with engine.connect() as connection:
        job = (await connection.execute(select(grading_jobs))).one()
    assert (job.status, job.tries, job.lease_owner) == ("done", 2, None)


async def test_a_running_worker_takes_over_a_dead_peers_job_about_one_lease_later(engine: AsyncEngine) -> None:
    """The periodic reclaim follows the lease (not a fixed 30 s), so a crash delays grading by about one lease."""
    [attempt_id] = await _submit(engine, 1)
    queue = SqlGradingQueue(engine)
    assert len(await queue.claim_jobs("dead-peer", 1, lease_seconds=1.0)) == 1  # claimed, then the peer "dies"

    class Grader:
        name = "survivor"

        async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
            return GradeResult(score=7.0, grader="survivor")

    worker = GradingWorker(
        queue, Grader(), lambda a: Rubric(question="q", reference_answer="r"), lease_seconds=2.0, poll_interval=0.05
    )
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 6  # lease 1 s + reclaim every lease/2 = 1 s, with room for a slow machine
        while (await SqlAttemptRepository(engine).get_attempt(attempt_id)).status is not AttemptStatus.GRADED:
            assert time.monotonic() < deadline, "the dead peer's job was not taken over in time"
            await asyncio.sleep(0.1)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
