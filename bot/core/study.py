"""Study rounds: a host asks a channel a few questions; every member answers privately; each question ends with
who answered, the class's key-point coverage, the reference answer and a ranking (never anyone's answer text).

`StudyRound` is an explicit state machine with the clock passed in (no I/O, no timers):

    OPEN ──start──► COLLECTING ──close (time up / host Next)──► REVEALING ──advance──► COLLECTING (next question)
                        │  ▲                                      │   │
                  pause │  │ resume                  mark_revealed│   └─ after the last question's reveal ─► ENDED
                        ▼  │                                      ▼
                       PAUSED ◄──────────── pause ─────────── (waiting for the break to end)
    any state but ENDED ──end──► ENDED

REVEALING has two phases: waiting for the grades (until all are in or `reveal_by` passes), then, once the results
are posted (`revealed`), a short break until `next_at`. The adapter's single scheduler loop calls `tick` with the
time and whether every answer is graded, and does what the returned `Step` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from bot.core.errors import InvalidTransitionError, UserFacingError
from bot.core.models import GradeResult, Verdict

MIN_SECONDS = 30
MAX_SECONDS = 900
MAX_QUESTIONS = 10
GRADE_GRACE_S = 90.0  # after answers close, wait at most this long for grades before revealing anyway
BREAK_S = 20.0  # between a reveal and the next question (the host's Next skips it)


class RoundState(StrEnum):
    OPEN = "open"
    COLLECTING = "collecting"
    REVEALING = "revealing"
    PAUSED = "paused"
    ENDED = "ended"


TRANSITIONS: dict[RoundState, frozenset[RoundState]] = {
    RoundState.OPEN: frozenset({RoundState.COLLECTING, RoundState.ENDED}),
    RoundState.COLLECTING: frozenset({RoundState.REVEALING, RoundState.PAUSED, RoundState.ENDED}),
    RoundState.REVEALING: frozenset({RoundState.COLLECTING, RoundState.PAUSED, RoundState.ENDED}),
    RoundState.PAUSED: frozenset({RoundState.COLLECTING, RoundState.REVEALING, RoundState.ENDED}),
    RoundState.ENDED: frozenset(),
}


class Step(StrEnum):
    """What the scheduler (or a host's Next) should do now."""

    NONE = "none"
    CLOSE = "close"  # time is up: stop taking answers
    REVEAL = "reveal"  # post the results of the current question
    ADVANCE = "advance"  # ask the next question


class RoundClosedError(UserFacingError):
    """An answer arrived for a question that no longer takes answers."""


class AlreadyAnsweredError(UserFacingError):
    def __init__(self) -> None:
        super().__init__("You already answered this question; your first answer counts. Wait for the results!")


class NotRoundHostError(UserFacingError):
    def __init__(self) -> None:
        super().__init__("Only the round's host or a member with Manage Server can control this round.")


class StudyRound(BaseModel):
    """One round: its questions, where it runs, and where it is in the state machine."""

    id: int | None = None
    guild_id: int
    channel_id: int
    host_id: int
    question_ids: list[str] = Field(min_length=1, max_length=MAX_QUESTIONS)
    seconds: int = Field(ge=MIN_SECONDS, le=MAX_SECONDS)
    topic: str | None = None
    difficulty: str | None = None
    grade_grace_s: float = GRADE_GRACE_S
    break_s: float = BREAK_S
    state: RoundState = RoundState.OPEN
    position: int = -1  # index of the current question; -1 before the first
    question_started_at: datetime | None = None
    deadline: datetime | None = None  # COLLECTING: answers close
    reveal_by: datetime | None = None  # REVEALING: reveal even if some grades are missing
    revealed: bool = False  # REVEALING: the current question's results are posted
    next_at: datetime | None = None  # REVEALING after the reveal: the next question starts
    paused_from: RoundState | None = None
    remaining_s: float | None = None  # PAUSED: what was left on the running timer
    message_id: int | None = None  # the adapter's message for the current question
    created_at: datetime
    ended_at: datetime | None = None

    # -- reading ------------------------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.question_ids)

    @property
    def number(self) -> int:
        """1-based number of the current question (0 before the first)."""
        return self.position + 1

    @property
    def current_question_id(self) -> str | None:
        return self.question_ids[self.position] if 0 <= self.position < self.total else None

    @property
    def is_last(self) -> bool:
        return self.position >= self.total - 1

    @property
    def live(self) -> bool:
        return self.state != RoundState.ENDED

    def due_at(self) -> datetime | None:
        """When the scheduler must next look at this round (None: nothing timed is pending)."""
        if self.state == RoundState.COLLECTING:
            return self.deadline
        if self.state == RoundState.REVEALING:
            return self.next_at if self.revealed else self.reveal_by
        return None

    def accepts_answers(self, position: int, now: datetime) -> bool:
        return (
            self.state == RoundState.COLLECTING
            and position == self.position
            and self.deadline is not None
            and now < self.deadline
        )

    def check_answer(self, position: int, now: datetime) -> None:
        """Raise `RoundClosedError` (with the reason) unless an answer to `position` is welcome now."""
        if self.accepts_answers(position, now):
            return
        if self.state == RoundState.PAUSED:
            raise RoundClosedError("The round is paused. Your answer is welcome once the host resumes it.")
        if self.state == RoundState.ENDED:
            raise RoundClosedError("This study round has ended.")
        raise RoundClosedError("Time is up for that question; answers are closed.")

    def elapsed_s(self, now: datetime) -> float:
        """Seconds since the current question was asked (pauses don't count: `question_started_at` shifts)."""
        if self.question_started_at is None:
            return 0.0
        return max(0.0, (now - self.question_started_at).total_seconds())

    # -- transitions --------------------------------------------------------------------------------------------

    def _move(self, target: RoundState) -> None:
        if target not in TRANSITIONS[self.state]:
            raise InvalidTransitionError(f"a study round can't go from {self.state.value} to {target.value}")
        self.state = target

    def _ask(self, position: int, now: datetime) -> None:
        self._move(RoundState.COLLECTING)
        self.position = position
        self.question_started_at = now
        self.deadline = now + timedelta(seconds=self.seconds)
        self.reveal_by = self.next_at = None
        self.revealed = False
        self.message_id = None

    def start(self, now: datetime) -> None:
        """OPEN → COLLECTING the first question."""
        if self.state != RoundState.OPEN:
            raise InvalidTransitionError("this round has already started")
        self._ask(0, now)

    def close(self, now: datetime) -> None:
        """COLLECTING → REVEALING: no more answers; wait for the grades (at most `grade_grace_s`)."""
        self._move(RoundState.REVEALING)
        self.deadline = min(self.deadline, now) if self.deadline else now
        self.reveal_by = now + timedelta(seconds=self.grade_grace_s)
        self.revealed = False
        self.next_at = None

    def mark_revealed(self, now: datetime) -> None:
        """The results are posted: break until the next question, or end after the last one."""
        if self.state != RoundState.REVEALING or self.revealed:
            raise InvalidTransitionError("nothing to reveal now")
        self.revealed = True
        self.reveal_by = None
        if self.is_last:
            self.end(now)
        else:
            self.next_at = now + timedelta(seconds=self.break_s)

    def advance(self, now: datetime) -> None:
        """REVEALING (results posted) → COLLECTING the next question."""
        if self.state != RoundState.REVEALING or not self.revealed or self.is_last:
            raise InvalidTransitionError("the next question can only follow a revealed, non-final question")
        self._ask(self.position + 1, now)

    def pause(self, now: datetime) -> None:
        """Freeze the running timer (answers close while paused)."""
        if self.state not in (RoundState.COLLECTING, RoundState.REVEALING):
            raise InvalidTransitionError(f"a {self.state.value} round can't be paused")
        running = self.due_at()
        self.paused_from = self.state
        self._move(RoundState.PAUSED)
        self.remaining_s = max(0.0, (running - now).total_seconds()) if running else None

    def resume(self, now: datetime) -> None:
        """PAUSED → where it was, with the timer's remaining time (the question's clock skips the pause)."""
        if self.state != RoundState.PAUSED or self.paused_from is None:
            raise InvalidTransitionError("only a paused round can resume")
        previous, remaining = self.paused_from, self.remaining_s
        old_due = self.due_at_for(previous)
        self._move(previous)
        if remaining is not None and old_due is not None:
            shift = now + timedelta(seconds=remaining) - old_due
            if previous == RoundState.COLLECTING:
                self.deadline = old_due + shift
                if self.question_started_at is not None:
                    self.question_started_at += shift
            elif self.revealed:
                self.next_at = old_due + shift
            else:
                self.reveal_by = old_due + shift
        self.paused_from = None
        self.remaining_s = None

    def due_at_for(self, state: RoundState) -> datetime | None:
        if state == RoundState.COLLECTING:
            return self.deadline
        if state == RoundState.REVEALING:
            return self.next_at if self.revealed else self.reveal_by
        return None

    def end(self, now: datetime) -> None:
        if self.state == RoundState.ENDED:
            return
        self._move(RoundState.ENDED)
        self.ended_at = now
        self.deadline = self.reveal_by = self.next_at = None
        self.paused_from = None
        self.remaining_s = None

    # -- deciding -----------------------------------------------------------------------------------------------

    def tick(self, now: datetime, *, all_graded: bool) -> Step:
        """What the scheduler should do at `now` (it then calls the matching transition)."""
        if self.state == RoundState.COLLECTING and self.deadline is not None and now >= self.deadline:
            return Step.CLOSE
        timed_out = self.reveal_by is not None and now >= self.reveal_by
        if self.state == RoundState.REVEALING and not self.revealed and (all_graded or timed_out):
            return Step.REVEAL
        if self.state == RoundState.REVEALING and self.revealed and self.next_at is not None and now >= self.next_at:
            return Step.ADVANCE
        return Step.NONE

    def host_next(self) -> Step:
        """The host pressed Next: close answers now, reveal now (grades so far), or ask the next question."""
        if self.state == RoundState.COLLECTING:
            return Step.CLOSE
        if self.state == RoundState.REVEALING:
            return Step.ADVANCE if self.revealed else Step.REVEAL
        if self.state == RoundState.PAUSED:
            raise RoundClosedError("The round is paused; press Resume first.")
        raise RoundClosedError("This study round has ended.")


def can_control(round_: StudyRound, user_id: int, *, manage_guild: bool) -> bool:
    """The host, or anyone with Manage Server (the adapter passes that permission in), controls a round."""
    return user_id == round_.host_id or manage_guild


def check_control(round_: StudyRound, user_id: int, *, manage_guild: bool) -> None:
    if not can_control(round_, user_id, manage_guild=manage_guild):
        raise NotRoundHostError


# --- results: coverage and ranking ---------------------------------------------------------------------------------


class RoundAnswer(BaseModel):
    """One member's answer to one question of a round (or of a daily post): who, when, and its grade, if any."""

    model_config = {"frozen": True}

    user_id: int
    attempt_id: int
    position: int = 0
    elapsed_s: float = 0.0  # seconds after the question was asked
    submitted_at: datetime
    grade: GradeResult | None = None
    failed: bool = False  # grading gave up

    @property
    def score(self) -> float | None:
        return self.grade.score if self.grade is not None else None

    @property
    def settled(self) -> bool:
        """Graded, or given up on: nothing more will come for it."""
        return self.grade is not None or self.failed


@dataclass(frozen=True)
class KeyPointCoverage:
    key_point: str
    covered: int
    partial: int
    missed: int  # missing or incorrect
    graded: int

    @property
    def missed_share(self) -> float:
        """Share of graded answers that missed this point (a partial counts half)."""
        return (self.missed + 0.5 * self.partial) / self.graded if self.graded else 0.0


def class_coverage(key_points: Sequence[str], grades: Iterable[GradeResult]) -> list[KeyPointCoverage]:
    """Per key point, how many graded answers covered, half-covered or missed it; most-missed first.

    A grade that has no verdict for a point (a grader that skipped it) counts it as missed."""
    keys = [kp.strip().casefold() for kp in key_points]
    counts = {key: [0, 0, 0] for key in keys}  # covered, partial, missed
    total = 0
    for grade in grades:
        total += 1
        verdicts = {kp.key_point.strip().casefold(): kp.verdict for kp in grade.key_points}
        for key in keys:
            verdict = verdicts.get(key, Verdict.MISSING)
            slot = 0 if verdict == Verdict.COVERED else 1 if verdict == Verdict.PARTIAL else 2
            counts[key][slot] += 1
    rows = [
        KeyPointCoverage(point, counts[key][0], counts[key][1], counts[key][2], total)
        for point, key in zip(key_points, keys, strict=True)
    ]
    order = {row.key_point: index for index, row in enumerate(rows)}
    return sorted(rows, key=lambda row: (-row.missed_share, order[row.key_point]))


@dataclass(frozen=True)
class Ranked:
    rank: int
    user_id: int
    score: float
    elapsed_s: float
    answered: int = 1


def rank_answers(answers: Iterable[RoundAnswer]) -> list[Ranked]:
    """Graded answers by score (high first), then time (fast first); exact ties share a rank (1, 1, 3)."""
    graded = sorted(
        (a for a in answers if a.grade is not None),
        key=lambda a: (-round(a.grade.score, 2) if a.grade else 0.0, round(a.elapsed_s, 1), a.user_id),
    )
    return _with_ranks([(a.user_id, round(a.grade.score, 2), round(a.elapsed_s, 1), 1) for a in graded if a.grade])


def round_standings(answers: Iterable[RoundAnswer]) -> list[Ranked]:
    """The whole round: total score over its questions (high first), then total time (fast first)."""
    totals: dict[int, list[float]] = {}
    for answer in answers:
        if answer.grade is None:
            continue
        entry = totals.setdefault(answer.user_id, [0.0, 0.0, 0])
        entry[0] += answer.grade.score
        entry[1] += answer.elapsed_s
        entry[2] += 1
    ordered = sorted(totals.items(), key=lambda item: (-round(item[1][0], 2), round(item[1][1], 1), item[0]))
    return _with_ranks([(uid, round(v[0], 2), round(v[1], 1), int(v[2])) for uid, v in ordered])


def _with_ranks(rows: Sequence[tuple[int, float, float, int]]) -> list[Ranked]:
    ranked: list[Ranked] = []
    for position, (user_id, score, elapsed, answered) in enumerate(rows, start=1):
        previous = ranked[-1] if ranked else None
        tie = previous is not None and (previous.score, previous.elapsed_s) == (score, elapsed)
        rank = previous.rank if tie and previous is not None else position
        ranked.append(Ranked(rank, user_id, score, elapsed, answered))
    return ranked


@dataclass(frozen=True)
class QuestionResults:
    """What a reveal shows: who answered, how the class covered the key points, and the ranking. No answer text."""

    question_id: str
    answered: list[int]  # user ids, in the order they answered
    coverage: list[KeyPointCoverage]
    ranking: list[Ranked]
    pending: int  # answers not graded (yet, or ever)

    @property
    def most_missed(self) -> list[KeyPointCoverage]:
        return [row for row in self.coverage if row.graded and row.missed_share >= 0.5]


def question_results(question_id: str, key_points: Sequence[str], answers: Sequence[RoundAnswer]) -> QuestionResults:
    ordered = sorted(answers, key=lambda a: (a.submitted_at, a.user_id))
    grades = [a.grade for a in ordered if a.grade is not None]
    return QuestionResults(
        question_id=question_id,
        answered=[a.user_id for a in ordered],
        coverage=class_coverage(key_points, grades),
        ranking=rank_answers(ordered),
        pending=sum(1 for a in ordered if a.grade is None),
    )
