"""The per-answer statements are built once (issue 8): each call executes the same statement object, whose
SQLAlchemy cache key is memoized, instead of building and re-keying a new one. Rebuilding one per call would
still be correct, so only these tests notice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import Attempt, GradeResult, SessionRecord, Transport
from bot.core.ports import ReviewChange
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.queue import SqlGradingQueue
from bot.storage.sessions import SqlSessionRepository
from tests.storage._storage_helpers import FixedClock, submission

GRADE = GradeResult(score=7.0, grader="fake", model="fake-1", prompt_version="t1")


@contextmanager
def executed_statements(engine: AsyncEngine) -> Iterator[list[Any]]:
    """Every statement object `engine` executes while the block runs, in order."""
    statements: list[Any] = []

    def record(_connection: Any, clauseelement: Any, *_args: Any) -> None:
        statements.append(clauseelement)

    event.listen(engine.sync_engine, "before_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_execute", record)


async def assert_reuses_statements(engine: AsyncEngine, operation: Callable[[int], Awaitable[object]]) -> None:
    """Two calls of `operation` execute the same statement objects, one for one."""
    with executed_statements(engine) as first:
        await operation(0)
    with executed_statements(engine) as second:
        await operation(1)
    assert first, "the operation executed no statement"
    assert [id(statement) for statement in first] == [id(statement) for statement in second]


def _review(question_id: str) -> ReviewChange:
    due = datetime(2026, 3, 10, tzinfo=UTC)
    return ReviewChange(1, question_id, 7.0, lambda card: ({"reps": int((card or {}).get("reps", 0)) + 1}, due))


async def _session(repo: SqlSessionRepository) -> SessionRecord:
    record = SessionRecord(
        user_id=1, context="dm", transport=Transport.DM, mode="practice", state="asking", active=True, snapshot={}
    )
    return await repo.create(record)


async def test_a_session_read_and_versioned_saves_reuse_their_statements(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine, FixedClock())
    stored = await _session(repo)
    assert stored.id is not None
    session_id = stored.id

    async def get_then_save(n: int) -> None:
        record = await repo.get(session_id)
        await repo.save(record.model_copy(update={"snapshot": {"index": n}}))

    async def save_with_review(_n: int) -> None:
        await repo.save(await repo.get(session_id), review=_review("rag.q1"))  # inserts the card, then updates it

    await assert_reuses_statements(engine, get_then_save)
    await assert_reuses_statements(engine, save_with_review)


async def test_saving_an_answer_reuses_its_statements(engine: AsyncEngine) -> None:
    repo = SqlSessionRepository(engine, FixedClock())
    stored = await _session(repo)

    async def save_answer(n: int) -> Attempt:
        record = await repo.get(stored.id or 0)
        return await repo.save_answer(submission(n=n, session_id=record.id), lambda _attempt: record)

    await assert_reuses_statements(engine, save_answer)


async def test_the_llm_quota_reads_reuse_their_statements(engine: AsyncEngine) -> None:
    attempts = SqlAttemptRepository(engine, FixedClock())
    since = datetime(2026, 3, 4, tzinfo=UTC)
    await attempts.submit_answer(submission(guild_id=5))
    await assert_reuses_statements(engine, lambda n: attempts.quota_reading(since, 1 + n, count_user=True))
    await assert_reuses_statements(engine, lambda n: attempts.quota_reading(since, 1 + n, count_user=True, guild_id=5))
    await assert_reuses_statements(engine, lambda n: attempts.guild_llm_counts(since, 5, 1 + n))


async def test_grading_and_delivering_reuse_their_statements_whatever_the_batch_size(engine: AsyncEngine) -> None:
    clock = FixedClock()
    queue = SqlGradingQueue(engine, clock)
    await SqlAttemptRepository(engine, clock).submit_answers(
        [submission(n=n, delivery={"channel_id": 9}) for n in range(3)]
    )

    async def grade_and_deliver(n: int) -> None:
        jobs = await queue.claim_jobs("worker", 1 + n, lease_seconds=60)  # a batch of 1, then of 2
        assert len(jobs) == 1 + n
        assert all(await queue.complete_many([(job, GRADE) for job in jobs]))
        deliveries = await queue.claim_deliveries("notifier", 1 + n)
        assert len(deliveries) == 1 + n
        assert all(await queue.mark_delivered_many(deliveries))

    await assert_reuses_statements(engine, grade_and_deliver)
