"""Worker ids are stored as lease owners (String(64)): a longer one is refused up front, the default always fits.

A longer id made every claim fail on PostgreSQL (SQLite doesn't check the length) while the worker looked healthy."""

from __future__ import annotations

import asyncio
import os
import re
import socket

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import UserFacingError
from bot.core.models import PendingDelivery
from bot.pipeline import GradingWorker, Notifier, default_worker_id
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.queue import SqlGradingQueue
from tests.storage._storage_helpers import FakeGrader, FixedClock, rubric_for, submission

LIMIT = 64  # the lease owner columns: String(64) in bot/storage/tables.py


async def test_the_longest_worker_id_the_database_stores_grades_and_delivers(engine: AsyncEngine) -> None:
    clock = FixedClock()
    queue = SqlGradingQueue(engine, clock)
    await SqlAttemptRepository(engine, clock).submit_answers([submission(1, n, delivery={"dm": n}) for n in range(2)])
    longest = "grader-" + "eu-west-1-prod-node-pool-a-" * 3
    longest = longest[:LIMIT]

    worker = GradingWorker(queue, FakeGrader(), rubric_for, worker_id=longest, poll_interval=0.01)
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    delivered: list[int] = []

    async def deliver(item: PendingDelivery) -> None:
        delivered.append(item.attempt.id)

    notifier = Notifier(queue, deliver, worker_id=longest, poll_interval=0.01)
    await asyncio.wait_for(notifier.run(until_idle=True), 30)
    assert (worker.graded, len(delivered)) == (2, 2)


def test_a_worker_id_longer_than_the_database_stores_is_refused_with_the_limit() -> None:
    queue = SqlGradingQueue.__new__(SqlGradingQueue)  # never used: the id is checked first
    too_long = "grader-" + "eu-west-1-prod-k8s-node-pool-a-" * 2 + "12345"  # 74 characters

    async def deliver(item: PendingDelivery) -> None:
        raise AssertionError("not reached")

    for build in (
        lambda: GradingWorker(queue, FakeGrader(), rubric_for, worker_id=too_long),
        lambda: Notifier(queue, deliver, worker_id=too_long),
    ):
        with pytest.raises(UserFacingError) as refused:
            build()
        assert "74 characters" in refused.value.message and "limit is 64" in refused.value.message


def test_the_default_worker_id_keeps_its_unique_end_on_a_long_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "ip-10-0-12-34." + "very-long-internal-domain." * 4 + "local")
    ids = {default_worker_id(role) for role in ("worker", "notifier", "bot", "study")}
    for worker_id in ids:
        assert len(worker_id) <= LIMIT
        assert re.fullmatch(rf"[a-z]+:ip-10-0-12-34\.very-long[^:]*:{os.getpid()}:[0-9a-f]+", worker_id), worker_id
    shorter = default_worker_id(max_length=LIMIT - 3)  # room for "/12", one id per loop of `worker --processes`
    assert len(shorter) <= LIMIT - 3 and shorter.split(":")[-2] == str(os.getpid())
