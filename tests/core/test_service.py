"""InterviewService over real SQLite repositories: modes, follow-ups, hints, skip, reveal, retry, review, reports,
and resuming after a restart between any two steps."""

from __future__ import annotations

import pytest

from bot.core.errors import SessionAlreadyActiveError, UserFacingError
from bot.core.models import AttemptStatus, Transport
from bot.core.service import NothingDueError, NotYourSessionError, OldQuestionError, Where
from bot.core.session import ItemKind, ItemOutcome, Mode, SessionConfig, SessionState
from tests.core.conftest import TERMINAL, USER, answer


async def test_interview_of_three_with_follow_ups_ends_with_a_report(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=3)
    sid = view.session.id
    assert view.prompt.number == 1 and view.prompt.total == 3
    asked = [view.prompt.question.id]
    for _ in range(3):
        view = await answer(service, grader, sid, "score 8")
        assert view.session.state == SessionState.FEEDBACK
        view = await service.next(sid, USER)  # a follow-up on the same question
        assert view.prompt.item.kind == ItemKind.FOLLOW_UP
        assert view.prompt.item.question_id == asked[-1]
        await answer(service, grader, sid, "score 6")
        view = await service.next(sid, USER)
        if view.prompt:
            asked.append(view.prompt.question.id)
    assert view.session.state == SessionState.FINISHED
    assert len(set(asked)) == 3
    report = view.report
    assert report.answered == 3 and report.skipped == 0
    assert report.overall == pytest.approx(0.8 * 8 + 0.2 * 6)
    assert {t.topic for t in report.topics} <= {"alpha", "beta", "gamma"}


async def test_follow_up_is_graded_against_the_same_question_material(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=1)
    question = view.prompt.question
    await answer(service, grader, view.session.id, "score 9")
    view = await service.next(view.session.id, USER)
    await answer(service, grader, view.session.id, "score 4")
    follow_up_rubric = grader.rubrics[-1]
    assert follow_up_rubric.question == question.follow_ups[0]
    assert follow_up_rubric.reference_answer == question.reference_answer
    assert follow_up_rubric.follow_up and not follow_up_rubric.key_points  # graded on the part it asks about


async def test_follow_up_depth_zero_asks_none(make_service, grader):
    service = make_service(config=SessionConfig(follow_up_depth=0))
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    await answer(service, grader, view.session.id, "score 9")
    view = await service.next(view.session.id, USER)
    assert view.prompt.item.kind == ItemKind.MAIN and view.prompt.number == 2


async def test_no_follow_up_after_a_blank_answer(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    await answer(service, grader, view.session.id, "score 1")
    view = await service.next(view.session.id, USER)
    assert view.prompt.item.kind == ItemKind.MAIN


async def test_practice_is_one_question_without_follow_up(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    assert view.prompt.total == 1
    await answer(service, grader, view.session.id, "score 9")
    view = await service.next(view.session.id, USER)
    assert view.session.state == SessionState.FINISHED
    assert view.report.overall == 9


async def test_hints_cost_score_and_run_out(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    first = await service.hint(sid, USER)
    assert first.startswith(view.prompt.question.hints[0])
    await service.hint(sid, USER)
    with pytest.raises(UserFacingError, match="No more hints"):
        await service.hint(sid, USER)
    view = await answer(service, grader, sid, "score 8")
    result = view.session.results[-1]
    assert result.hints_used == 2 and result.raw_score == 8 and result.score == 6


async def test_skip_moves_on_and_counts_zero(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    view = await service.skip(view.session.id, USER)
    assert view.prompt.number == 2
    await answer(service, grader, view.session.id, "score 10")
    view = await service.end(view.session.id, USER)
    assert view.report.skipped == 1 and view.report.answered == 1
    assert view.report.overall == 5


async def test_reveal_shows_the_reference_and_gives_no_credit(service):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    question, view = await service.reveal(view.session.id, USER)
    assert question.reference_answer
    assert view.session.state == SessionState.FEEDBACK
    assert view.session.results[-1].outcome == ItemOutcome.REVEALED
    with pytest.raises(UserFacingError):
        await service.submit_answer(view.session.id, USER, "too late")


async def test_every_item_asked_has_its_own_index_and_feedback_keeps_it(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    sid = view.session.id
    indexes = [view.prompt.item_index]
    view = await answer(service, grader, sid, "score 8")
    indexes.append(view.session.item_index)  # its feedback: still the same item
    view = await service.retry(sid, USER, item=view.session.item_index)
    indexes.append(view.prompt.item_index)
    await answer(service, grader, sid, "score 9")
    view = await service.next(sid, USER)  # a follow-up
    indexes.append(view.prompt.item_index)
    view = await service.skip(sid, USER, item=view.prompt.item_index)
    assert view.prompt.number == 2
    indexes.append(view.prompt.item_index)
    assert indexes == [0, 0, 1, 2, 3]


async def test_actions_named_for_an_item_the_session_has_left_are_refused_and_change_nothing(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=3)
    sid = view.session.id
    first = view.prompt.item_index
    await service.skip(sid, USER, item=first)
    before = await service.get(sid)
    for act in (
        service.skip(sid, USER, item=first),
        service.hint(sid, USER, item=first),
        service.reveal(sid, USER, item=first),
        service.submit_answer(sid, USER, "meant for question 1", item=first),
    ):
        with pytest.raises(OldQuestionError, match="already moved on"):
            await act
    after = await service.get(sid)
    assert after.session == before.session and after.record.version == before.record.version
    assert await service.attempts.history(USER) == []
    await service.hint(sid, USER, item=after.prompt.item_index)  # the current item's buttons work
    await service.skip(sid, USER)  # and so do buttons that name no item (posted before items were named)
    assert (await service.get(sid)).prompt.number == 3


async def test_retry_keeps_the_best_score_and_every_try(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid, qid = view.session.id, view.prompt.question.id
    await answer(service, grader, sid, "score 4")
    view = await service.retry(sid, USER)
    assert view.prompt.item.kind == ItemKind.RETRY and view.prompt.question.id == qid
    await answer(service, grader, sid, "score 9")
    view = await service.retry(sid, USER)
    await answer(service, grader, sid, "score 6")
    view = await service.end(sid, USER)
    assert view.report.questions[0].score == 9
    history = await service.attempts.history(USER)
    assert [a.grade.score for a in history] == [6, 9, 4]


async def test_one_active_session_per_context(service):
    await service.start(USER, TERMINAL, Mode.PRACTICE)
    with pytest.raises(SessionAlreadyActiveError):
        await service.start(USER, TERMINAL, Mode.INTERVIEW)
    dm = Where(context="dm", transport=Transport.DM)
    assert (await service.start(USER, dm, Mode.PRACTICE)).prompt is not None


async def test_only_the_owner_can_act(service):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    with pytest.raises(NotYourSessionError):
        await service.submit_answer(view.session.id, USER + 1, "mine now")
    with pytest.raises(NotYourSessionError):
        await service.skip(view.session.id, USER + 1)


async def test_empty_answer_is_refused_and_nothing_saved(service):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    with pytest.raises(UserFacingError, match="empty"):
        await service.submit_answer(view.session.id, USER, "   \n")
    assert await service.attempts.history(USER) == []


async def test_answer_is_saved_before_grading_and_next_waits_for_the_grade(service):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    attempt = await service.submit_answer(view.session.id, USER, "an answer")
    assert (await service.attempts.get_attempt(attempt.id)).status == AttemptStatus.PENDING
    with pytest.raises(UserFacingError, match="still being graded"):
        await service.next(view.session.id, USER)


async def test_recording_the_same_grade_twice_changes_nothing(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    attempt = await service.submit_answer(view.session.id, USER, "score 7")
    graded = await service.attempts.save_grade(attempt.id, await grader.grade(await service.rubric_for(attempt), "7"))
    assert await service.record_grade(graded) is not None
    assert await service.record_grade(graded) is None
    assert len((await service.get(view.session.id)).session.results) == 1


async def test_every_step_survives_a_restart(make_service, grader):
    """A new service (as after a process restart) over the same database resumes between any two steps."""
    view = await make_service().start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    sid = view.session.id
    steps = [
        lambda s: s.hint(sid, USER),
        lambda s: answer(s, grader, sid, "score 8"),
        lambda s: s.next(sid, USER),  # follow-up
        lambda s: answer(s, grader, sid, "score 5"),
        lambda s: s.next(sid, USER),  # question 2
        lambda s: s.skip(sid, USER),
    ]
    for step in steps:
        await step(make_service())
    resumed = await make_service().get(sid)
    assert resumed.session.state == SessionState.FINISHED
    assert [r.kind for r in resumed.session.results] == [ItemKind.MAIN, ItemKind.FOLLOW_UP, ItemKind.MAIN]
    assert resumed.report.answered == 1 and resumed.report.skipped == 1


async def test_active_session_is_found_after_restart(make_service):
    view = await make_service().start(USER, TERMINAL, Mode.PRACTICE)
    found = await make_service().active(USER, "terminal")
    assert found.session.id == view.session.id
    assert found.prompt.question.id == view.prompt.question.id


async def test_idle_sessions_expire(service, clock):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    clock.advance(seconds=3599)
    assert await service.expire_idle() == []
    clock.advance(seconds=2)
    assert await service.expire_idle() == [view.session.id]
    assert (await service.get(view.session.id)).session.state == SessionState.EXPIRED
    assert await service.active(USER, "terminal") is None


async def test_late_answer_gets_half_credit(make_service, grader, clock):
    service = make_service(config=SessionConfig(question_time_limit_s=60))
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    clock.advance(seconds=61)
    view = await answer(service, grader, view.session.id, "score 8")
    assert view.session.results[-1].score == 4


async def test_review_brings_back_the_weakest_question_the_next_day(service, grader, clock):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=3)
    sid = view.session.id
    scores = {}
    for text in ("score 2", "score 9", "score 7"):
        scores[view.prompt.question.id] = float(text.split()[1])
        await answer(service, grader, sid, text)
        view = await service.next(sid, USER)
        while view.prompt and view.prompt.item.kind == ItemKind.FOLLOW_UP:
            await answer(service, grader, sid, "score 5")
            view = await service.next(sid, USER)
    with pytest.raises(NothingDueError):
        await service.start(USER, TERMINAL, Mode.REVIEW)
    clock.advance(days=1, hours=1)
    review = await service.start(USER, TERMINAL, Mode.REVIEW)
    weakest = min(scores, key=scores.get)
    assert review.prompt.question.id == weakest
    assert review.prompt.total == 1  # the strong answers are not due yet


async def test_report_study_suggestions_point_at_missed_key_points(service, grader):
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=3, config=SessionConfig(follow_up_depth=0))
    sid = view.session.id
    for text in ("score 0.5", "score 10", "score 3.4"):
        await answer(service, grader, sid, text)
        view = await service.next(sid, USER)
    report = view.report
    assert len(report.study_next) == 3
    weakest = min(report.questions, key=lambda q: q.score)
    assert report.study_next[0].question_id == weakest.question_id
    assert {s.question_id for s in report.study_next} == {q.question_id for q in report.questions if q.score < 8.5}


async def test_report_trend_compares_with_earlier_answers(service, grader, clock):
    first = await service.start(USER, TERMINAL, Mode.PRACTICE)
    await answer(service, grader, first.session.id, "score 4")
    await service.next(first.session.id, USER)
    clock.advance(minutes=5)
    second = await service.start(USER, TERMINAL, Mode.PRACTICE)
    await answer(service, grader, second.session.id, "score 7")
    view = await service.next(second.session.id, USER)
    assert view.report.previous_average == 4 and view.report.trend == 3
