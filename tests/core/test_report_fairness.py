"""The report counts what the candidate earned: an answer the grader failed on is "not graded", not a 0."""

from __future__ import annotations

import io

from rich.console import Console

from bot.core.models import Transport
from bot.core.service import Where
from bot.core.session import ItemOutcome, Mode, SessionConfig, SessionState
from bot.terminal.render import report_panel
from tests.core.conftest import TERMINAL, USER, answer


async def answer_while_the_grader_is_down(service, session_id, text="a fine answer"):
    """What the terminal does on GraderUnavailableError: the answer saved, its attempt failed, the failure recorded."""
    attempt = await service.submit_answer(session_id, USER, text)
    await service.attempts.mark_failed(attempt.id, "grader timed out")
    return await service.record_grade(await service.attempts.get_attempt(attempt.id))


def rendered(report, bank) -> str:
    out = io.StringIO()
    Console(file=out, width=120).print(report_panel(report, bank))
    return out.getvalue()


async def test_an_answer_the_grader_failed_on_is_not_counted_as_zero(make_service, grader, bank):
    service = make_service(config=SessionConfig(follow_up_depth=0))
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    sid = view.session.id
    failed_question = view.prompt.question
    view = await answer_while_the_grader_is_down(service, sid)
    assert view.session.results[-1].outcome == ItemOutcome.FAILED
    await service.next(sid, USER)
    await answer(service, grader, sid, "score 8")
    report = (await service.next(sid, USER)).report
    assert report.overall == 8.0
    assert (report.answered, report.skipped, report.not_graded) == (1, 0, 1)
    assert [q.outcome for q in report.questions] == [ItemOutcome.FAILED, ItemOutcome.GRADED]
    assert [(t.questions, t.average) for t in report.topics] == [(1, 8.0)]  # the graded question's topic only
    assert failed_question.id not in {s.question_id for s in report.study_next}
    assert "1 answered, 0 skipped, 1 not graded" in rendered(report, bank)


async def test_only_ungraded_answers_give_no_score_and_no_trend(service, grader, clock):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    await answer(service, grader, view.session.id, "score 6")  # an earlier answer, for a trend to compare with
    await service.next(view.session.id, USER)
    clock.advance(days=1)
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    await answer_while_the_grader_is_down(service, view.session.id)
    report = (await service.next(view.session.id, USER)).report
    assert (report.answered, report.not_graded, report.topics, report.study_next) == (0, 1, [], [])
    assert report.trend is None


async def test_a_graded_retry_after_a_failed_grading_counts(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    await answer_while_the_grader_is_down(service, sid)
    await service.retry(sid, USER)
    await answer(service, grader, sid, "score 0")  # a graded 0 is a real 0, even when it ties the failed try
    report = (await service.next(sid, USER)).report
    assert (report.answered, report.not_graded, report.overall) == (1, 0, 0)
    assert report.questions[0].outcome == ItemOutcome.GRADED


async def test_an_answer_graded_after_the_interview_ended_joins_its_report_once(service, grader, bank, clock):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    attempt = await service.submit_answer(sid, USER, "score 9")
    ended = await service.end(sid, USER)  # /interview end, or Ctrl-C, while the answer is being graded
    assert (ended.report.answered, ended.report.still_grading) == (0, 1)
    assert "1 still being graded" in rendered(ended.report, bank)
    graded = await service.attempts.save_grade(attempt.id, await grader.grade(await service.rubric_for(attempt), "9"))
    late = await service.record_grade(graded)
    assert late is not None and late.session.state == SessionState.FINISHED
    assert late.session.pending_attempt_id is None and late.record.version > ended.record.version
    assert (late.report.answered, late.report.still_grading, late.report.overall) == (1, 0, 9.0)
    card = await service.reviews.get_review(USER, attempt.question_id)
    assert card is not None  # reviewed with the grade, in the same transaction
    clock.advance(minutes=2)
    assert await service.record_grade(graded) is None  # a redelivery records nothing twice
    again = await service.feedback_view(graded)
    assert len(again.session.results) == 1 and again.report.overall == 9.0
    assert await service.reviews.get_review(USER, attempt.question_id) == card


async def test_an_answer_graded_after_the_interview_expired_joins_its_report(make_service, grader, clock):
    service = make_service(config=SessionConfig(follow_up_depth=0, idle_timeout_s=60))
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    sid = view.session.id
    await answer(service, grader, sid, "score 6")
    await service.next(sid, USER)
    attempt = await service.submit_answer(sid, USER, "score 8")
    clock.advance(minutes=5)
    assert await service.expire_idle() == [sid]
    graded = await service.attempts.save_grade(attempt.id, await grader.grade(await service.rubric_for(attempt), "8"))
    view = await service.record_grade(graded)
    assert view.session.state == SessionState.EXPIRED
    assert (view.report.answered, view.report.overall) == (2, 7.0)


async def test_a_failed_grading_after_the_interview_ended_is_shown_as_not_graded(service):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    attempt = await service.submit_answer(sid, USER, "an answer")
    await service.end(sid, USER)
    await service.attempts.mark_failed(attempt.id, "grader down")
    view = await service.record_grade(await service.attempts.get_attempt(attempt.id))
    assert (view.report.answered, view.report.not_graded, view.report.still_grading) == (0, 1, 0)


async def interview_of_two(service, grader, clock, first_answer="score 8"):
    """Question 1: a hint, an answer and its follow-up; question 2 skipped. Ends the next day."""
    view = await service.start(USER, TERMINAL, Mode.INTERVIEW, count=2)
    sid = view.session.id
    await service.hint(sid, USER)
    await answer(service, grader, sid, first_answer)
    await service.next(sid, USER)  # the follow-up
    await answer(service, grader, sid, "score 8")
    await service.next(sid, USER)
    view = await service.skip(sid, USER)
    assert view.session.state == SessionState.FINISHED
    clock.advance(days=1)
    return view.report


async def test_the_same_interview_again_shows_no_trend(service, grader, clock):
    first = await interview_of_two(service, grader, clock)
    second = await interview_of_two(service, grader, clock)
    assert first.trend is None and second.overall == first.overall
    assert (second.previous_average, second.trend) == (first.overall, 0)


async def test_the_trend_averages_earlier_interviews_each_scored_as_its_report(service, grader, clock):
    earlier = [await interview_of_two(service, grader, clock, answer) for answer in ("score 9", "score 5")]
    # An interview still going on (in a DM), and one abandoned, have no report: they are not compared with.
    dm = Where(context="dm", transport=Transport.DM)
    going_on = await service.start(USER, dm, Mode.PRACTICE)
    await answer(service, grader, going_on.session.id, "score 1")
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    await answer(service, grader, view.session.id, "score 1")
    stored = await service.get(view.session.id)
    stored.session.abandon(clock.now())  # abandoned: no report
    await service.sessions.save(service._updated(stored.session, stored.record))
    clock.advance(days=1)
    report = await interview_of_two(service, grader, clock, "score 7")
    expected = round((earlier[0].overall + earlier[1].overall) / 2, 2)
    assert report.previous_average == expected and report.trend == round(report.overall - expected, 2)


async def test_the_trend_looks_back_a_bounded_number_of_interviews(service, grader, clock, monkeypatch):
    import bot.core.service as service_module

    monkeypatch.setattr(service_module, "TREND_SESSIONS", 2)
    for score in ("score 2", "score 9", "score 9"):
        view = await service.start(USER, TERMINAL, Mode.PRACTICE)
        await answer(service, grader, view.session.id, score)
        await service.next(view.session.id, USER)
        clock.advance(days=1)
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    await answer(service, grader, view.session.id, "score 9")
    report = (await service.next(view.session.id, USER)).report
    assert (report.previous_average, report.trend) == (9, 0)  # the oldest interview (2) is beyond the two looked at


async def test_key_points_come_from_each_questions_best_try(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    key_points = view.prompt.question.key_points
    await answer(service, grader, sid, "score 0")  # misses every key point
    await service.retry(sid, USER)
    await answer(service, grader, sid, "score 10")  # covers every one
    report = (await service.next(sid, USER)).report
    assert report.overall == 10
    assert report.weakest_points == [] and set(report.strongest_points) <= set(key_points)
    assert report.study_next == []


async def test_a_worse_retry_does_not_undo_the_points_of_the_better_answer(service, grader):
    view = await service.start(USER, TERMINAL, Mode.PRACTICE)
    sid = view.session.id
    await answer(service, grader, sid, "score 10")
    await service.retry(sid, USER)
    await answer(service, grader, sid, "score 0")
    await service.retry(sid, USER)
    # Giving up on a retry lists every key point as missed, on that try; and skipping ends the practice.
    report = (await service.skip(sid, USER)).report
    assert report.overall == 10 and report.weakest_points == []
