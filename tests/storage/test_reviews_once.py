"""A graded answer reschedules its spaced-repetition card exactly once, rated on the score it counts for.

On both engines: a redelivered answer doesn't review its card again, a grade that arrives after its interview ended
(or a regrade) still reviews it, a retry doesn't review the same recall twice, hints lower the rating as they lower
the report's score, and an answer whose user forgot their data brings nothing back.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import Attempt, GradeResult, Transport
from bot.core.question_bank import load_bank
from bot.core.review import schedule
from bot.core.service import InterviewService, Where
from bot.core.session import Mode, SessionConfig
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.privacy import SqlPrivacyRepository
from bot.storage.progress import SqlProgressRepository
from bot.storage.queue import SqlGradingQueue
from bot.storage.sessions import SqlSessionRepository
from bot.storage.tables import review_schedules, users
from tests.storage._storage_helpers import FixedClock, submission

FIXTURE_BANK = Path(__file__).resolve().parent.parent / "data" / "bank"
USER = 42
DM = Where(context="dm", transport=Transport.DM)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def service(engine: AsyncEngine, clock: FixedClock) -> InterviewService:
    return InterviewService(
        load_bank(FIXTURE_BANK),
        SqlSessionRepository(engine, clock),
        SqlAttemptRepository(engine, clock),
        SqlProgressRepository(engine, clock),
        clock=clock,
        rng_factory=lambda: random.Random(1),
        config=SessionConfig(follow_up_depth=0),
    )


async def _graded(service: InterviewService, attempt_id: int, score: float) -> Attempt:
    return await service.attempts.save_grade(attempt_id, GradeResult(score=score, grader="test"))  # type: ignore[attr-defined]


async def _card(service: InterviewService, question_id: str) -> object:
    return await service.reviews.get_review(USER, question_id)  # type: ignore[attr-defined]


async def _started(service: InterviewService, mode: Mode = Mode.INTERVIEW) -> int:
    view = await service.start(USER, DM, mode, count=2)
    assert view.record.id is not None
    return view.record.id


async def test_a_grade_arriving_after_the_interview_ended_reviews_its_card_once(
    service: InterviewService, clock: FixedClock
) -> None:
    session_id = await _started(service)
    attempt = await service.submit_answer(session_id, USER, "a weak answer")
    await service.end(session_id, USER)  # or the terminal's Ctrl+C, or idle expiry, while it was being graded
    graded = await _graded(service, attempt.id, 2.0)
    await service.record_grade(graded)
    card = await _card(service, graded.question_id)
    assert card is not None  # the weak question comes back for review
    clock.advance(minutes=2)
    await service.feedback_view(graded)  # a redelivery
    assert await _card(service, graded.question_id) == card


async def test_a_regraded_answer_reviews_its_card(
    engine: AsyncEngine, service: InterviewService, clock: FixedClock
) -> None:
    session_id = await _started(service)
    attempt = await service.submit_answer(session_id, USER, "an answer")
    await service.attempts.mark_failed(attempt.id, "grader down")  # type: ignore[attr-defined]
    await service.record_grade(await service.attempts.get_attempt(attempt.id))  # type: ignore[attr-defined]
    assert await SqlGradingQueue(engine, clock).requeue(attempt.id)
    await service.record_grade(await _graded(service, attempt.id, 3.0))
    assert await _card(service, attempt.question_id) is not None


async def test_a_redelivered_answer_outside_an_interview_reviews_its_card_once(
    service: InterviewService, clock: FixedClock
) -> None:
    answer = await service.attempts.submit_answer(submission(USER, question_id="alpha.q1"))  # type: ignore[attr-defined]
    graded = await _graded(service, answer.id, 9.0)
    await service.feedback_view(graded)
    once = await _card(service, "alpha.q1")
    clock.advance(minutes=2)  # the delivery is retried after a failed send
    await service.feedback_view(graded)
    assert await _card(service, "alpha.q1") == once


async def test_a_retry_neither_reviews_the_card_again_nor_resets_it_when_skipped(
    service: InterviewService, clock: FixedClock
) -> None:
    session_id = await _started(service)
    first = await service.submit_answer(session_id, USER, "a strong answer")
    await service.record_grade(await _graded(service, first.id, 9.0))
    reviewed = await _card(service, first.question_id)
    await service.retry(session_id, USER)
    clock.advance(minutes=1)
    second = await service.submit_answer(session_id, USER, "the same answer again")
    await service.record_grade(await _graded(service, second.id, 9.0))
    assert await _card(service, first.question_id) == reviewed
    await service.retry(session_id, USER)
    await service.skip(session_id, USER)
    assert await _card(service, first.question_id) == reviewed


async def test_hints_lower_the_review_rating_as_they_lower_the_score(
    service: InterviewService, clock: FixedClock
) -> None:
    session_id = await _started(service, Mode.PRACTICE)
    await service.hint(session_id, USER)
    await service.hint(session_id, USER)
    attempt = await service.submit_answer(session_id, USER, "an answer after two hints")
    view = await service.record_grade(await _graded(service, attempt.id, 9.0))
    assert view is not None
    counted = view.session.results[-1].score
    assert counted is not None and counted < 9.0
    _, due_at = schedule(None, counted, clock.now())
    card = await _card(service, attempt.question_id)
    assert card.due_at == due_at  # type: ignore[attr-defined]


async def test_forgetting_a_user_while_their_feedback_is_delivered_leaves_nothing(
    engine: AsyncEngine, service: InterviewService, clock: FixedClock
) -> None:
    queue = SqlGradingQueue(engine, clock)
    attempts = SqlAttemptRepository(engine, clock)
    await attempts.submit_answer(submission(USER, question_id="alpha.q1", kind="daily", delivery={"adapter": "x"}))
    [job] = await queue.claim_jobs("worker", 1, 60)
    assert await queue.complete(job, GradeResult(score=3.0, grader="test")) is not None
    [delivery] = await queue.claim_deliveries("notifier", 1)
    await SqlPrivacyRepository(engine, clock).forget_user(USER)  # /privacy forget, while the feedback is sent
    await service.feedback_view(delivery.attempt)
    async with engine.connect() as connection:
        left = [
            await connection.scalar(select(func.count()).select_from(table).where(column == USER))
            for table, column in ((users, users.c.id), (review_schedules, review_schedules.c.user_id))
        ]
    assert left == [0, 0]
