"""Cross-process wake-ups: PostgreSQL's NOTIFY (sent at commit, only on commit) wakes idle loops in other processes
long before their poll interval, and a listener whose connection drops reconnects and keeps waking them."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import GradeResult, PendingDelivery, Rubric
from bot.ops.shutdown import release_leases
from bot.pipeline import GradingWorker, Notifier
from bot.storage.attempts import SqlAttemptRepository, ensure_users, insert_answers
from bot.storage.engine import create_engine
from bot.storage.queue import SqlGradingQueue
from bot.storage.wakeups import APPLICATION_NAME, NoWakeUps, PgWakeUps, wake_ups_for
from tests.ops._worker import WorkerProcess, wait_until
from tests.storage._storage_helpers import FakeGrader, rubric_for, submission
from tests.storage.conftest import (
    _admin_dsn,
    _skip_without_postgres,
    create_pg_database,
    drop_pg_database,
)

LONG_POLL_S = 30.0  # every loop here would sleep this long if nothing woke it


@pytest.fixture
def pg_url(postgres_template: str | None) -> Iterator[str]:
    _skip_without_postgres()
    url = create_pg_database(template=postgres_template)
    yield url
    drop_pg_database(url)


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url)
    yield engine
    await engine.dispose()


class Wakes:
    """Counts calls; `wait_for(n)` waits until there were at least n."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


async def _listening(wake_ups: PgWakeUps, connections: int = 1) -> None:
    def listening() -> bool:
        return wake_ups.connections >= connections and wake_ups.listening.is_set()

    await wait_until(listening, 10, f"connection {connections} of the listener")


async def test_sqlite_has_no_listener_and_sends_nothing(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "test.db")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    try:
        assert isinstance(wake_ups_for(engine), NoWakeUps)
        [attempt] = await SqlAttemptRepository(engine).submit_answers([submission(1, 0)])  # no pg_notify to fail
        assert attempt.id
    finally:
        await engine.dispose()


async def test_a_notify_arrives_when_the_answer_commits_and_never_for_a_rollback(pg_engine: AsyncEngine) -> None:
    jobs, deliveries = Wakes(), Wakes()
    wake_ups = PgWakeUps.for_engine(pg_engine)
    wake_ups.on_jobs_queued(jobs)
    wake_ups.on_deliveries_pending(deliveries)
    async with wake_ups:
        await _listening(wake_ups)
        await jobs.wait_for(1)  # the catch-up wake of a new connection
        woken = jobs.count

        now = datetime.now(UTC)
        with pytest.raises(RuntimeError):
            async with pg_engine.begin() as connection:
                await ensure_users(connection, [1], now)
                await insert_answers(connection, [submission(1, 0)], now)
                raise RuntimeError("roll back")
        async with pg_engine.begin() as connection:
            await ensure_users(connection, [1], now)
            await insert_answers(connection, [submission(1, 1)], now)
            await asyncio.sleep(0.3)  # not committed yet: nothing may arrive
            assert jobs.count == woken
        await jobs.wait_for(woken + 1)
        await asyncio.sleep(0.2)
        assert jobs.count == woken + 1  # the rolled-back answer sent nothing

        # Completing a job whose answer has a delivery target wakes the notifiers (and only them).
        await SqlAttemptRepository(pg_engine).submit_answers([submission(1, 2, delivery={"channel_id": 5})])
        await jobs.wait_for(woken + 2)
        delivered_before = deliveries.count
        worker = GradingWorker(SqlGradingQueue(pg_engine), FakeGrader(), rubric_for, worker_id="w", poll_interval=0.05)
        await asyncio.wait_for(worker.run(until_idle=True), 10)
        await deliveries.wait_for(delivered_before + 1)


async def test_every_requeue_and_every_pending_delivery_notifies_but_a_retry_after_a_backoff_does_not(
    pg_engine: AsyncEngine,
) -> None:
    queue = SqlGradingQueue(pg_engine, max_tries=3)
    jobs, deliveries = Wakes(), Wakes()
    wake_ups = PgWakeUps.for_engine(pg_engine)
    wake_ups.on_jobs_queued(jobs)
    wake_ups.on_deliveries_pending(deliveries)

    async def wakes(counter: Wakes, action: Awaitable[object], timeout: float = 5) -> bool:  # noqa: ASYNC109
        before = counter.count
        await action
        try:
            await counter.wait_for(before + 1, timeout=timeout)
        except TimeoutError:
            return False
        return True

    async with wake_ups:
        await _listening(wake_ups)
        submitted = SqlAttemptRepository(pg_engine).submit_answers(
            [submission(1, n, delivery={"n": n}) for n in range(3)]
        )
        # Wait for the submit's own NOTIFY, so it can't arrive late and be counted against the retry below.
        assert await wakes(jobs, submitted)
        retried, given_up, _in_hand = await queue.claim_jobs("w", 3, 60)

        assert not await wakes(jobs, queue.fail(retried, "flaky", retryable=True), timeout=0.5)  # due after a backoff
        assert await wakes(deliveries, queue.fail(given_up, "bad", retryable=False))  # its failure news
        assert await wakes(jobs, release_leases(pg_engine, "w"))  # at shutdown
        assert len(await queue.claim_jobs("w", 3, 60)) == 1  # the released one; its lease is then left to expire
        assert await wakes(jobs, queue.reclaim_expired(datetime.now(UTC) + timedelta(minutes=5)))
        assert await wakes(jobs, queue.requeue(given_up.attempt.id))  # a regrade
        [regrade] = await queue.claim_jobs("w", 3, 60)  # (the reclaimed job is due from the `now` passed above)
        assert await wakes(deliveries, queue.complete_many([(regrade, GradeResult(score=5, grader="fake"))]))


async def test_a_worker_process_and_a_notifier_wake_on_notify_long_before_their_poll(
    pg_engine: AsyncEngine, pg_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **cli_env,
        "MOCKINTERVIEW_DATABASE_URL": pg_url,
        "MOCKINTERVIEW_AUTO_MIGRATE": "false",
        "MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S": str(LONG_POLL_S),
        "MOCKINTERVIEW_LOG_LEVEL": "INFO",
    }
    worker = WorkerProcess(env, tmp_path, "--grader", "offline")
    delivered: list[int] = []

    async def deliver(item: PendingDelivery) -> None:
        delivered.append(item.attempt.id)

    notifier = Notifier(SqlGradingQueue(pg_engine), deliver, worker_id="n", poll_interval=LONG_POLL_S)
    wake_ups = PgWakeUps.for_engine(pg_engine)
    notifier.listen_to(wake_ups)
    try:
        async with wake_ups:
            notifying = asyncio.create_task(notifier.run())
            await _listening(wake_ups)
            await wait_until(lambda: "wake-up listener: listening" in worker.stderr, 60, "the worker listening", worker)
            await asyncio.sleep(1.0)  # both looked at the empty queue and went to sleep for 30 s
            started = time.monotonic()
            stored = await SqlAttemptRepository(pg_engine).submit_answers(
                [submission(7, n, delivery={"channel_id": n}) for n in range(3)]
            )
            await wait_until(lambda: len(delivered) == 3, 20, "the feedback of three answers", worker)
            elapsed = time.monotonic() - started
            notifier.stop()
            await notifying
    finally:
        worker.kill()
    assert sorted(delivered) == [a.id for a in stored]
    assert elapsed < LONG_POLL_S / 3, f"graded and delivered after {elapsed:.1f}s: a poll, not a wake-up"


async def test_a_dropped_listener_connection_reconnects_and_wakes_again(pg_engine: AsyncEngine, pg_url: str) -> None:
    jobs = Wakes()
    wake_ups = PgWakeUps.for_engine(pg_engine, reconnect_min_s=0.1)
    wake_ups.on_jobs_queued(jobs)
    async with wake_ups:
        await _listening(wake_ups)
        await jobs.wait_for(1)
        admin = await asyncpg.connect(_admin_dsn(pg_url))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1 AND datname = current_database()",
                APPLICATION_NAME,
            )
        finally:
            await admin.close()
        assert killed == 1
        await _listening(wake_ups, connections=2)
        await jobs.wait_for(2)  # a reconnection wakes everyone once: a NOTIFY may have been missed meanwhile
        woken = jobs.count
        await SqlAttemptRepository(pg_engine).submit_answers([submission(1, 0)])
        await jobs.wait_for(woken + 1)


async def test_closing_a_listener_stuck_connecting_does_not_wait_for_the_connect_timeout() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # a server that accepts and then says nothing, like a host behind a dead route

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wake_ups = PgWakeUps({"host": "127.0.0.1", "port": port, "user": "nobody", "ssl": False, "timeout": 60})
    wake_ups.on_jobs_queued(Wakes())
    try:
        async with wake_ups:
            await asyncio.sleep(0.3)  # connecting
            assert wake_ups.connections == 0
            started = time.monotonic()
        assert time.monotonic() - started < 5
    finally:
        server.close()


async def test_a_wake_lets_a_busy_worker_with_a_free_slot_claim_new_work(engine: AsyncEngine) -> None:
    """A job in flight doesn't make the worker deaf: with a free slot, a wake-up claims the new job at once."""
    attempts = SqlAttemptRepository(engine)
    gate = asyncio.Event()
    graded: list[str] = []

    class HeldFirstGrader(FakeGrader):
        async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
            graded.append(answer)
            if len(graded) == 1:
                await gate.wait()
            return await super().grade(rubric, answer)

    await attempts.submit_answers([submission(1, 0)])
    worker = GradingWorker(
        SqlGradingQueue(engine), HeldFirstGrader(), rubric_for, worker_id="w", concurrency=2, poll_interval=LONG_POLL_S
    )
    running = asyncio.create_task(worker.run())
    try:
        await wait_until(lambda: len(graded) == 1, 10, "the first answer in flight")
        await asyncio.sleep(0.2)
        await attempts.submit_answers([submission(1, 1)])
        worker.wake()  # what a NOTIFY (or the bot's own submit) does
        await wait_until(lambda: len(graded) == 2, 5, "the second answer claimed beside the first")
    finally:
        gate.set()
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert worker.graded == 2
