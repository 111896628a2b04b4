"""The interview session: an explicit state machine over a plan of questions. Pure data, no I/O, clock injected.

ASKING ──deliver──► AWAITING_ANSWER ──answer──► GRADING ──graded──► FEEDBACK ──next──► ASKING | FINISHED
                       │  ▲ (hint)                                     │ (retry / follow-up) ─► ASKING
                       └─skip/reveal──► FEEDBACK
any live state ──end──► FINISHED;  ──abandon──► ABANDONED;  idle too long ──► EXPIRED
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.core.errors import InvalidTransitionError


class SessionState(StrEnum):
    ASKING = "asking"
    AWAITING_ANSWER = "awaiting_answer"
    GRADING = "grading"
    FEEDBACK = "feedback"
    FINISHED = "finished"
    ABANDONED = "abandoned"
    EXPIRED = "expired"


LIVE_STATES = frozenset(
    {SessionState.ASKING, SessionState.AWAITING_ANSWER, SessionState.GRADING, SessionState.FEEDBACK}
)

TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    SessionState.ASKING: frozenset({SessionState.AWAITING_ANSWER}),
    SessionState.AWAITING_ANSWER: frozenset({SessionState.GRADING, SessionState.FEEDBACK}),
    SessionState.GRADING: frozenset({SessionState.FEEDBACK}),
    SessionState.FEEDBACK: frozenset({SessionState.ASKING, SessionState.FINISHED}),
    SessionState.FINISHED: frozenset(),
    SessionState.ABANDONED: frozenset(),
    SessionState.EXPIRED: frozenset(),
}
# Ending, abandoning and expiring are allowed from every live state.
for _live in LIVE_STATES:
    TRANSITIONS[_live] = TRANSITIONS[_live] | {SessionState.FINISHED, SessionState.ABANDONED, SessionState.EXPIRED}


class Mode(StrEnum):
    PRACTICE = "practice"  # one question
    INTERVIEW = "interview"  # N questions with follow-ups and a report
    REVIEW = "review"  # questions due for spaced repetition


class ItemKind(StrEnum):
    MAIN = "main"
    FOLLOW_UP = "follow_up"
    RETRY = "retry"


class ItemOutcome(StrEnum):
    GRADED = "graded"
    SKIPPED = "skipped"
    REVEALED = "revealed"
    FAILED = "failed"  # answer saved but no trustworthy grade (grader down): can be regraded later


class SessionConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    follow_up_depth: int = Field(default=1, ge=0, le=3)  # follow-ups asked per main question
    hint_penalty: float = Field(default=1.0, ge=0, le=10)  # points off the item's score per hint used
    question_time_limit_s: int | None = Field(default=None, ge=10)  # optional per-question limit
    idle_timeout_s: int = Field(default=3600, ge=60)  # a session idle this long expires


class Item(BaseModel):
    """One thing asked: a main question, a follow-up probing it, or a retry of it."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    kind: ItemKind = ItemKind.MAIN
    prompt: str  # the text shown to the candidate
    depth: int = 0  # follow-up depth below the main question
    asked_at: datetime | None = None


class ItemResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    question_id: str
    kind: ItemKind
    outcome: ItemOutcome
    attempt_id: int | None = None
    raw_score: float | None = None  # the grader's score, 0-10
    hints_used: int = 0
    score: float = 0.0  # after hint penalties; what the report counts
    topic: str = ""
    key_points_missed: list[str] = Field(default_factory=list)
    key_points_covered: list[str] = Field(default_factory=list)
    suggested_follow_up: str | None = None


class InterviewSession(BaseModel):
    """The serialisable state of one interview; every method is a transition or a pure query."""

    model_config = ConfigDict(validate_assignment=True)

    id: int | None = None
    user_id: int
    mode: Mode
    state: SessionState = SessionState.ASKING
    plan: list[str]  # main question ids, in order
    position: int = 0  # index into plan of the current main question
    current: Item | None = None
    hints_used: int = 0  # on the current item
    pending_attempt_id: int | None = None
    results: list[ItemResult] = Field(default_factory=list)
    config: SessionConfig = Field(default_factory=SessionConfig)
    topic: str | None = None
    difficulty: str | None = None
    created_at: datetime
    last_activity_at: datetime
    finished_at: datetime | None = None

    # -- queries --------------------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def total(self) -> int:
        return len(self.plan)

    @property
    def number(self) -> int:
        """1-based number of the current main question."""
        return min(self.position + 1, self.total)

    @property
    def item_index(self) -> int:
        """Which item `current` is among all those asked in this session (main questions, follow-ups and retries),
        from 0. Each item ends with exactly one result before the next is asked, so it is the count of results
        before it: a button or form can name the item it was shown for, and be refused once the session moved on."""
        done = len(self.results)
        return done - 1 if self.state == SessionState.FEEDBACK else done

    def asked_question_ids(self) -> list[str]:
        return self.plan[: self.position + 1]

    def deadline(self) -> datetime | None:
        limit = self.config.question_time_limit_s
        if limit is None or self.current is None or self.current.asked_at is None:
            return None
        return self.current.asked_at + timedelta(seconds=limit)

    def is_idle(self, now: datetime) -> bool:
        return self.live and now - self.last_activity_at >= timedelta(seconds=self.config.idle_timeout_s)

    def follow_ups_done(self, question_id: str) -> int:
        return sum(1 for r in self.results if r.question_id == question_id and r.kind == ItemKind.FOLLOW_UP)

    def last_result(self) -> ItemResult | None:
        return self.results[-1] if self.results else None

    # -- transitions ----------------------------------------------------------------------------------------

    def _move(self, target: SessionState, now: datetime) -> None:
        if target not in TRANSITIONS[self.state]:
            raise InvalidTransitionError(f"a session can't go from {self.state.value} to {target.value}")
        self.state = target
        self.last_activity_at = now

    def ask(self, item: Item, now: datetime) -> None:
        """Put `item` in front of the candidate (ASKING → AWAITING_ANSWER). A retry keeps the hints already seen on
        its question (they stay on the candidate's mind, so they keep costing); any other item starts without."""
        if self.state != SessionState.ASKING:
            raise InvalidTransitionError(f"can't ask a question while {self.state.value}")
        same_question = self.current is not None and self.current.question_id == item.question_id
        if not (item.kind == ItemKind.RETRY and same_question):
            self.hints_used = 0
        self.current = item.model_copy(update={"asked_at": now})
        self._move(SessionState.AWAITING_ANSWER, now)

    def use_hint(self, available: int, now: datetime) -> int:
        """Count a hint; returns the index of the hint to show. Only while awaiting an answer."""
        if self.state != SessionState.AWAITING_ANSWER:
            raise InvalidTransitionError("hints are only available while a question is waiting for an answer")
        if self.hints_used >= available:
            raise InvalidTransitionError("no hints left for this question")
        self.hints_used += 1
        self.last_activity_at = now
        return self.hints_used - 1

    def answer_submitted(self, attempt_id: int, now: datetime) -> None:
        self._move(SessionState.GRADING, now)
        self.pending_attempt_id = attempt_id

    def graded(self, result: ItemResult, now: datetime) -> None:
        if self.state != SessionState.GRADING:
            raise InvalidTransitionError(f"can't record a grade while {self.state.value}")
        self._move(SessionState.FEEDBACK, now)
        self.pending_attempt_id = None
        self.results.append(result)

    def graded_after_end(self, result: ItemResult) -> None:
        """The grade of the answer that was being graded when the interview ended (or expired): it joins the results,
        so the report counts it, and the session stays where it is."""
        if self.state not in (SessionState.FINISHED, SessionState.EXPIRED):
            raise InvalidTransitionError(f"can't record a late grade while {self.state.value}")
        if self.pending_attempt_id is None or result.attempt_id != self.pending_attempt_id:
            raise InvalidTransitionError("that answer isn't the one this interview was waiting on")
        self.pending_attempt_id = None
        self.results.append(result)

    def skipped(self, result: ItemResult, now: datetime) -> None:
        """Skip or reveal: the item ends with no credit (AWAITING_ANSWER → FEEDBACK)."""
        if self.state != SessionState.AWAITING_ANSWER:
            raise InvalidTransitionError(f"can't skip while {self.state.value}")
        self._move(SessionState.FEEDBACK, now)
        self.results.append(result)

    def advance(self, now: datetime) -> bool:
        """Leave FEEDBACK for the next main question; returns False (and finishes) when the plan is done."""
        if self.state != SessionState.FEEDBACK:
            raise InvalidTransitionError(f"can't move on while {self.state.value}")
        if self.position + 1 >= self.total:
            self.finish(now)
            return False
        self.position += 1
        self.current = None
        self._move(SessionState.ASKING, now)
        return True

    def stay(self, now: datetime) -> None:
        """Leave FEEDBACK to ask something more about the same question (a follow-up or a retry)."""
        if self.state != SessionState.FEEDBACK:
            raise InvalidTransitionError(f"can't ask again while {self.state.value}")
        self._move(SessionState.ASKING, now)

    def finish(self, now: datetime) -> None:
        self._move(SessionState.FINISHED, now)
        self.finished_at = now

    def abandon(self, now: datetime) -> None:
        self._move(SessionState.ABANDONED, now)
        self.finished_at = now

    def expire(self, now: datetime) -> None:
        self._move(SessionState.EXPIRED, now)
        self.finished_at = now
