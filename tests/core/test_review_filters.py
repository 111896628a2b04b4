"""`practice --review --topic T --difficulty D`: review mode asks only the due questions of that topic and
difficulty, and "anything due?" (checked before Discord opens a thread) agrees with what review mode would ask."""

from __future__ import annotations

import pytest

from bot.core.service import NothingDueError
from bot.core.session import Mode, SessionConfig
from tests.core.conftest import TERMINAL, USER, answer


@pytest.fixture
async def weak_everywhere(make_service, grader, clock):
    """A service whose user answered three questions of three topics badly a month ago: all three are due."""
    service = make_service(config=SessionConfig(follow_up_depth=0))
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=3)
    sid = view.session.id
    for _ in range(3):
        await answer(service, grader, sid, "score 1")
        view = await service.next(sid, USER)
    questions = [service.bank.get(q) for q in view.session.plan]
    assert len({q.topic for q in questions}) == 3
    clock.advance(days=30)
    return service, questions


async def test_review_of_a_topic_asks_only_its_due_questions(weak_everywhere):
    service, questions = weak_everywhere
    wanted = questions[-1]  # not the oldest due card: the others must not crowd it out
    assert await service.anything_due(USER, topic=wanted.topic)
    view = await service.start(USER, TERMINAL, Mode.REVIEW, topic=wanted.topic, count=5)
    assert view.session.plan == [wanted.id]


async def test_review_of_a_difficulty_asks_only_its_due_questions(weak_everywhere):
    service, questions = weak_everywhere
    level = questions[0].difficulty
    view = await service.start(USER, TERMINAL, Mode.REVIEW, difficulty=level.value, count=5)
    assert set(view.session.plan) == {q.id for q in questions if q.difficulty == level}


async def test_nothing_due_in_a_topic_is_said_so_and_anything_due_agrees(service, grader, clock):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE, topic="alpha")
    await answer(service, grader, view.session.id, "score 1")
    await service.next(view.session.id, USER)
    clock.advance(days=30)
    assert await service.anything_due(USER) and await service.anything_due(USER, topic="alpha")
    assert not await service.anything_due(USER, topic="beta")
    with pytest.raises(NothingDueError, match="Nothing of that topic and difficulty is due"):
        await service.start(USER, TERMINAL, Mode.REVIEW, topic="beta")
