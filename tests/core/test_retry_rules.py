"""When a question may be answered again (`retry`), and what the retry counts for: no retry after the model answer
was revealed (it would be copied for full credit), none after a follow-up's feedback (it would re-ask the main
question), and the hints already seen on a question keep costing on its retries."""

from __future__ import annotations

import pytest

from bot.core.errors import UserFacingError
from bot.core.service import retry_refusal
from bot.core.session import ItemKind, ItemOutcome, Mode, SessionConfig, SessionState
from tests.core.conftest import TERMINAL, USER, answer


async def test_no_retry_after_the_model_answer_was_revealed(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    _, view = await service.reveal(sid, USER)
    assert retry_refusal(view.session) is not None
    with pytest.raises(UserFacingError, match="model answer was shown"):
        await service.retry(sid, USER)
    after = await service.get(sid)
    assert after.session.state == SessionState.FEEDBACK and after.record.version == view.record.version
    view = await service.next(sid, USER)
    assert view.report.overall == 0 and view.report.answered == 0 and view.report.skipped == 1


async def test_a_retry_revealed_cannot_be_retried_again_but_the_first_answer_stands(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    await answer(service, grader, sid, "score 3")
    await service.retry(sid, USER)
    _, view = await service.reveal(sid, USER)
    with pytest.raises(UserFacingError, match="model answer was shown"):
        await service.retry(sid, USER)
    view = await service.next(sid, USER)
    assert view.report.overall == 3


async def test_no_retry_after_a_follow_up(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    sid = view.session.id
    await answer(service, grader, sid, "score 8")
    assert retry_refusal((await service.get(sid)).session) is None  # the main question's feedback: retry is fine
    view = await service.next(sid, USER)
    assert view.prompt.item.kind == ItemKind.FOLLOW_UP
    view = await answer(service, grader, sid, "score 3")
    assert retry_refusal(view.session) is not None
    with pytest.raises(UserFacingError, match="follow-up"):
        await service.retry(sid, USER)
    assert [r.kind for r in (await service.get(sid)).session.results] == [ItemKind.MAIN, ItemKind.FOLLOW_UP]


async def test_hints_seen_on_a_question_keep_costing_on_its_retry(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    await service.hint(sid, USER)
    await service.hint(sid, USER)
    view = await answer(service, grader, sid, "score 8")
    assert view.session.results[-1].score == 6  # two hints cost two points
    view = await service.retry(sid, USER)
    assert view.session.hints_used == 2 and view.prompt.hints_left == len(view.prompt.question.hints) - 2
    view = await answer(service, grader, sid, "score 8")
    assert view.session.results[-1].kind == ItemKind.RETRY and view.session.results[-1].score == 6
    view = await service.next(sid, USER)
    assert view.report.overall == 6


async def test_a_new_question_starts_without_hints(make_service, grader):
    service = make_service(config=SessionConfig(follow_up_depth=0))
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    sid = view.session.id
    await service.hint(sid, USER)
    await answer(service, grader, sid, "score 8")
    view = await service.next(sid, USER)
    assert view.session.hints_used == 0 and view.session.results[-1].outcome == ItemOutcome.GRADED
