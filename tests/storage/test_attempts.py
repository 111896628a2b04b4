"""Submitting answers (one and in batches, under heavy concurrency) and reading a user's history."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import AttemptStatus, GradeResult
from bot.storage.attempts import InvalidCursorError, SqlAttemptRepository
from bot.storage.tables import attempts, grading_jobs, users
from tests.storage._storage_helpers import FixedClock, submission


async def _count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)))  # type: ignore[arg-type]


async def test_submit_answer_stores_the_attempt_and_queues_one_job(engine: AsyncEngine) -> None:
    repo = SqlAttemptRepository(engine)
    attempt = await repo.submit_answer(submission(7, delivery={"channel_id": 5}))
    assert attempt.status is AttemptStatus.PENDING
    assert await repo.get_attempt(attempt.id) == attempt
    async with engine.connect() as connection:
        job = (await connection.execute(select(grading_jobs))).one()
        delivery = await connection.scalar(select(attempts.c.delivery))
    assert (job.attempt_id, job.status, job.tries) == (attempt.id, "queued", 0)
    assert delivery == {"channel_id": 5}


async def test_submit_answers_batch_keeps_order_and_creates_users_once(engine: AsyncEngine) -> None:
    repo = SqlAttemptRepository(engine)
    batch = [submission(user_id=100 + n % 3, n=n) for n in range(50)]
    stored = await repo.submit_answers(batch)
    assert [a.answer for a in stored] == [s.answer for s in batch]
    assert len({a.id for a in stored}) == 50
    for attempt in stored[::7]:
        assert (await repo.get_attempt(attempt.id)).answer == attempt.answer
    assert await _count(engine, grading_jobs) == 50
    assert await _count(engine, users) == 3


async def test_hundreds_of_concurrent_submitters_lose_and_duplicate_nothing(engine: AsyncEngine) -> None:
    repo = SqlAttemptRepository(engine)
    subs = [submission(user_id=n % 40, n=n) for n in range(400)]
    stored = await asyncio.gather(*(repo.submit_answer(s) for s in subs))
    assert len({a.id for a in stored}) == 400
    async with engine.connect() as connection:
        answers = (await connection.execute(select(attempts.c.answer))).scalars().all()
        job_attempts = (await connection.execute(select(grading_jobs.c.attempt_id))).scalars().all()
    assert sorted(answers) == sorted(s.answer for s in subs)
    assert sorted(job_attempts) == sorted(a.id for a in stored)
    assert await _count(engine, users) == 40


async def test_concurrent_submitters_on_separate_engines_lose_nothing(db_url: str) -> None:
    """Several engines (like several bot processes) writing at once: SQLite's busy handling must hold."""
    from bot.storage.engine import create_engine

    engines = [create_engine(db_url) for _ in range(3)]
    try:
        repos = [SqlAttemptRepository(e) for e in engines]
        stored = await asyncio.gather(*(repos[n % 3].submit_answer(submission(n % 9, n)) for n in range(300)))
        assert len({a.id for a in stored}) == 300
        assert await _count(engines[0], grading_jobs) == 300
    finally:
        for e in engines:
            await e.dispose()


async def test_history_pages_newest_first_by_keyset_without_gaps_or_repeats(engine: AsyncEngine) -> None:
    clock = FixedClock()
    repo = SqlAttemptRepository(engine, clock)
    for n in range(23):
        topic = "rag" if n % 2 else "gans"
        await repo.submit_answer(submission(1, n, topic=topic))
        if n % 3:  # some share a timestamp: the id breaks ties
            clock.advance(minutes=1)
    await repo.submit_answer(submission(2, 99))
    seen: list[int] = []
    cursor = None
    while True:
        page = await repo.history_page(1, limit=5, cursor=cursor)
        seen += [a.id for a in page.attempts]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    everything = await repo.history(1, limit=100)
    assert seen == [a.id for a in everything]
    assert len(seen) == 23
    assert [a.created_at for a in everything] == sorted((a.created_at for a in everything), reverse=True)
    rag = await repo.history_page(1, topic="rag", limit=100)
    assert {a.topic for a in rag.attempts} == {"rag"} and len(rag.attempts) == 11
    assert rag.next_cursor is None


async def test_history_page_rejects_a_forged_cursor(engine: AsyncEngine) -> None:
    with pytest.raises(InvalidCursorError):
        await SqlAttemptRepository(engine).history_page(1, cursor="not-a-cursor")


async def test_save_grade_records_grader_model_and_usage(engine: AsyncEngine) -> None:
    repo = SqlAttemptRepository(engine)
    attempt = await repo.submit_answer(submission())
    grade = GradeResult(score=7.5, grader="llm", model="m", prompt_version="v1", latency_ms=12.0)
    graded = await repo.save_grade(attempt.id, grade)
    assert graded.status is AttemptStatus.GRADED and graded.grade == grade
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(attempts.c.score, attempts.c.model, grading_jobs.c.status).join_from(
                    attempts, grading_jobs, grading_jobs.c.attempt_id == attempts.c.id
                )
            )
        ).one()
    assert tuple(row) == (7.5, "m", "done")
