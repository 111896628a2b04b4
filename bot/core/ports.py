"""Ports: the Protocols the core depends on; storage, graders and clocks implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from bot.core.errors import UserFacingError
from bot.core.models import (
    AnswerSubmission,
    Attempt,
    ClaimedJob,
    GradeResult,
    PendingDelivery,
    Rubric,
    SessionRecord,
)

# (card as stored or None for a new one) -> (the rescheduled card, when it is due next)
Reschedule = Callable[[dict[str, object] | None], tuple[dict[str, object], datetime]]


class StaleSessionError(UserFacingError):
    """A session save found the stored session changed since it was read (another action saved first).

    The service re-reads and re-decides when it sees this; the message only shows if that keeps happening."""

    def __init__(self, session_id: int | None = None) -> None:
        super().__init__("This interview changed while that was being saved. Look at its latest message and try again.")
        self.session_id = session_id


@dataclass(frozen=True)
class ReviewChange:
    """A spaced-repetition review to store with a session save: the (user, question) card, read in the same
    transaction, becomes `reschedule(card)`."""

    user_id: int
    question_id: str
    score: float | None  # the grade that drove it (None: skipped or revealed)
    reschedule: Reschedule
    # The graded answer that drove it: its review is applied once, and not at all once the answer is deleted.
    attempt_id: int | None = None


@dataclass(frozen=True)
class SessionRevision:
    """What `SessionRepository.revise` saves: the session's new record and, optionally, a review with it."""

    record: SessionRecord
    review: ReviewChange | None = None


@dataclass(frozen=True)
class AnswerPlan:
    """What `SessionRepository.answer` stores: the answer, and the session record it moves to once the answer has
    its id (`session_for(attempt)`)."""

    submission: AnswerSubmission
    session_for: Callable[[Attempt], SessionRecord]


class Grader(Protocol):
    """Grades one answer against a rubric. Raises `GraderUnavailableError` rather than invent a score."""

    name: str

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult: ...


GraderT = TypeVar("GraderT", bound=Grader)


async def close_grader(grader: Grader) -> None:
    """Release what `grader` holds: graders with connections (the LLM's) have `aclose`, the others nothing."""
    close = getattr(grader, "aclose", None)
    if close is not None:
        await close()


@asynccontextmanager
async def closing_grader(grader: GraderT) -> AsyncIterator[GraderT]:
    """`grader`, closed (`close_grader`) when the block ends."""
    try:
        yield grader
    finally:
        await close_grader(grader)


class AttemptRepository(Protocol):
    async def submit_answer(self, submission: AnswerSubmission) -> Attempt:
        """Store the answer and enqueue its grading job in one transaction."""
        ...

    async def save_grade(self, attempt_id: int, grade: GradeResult) -> Attempt: ...

    async def mark_failed(self, attempt_id: int, error: str) -> None: ...

    async def get_attempt(self, attempt_id: int) -> Attempt: ...

    async def history(
        self, user_id: int, *, topic: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[Attempt]: ...


class SessionRepository(Protocol):
    async def create(self, record: SessionRecord) -> SessionRecord:
        """Store a new active session; raise `SessionAlreadyActiveError` if the user has one in that context."""
        ...

    async def save(self, record: SessionRecord, *, review: ReviewChange | None = None) -> SessionRecord:
        """Persist a transition (state, active flag, snapshot, message ids) if the stored session is still at
        `record.version`, else raise `StaleSessionError` and write nothing; with `review`, store that review in the
        same transaction. Returns the stored record (its version bumped)."""
        ...

    async def save_answer(
        self, submission: AnswerSubmission, session_for: Callable[[Attempt], SessionRecord]
    ) -> Attempt:
        """One transaction: store the answer with its grading job, and save (as `save`) the session record that
        `session_for(new attempt)` returns. The answer and the session's move to GRADING commit together or not
        at all, so a stale session (a double submit) leaves no attempt behind."""
        ...

    async def answer(self, session_id: int, plan: Callable[[SessionRecord], AnswerPlan]) -> Attempt:
        """`save_answer` with the session read in the same write transaction, so no other write lands in between:
        `plan(record)` decides what to store (or raises to refuse, and nothing is written for it). Answers that
        arrive together may share that transaction; each is decided on its own session."""
        ...

    async def revise(
        self, session_id: int, decide: Callable[[SessionRecord], SessionRevision | None]
    ) -> tuple[SessionRecord, bool]:
        """Read the session and save what `decide` makes of it (as `save`, review included) in one write
        transaction, so no other write lands in between. `decide` returns None to leave the session as it is.
        Returns the stored record and whether it changed; `SessionNotFoundError` when missing."""
        ...

    async def get(self, session_id: int) -> SessionRecord:
        """Raise `SessionNotFoundError` when missing."""
        ...

    async def active_for(self, user_id: int, context: str) -> SessionRecord | None: ...

    async def idle_since(self, cutoff: datetime, limit: int = 100) -> list[SessionRecord]:
        """Active sessions not updated since `cutoff` (for expiry)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class GradingQueue(Protocol):
    """The durable grading queue and delivery outbox (storage implements it; `bot.pipeline` drives it).

    Every method that finishes a lease returns "lost" / None when the lease expired and was taken over,
    so a stalled worker can never store a second grade or send a second delivery.
    """

    async def claim_jobs(self, worker_id: str, limit: int, lease_seconds: float) -> list[ClaimedJob]: ...

    async def complete(self, job: ClaimedJob, grade: GradeResult) -> Attempt | None: ...

    async def complete_many(self, results: Sequence[tuple[ClaimedJob, GradeResult]]) -> list[Attempt | None]:
        """`complete` for a batch in one transaction (a group commit); a lost lease is None in its place."""
        ...

    async def fail(self, job: ClaimedJob, error: str, *, retryable: bool = True) -> str:
        """Returns "retry" (back in the queue after a backoff), "failed" (gave up) or "lost"."""
        ...

    async def reclaim_expired(self, now: datetime | None = None) -> int: ...

    async def claim_deliveries(
        self, worker_id: str, limit: int, lease_seconds: float = 60.0
    ) -> list[PendingDelivery]: ...

    async def mark_delivered(self, item: PendingDelivery) -> bool: ...

    async def mark_delivered_many(self, items: Sequence[PendingDelivery]) -> list[bool]:
        """`mark_delivered` for a batch in one transaction; a lost lease is False in its place."""
        ...

    async def release_delivery(self, item: PendingDelivery, error: str) -> str: ...
