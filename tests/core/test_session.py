"""The session state machine: legal transitions move, illegal ones raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import InvalidTransitionError
from bot.core.session import (
    TRANSITIONS,
    InterviewSession,
    Item,
    ItemKind,
    ItemOutcome,
    ItemResult,
    Mode,
    SessionConfig,
    SessionState,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def new_session(plan=("a.q1", "a.q2"), **config):
    return InterviewSession(
        user_id=1,
        mode=Mode.INTERVIEW,
        plan=list(plan),
        created_at=NOW,
        last_activity_at=NOW,
        config=SessionConfig(**config),
    )


def result(question_id="a.q1", outcome=ItemOutcome.GRADED):
    return ItemResult(question_id=question_id, kind=ItemKind.MAIN, outcome=outcome, score=7.0)


def item(question_id="a.q1"):
    return Item(question_id=question_id, prompt="What?")


def test_happy_path_through_every_state():
    session = new_session()
    session.ask(item(), NOW)
    assert session.state == SessionState.AWAITING_ANSWER
    session.answer_submitted(10, NOW)
    assert session.state == SessionState.GRADING and session.pending_attempt_id == 10
    session.graded(result(), NOW)
    assert session.state == SessionState.FEEDBACK and session.pending_attempt_id is None
    assert session.advance(NOW) is True
    assert session.state == SessionState.ASKING and session.position == 1
    session.ask(item("a.q2"), NOW)
    session.skipped(result("a.q2", ItemOutcome.SKIPPED), NOW)
    assert session.advance(NOW) is False
    assert session.state == SessionState.FINISHED and session.finished_at == NOW


@pytest.mark.parametrize(
    ("prepare", "action"),
    [
        (lambda s: None, lambda s: s.answer_submitted(1, NOW)),
        (lambda s: None, lambda s: s.graded(result(), NOW)),
        (lambda s: s.ask(item(), NOW), lambda s: s.ask(item(), NOW)),
        (lambda s: s.ask(item(), NOW), lambda s: s.advance(NOW)),
        (lambda s: s.ask(item(), NOW), lambda s: s.graded(result(), NOW)),
        (lambda s: (s.ask(item(), NOW), s.answer_submitted(1, NOW)), lambda s: s.skipped(result(), NOW)),
        (lambda s: (s.ask(item(), NOW), s.answer_submitted(1, NOW)), lambda s: s.use_hint(3, NOW)),
        (lambda s: s.finish(NOW), lambda s: s.ask(item(), NOW)),
        (lambda s: s.finish(NOW), lambda s: s.abandon(NOW)),
        (lambda s: s.expire(NOW), lambda s: s.finish(NOW)),
    ],
    ids=[
        "answer-before-ask",
        "grade-before-answer",
        "ask-twice",
        "advance-unanswered",
        "grade-unsubmitted",
        "skip-while-grading",
        "hint-while-grading",
        "ask-after-finish",
        "abandon-finished",
        "finish-expired",
    ],
)
def test_illegal_transitions_raise(prepare, action):
    session = new_session()
    prepare(session)
    before = session.state
    with pytest.raises(InvalidTransitionError):
        action(session)
    assert session.state == before


def test_terminal_states_have_no_way_out():
    for state in (SessionState.FINISHED, SessionState.ABANDONED, SessionState.EXPIRED):
        assert TRANSITIONS[state] == frozenset()


def test_every_live_state_can_end_abandon_or_expire():
    for state, targets in TRANSITIONS.items():
        if state in (SessionState.FINISHED, SessionState.ABANDONED, SessionState.EXPIRED):
            continue
        assert {SessionState.FINISHED, SessionState.ABANDONED, SessionState.EXPIRED} <= targets


def test_hints_are_counted_and_run_out():
    session = new_session()
    session.ask(item(), NOW)
    assert session.use_hint(2, NOW) == 0
    assert session.use_hint(2, NOW) == 1
    with pytest.raises(InvalidTransitionError):
        session.use_hint(2, NOW)
    assert session.hints_used == 2


def test_new_item_resets_hints():
    session = new_session()
    session.ask(item(), NOW)
    session.use_hint(2, NOW)
    session.skipped(result(outcome=ItemOutcome.SKIPPED), NOW)
    session.advance(NOW)
    session.ask(item("a.q2"), NOW)
    assert session.hints_used == 0


def test_deadline_and_idleness_follow_the_injected_clock():
    session = new_session(question_time_limit_s=60, idle_timeout_s=600)
    session.ask(item(), NOW)
    assert session.deadline() == NOW + timedelta(seconds=60)
    assert not session.is_idle(NOW + timedelta(seconds=599))
    assert session.is_idle(NOW + timedelta(seconds=600))


def test_snapshot_round_trips_through_json():
    session = new_session()
    session.ask(item(), NOW)
    session.answer_submitted(3, NOW)
    restored = InterviewSession.model_validate_json(session.model_dump_json())
    assert restored == session
