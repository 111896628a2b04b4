"""The bot's grading queue wrapper: storing grades wakes the notifier, so feedback never waits for a poll."""

from __future__ import annotations

import asyncio

from bot.core.models import PendingDelivery
from bot.discord_app.client import _WakingQueue
from bot.pipeline import GradingWorker, Notifier
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade
from bot.storage.queue import SqlGradingQueue
from tests.storage._storage_helpers import FakeGrader, rubric_for, submission


async def test_a_batch_of_stored_grades_wakes_the_sleeping_notifier(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    try:
        stored = await SqlAttemptRepository(engine).submit_answers(
            [submission(1, n, delivery={"channel_id": n}) for n in range(6)]
        )
        queue = _WakingQueue(SqlGradingQueue(engine))
        sent: list[int] = []
        all_sent = asyncio.Event()

        async def deliver(item: PendingDelivery) -> None:
            sent.append(item.attempt.id)
            if len(sent) == len(stored):
                all_sent.set()

        notifier = Notifier(queue, deliver, worker_id="n", poll_interval=60)  # it would sleep a minute unwoken
        queue.on_done.append(notifier.wake)
        notifying = asyncio.create_task(notifier.run())
        await asyncio.sleep(0.05)  # the notifier found nothing and went to sleep
        worker = GradingWorker(queue, FakeGrader(), rubric_for, worker_id="w", concurrency=6, poll_interval=60)
        await asyncio.wait_for(worker.run(until_idle=True), 10)
        await asyncio.wait_for(all_sent.wait(), 10)
        notifier.stop()
        await notifying
        assert sorted(sent) == [a.id for a in stored] and notifier.delivered == 6
    finally:
        await engine.dispose()
