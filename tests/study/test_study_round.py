"""The study round state machine, coverage and ranking (pure domain, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import InvalidTransitionError
from bot.core.models import GradeResult, KeyPointResult, Verdict
from bot.core.study import (
    NotRoundHostError,
    RoundAnswer,
    RoundClosedError,
    RoundState,
    Step,
    StudyRound,
    check_control,
    class_coverage,
    question_results,
    rank_answers,
    round_standings,
)

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
POINTS = ["defines the term", "gives a cause", "names a fix"]


def _round(questions: int = 2, seconds: int = 60) -> StudyRound:
    return StudyRound(
        guild_id=1,
        channel_id=2,
        host_id=3,
        question_ids=[f"rag.q{i}" for i in range(questions)],
        seconds=seconds,
        created_at=T0,
    )


def _grade(score: float, verdicts: list[Verdict]) -> GradeResult:
    return GradeResult(
        score=score,
        key_points=[KeyPointResult(key_point=p, verdict=v) for p, v in zip(POINTS, verdicts, strict=True)],
        grader="test",
    )


def _answer(user: int, score: float | None, elapsed: float, verdicts: list[Verdict] | None = None) -> RoundAnswer:
    grade = _grade(score, verdicts or [Verdict.COVERED] * 3) if score is not None else None
    return RoundAnswer(
        user_id=user, attempt_id=user, elapsed_s=elapsed, submitted_at=T0 + timedelta(seconds=elapsed), grade=grade
    )


def test_a_round_runs_open_collecting_revealing_then_next_question_then_ends_after_the_last_reveal() -> None:
    r = _round()
    assert r.state == RoundState.OPEN and r.due_at() is None
    r.start(T0)
    assert (r.state, r.number, r.deadline) == (RoundState.COLLECTING, 1, T0 + timedelta(seconds=60))
    assert r.tick(T0 + timedelta(seconds=59), all_graded=False) == Step.NONE
    assert r.tick(T0 + timedelta(seconds=60), all_graded=False) == Step.CLOSE
    r.close(T0 + timedelta(seconds=60))
    assert r.state == RoundState.REVEALING
    assert r.tick(T0 + timedelta(seconds=61), all_graded=False) == Step.NONE  # waiting for grades
    assert r.tick(T0 + timedelta(seconds=61), all_graded=True) == Step.REVEAL
    r.mark_revealed(T0 + timedelta(seconds=61))
    assert r.due_at() == T0 + timedelta(seconds=61 + r.break_s)
    assert r.tick(T0 + timedelta(seconds=61 + r.break_s), all_graded=True) == Step.ADVANCE
    r.advance(T0 + timedelta(seconds=90))
    assert (r.state, r.number, r.current_question_id) == (RoundState.COLLECTING, 2, "rag.q1")
    r.close(T0 + timedelta(seconds=100))
    r.mark_revealed(T0 + timedelta(seconds=101))
    assert r.state == RoundState.ENDED and r.ended_at is not None and r.due_at() is None


def test_reveal_happens_without_every_grade_once_the_grace_period_passes() -> None:
    r = _round()
    r.start(T0)
    r.close(T0)
    assert r.tick(T0 + timedelta(seconds=r.grade_grace_s - 1), all_graded=False) == Step.NONE
    assert r.tick(T0 + timedelta(seconds=r.grade_grace_s), all_graded=False) == Step.REVEAL


def test_answers_are_taken_only_for_the_current_question_before_the_deadline() -> None:
    r = _round()
    r.start(T0)
    r.check_answer(0, T0 + timedelta(seconds=59))
    with pytest.raises(RoundClosedError, match="Time is up"):
        r.check_answer(0, T0 + timedelta(seconds=60))
    with pytest.raises(RoundClosedError):
        r.check_answer(1, T0)


def test_pause_freezes_the_timer_and_resume_restores_the_remaining_time() -> None:
    r = _round(seconds=60)
    r.start(T0)
    r.pause(T0 + timedelta(seconds=20))
    assert r.state == RoundState.PAUSED and r.due_at() is None and r.remaining_s == 40
    with pytest.raises(RoundClosedError, match="paused"):
        r.check_answer(0, T0 + timedelta(seconds=25))
    with pytest.raises(RoundClosedError, match="paused"):
        r.host_next()
    r.resume(T0 + timedelta(minutes=10))
    assert r.state == RoundState.COLLECTING
    assert r.deadline == T0 + timedelta(minutes=10, seconds=40)
    assert r.elapsed_s(T0 + timedelta(minutes=10)) == 20  # the pause doesn't count as thinking time


def test_illegal_transitions_raise() -> None:
    r = _round()
    with pytest.raises(InvalidTransitionError):
        r.close(T0)
    r.start(T0)
    with pytest.raises(InvalidTransitionError):
        r.advance(T0)
    with pytest.raises(InvalidTransitionError):
        r.mark_revealed(T0)
    r.end(T0)
    with pytest.raises(InvalidTransitionError):
        r.pause(T0)


def test_host_next_closes_then_reveals_then_advances() -> None:
    r = _round()
    r.start(T0)
    assert r.host_next() == Step.CLOSE
    r.close(T0)
    assert r.host_next() == Step.REVEAL
    r.mark_revealed(T0)
    assert r.host_next() == Step.ADVANCE


@pytest.mark.parametrize(
    ("user", "manage_guild", "allowed"),
    [(3, False, True), (4, True, True), (4, False, False)],
    ids=["host", "manage-guild", "plain-member"],
)
def test_only_the_host_or_manage_guild_controls_a_round(user: int, manage_guild: bool, allowed: bool) -> None:
    r = _round()
    if allowed:
        check_control(r, user, manage_guild=manage_guild)
    else:
        with pytest.raises(NotRoundHostError):
            check_control(r, user, manage_guild=manage_guild)


def test_class_coverage_puts_the_most_missed_key_point_first() -> None:
    grades = [
        _grade(8, [Verdict.COVERED, Verdict.MISSING, Verdict.COVERED]),
        _grade(5, [Verdict.COVERED, Verdict.INCORRECT, Verdict.PARTIAL]),
        _grade(9, [Verdict.COVERED, Verdict.MISSING, Verdict.COVERED]),
    ]
    coverage = class_coverage(POINTS, grades)
    assert [c.key_point for c in coverage] == ["gives a cause", "names a fix", "defines the term"]
    assert (coverage[0].missed, coverage[0].graded) == (3, 3)
    assert (coverage[1].covered, coverage[1].partial) == (2, 1)
    assert coverage[2].missed_share == 0


def test_ranking_is_by_score_then_time_and_exact_ties_share_a_rank() -> None:
    answers = [_answer(1, 7, 30), _answer(2, 9, 50), _answer(3, 7, 20), _answer(4, None, 5), _answer(5, 7, 20)]
    ranked = rank_answers(answers)
    assert [(r.rank, r.user_id) for r in ranked] == [(1, 2), (2, 3), (2, 5), (4, 1)]  # ungraded 4 isn't ranked


def test_round_standings_sum_scores_over_questions_then_time() -> None:
    answers = [
        _answer(1, 6, 10).model_copy(update={"position": 0}),
        _answer(1, 6, 10).model_copy(update={"position": 1}),
        _answer(2, 10, 40).model_copy(update={"position": 0}),
        _answer(3, 6, 5).model_copy(update={"position": 0}),
        _answer(3, 6, 5).model_copy(update={"position": 1}),
    ]
    standings = round_standings(answers)
    assert [(s.user_id, s.score, s.answered) for s in standings] == [(3, 12, 2), (1, 12, 2), (2, 10, 1)]


def test_question_results_list_who_answered_and_count_pending_grades_but_hold_no_answer_text() -> None:
    results = question_results("rag.q0", POINTS, [_answer(2, 8, 3), _answer(1, None, 1)])
    assert results.answered == [1, 2] and results.pending == 1
    assert [r.user_id for r in results.ranking] == [2]
    assert not any(hasattr(a, "answer") for a in results.ranking)
