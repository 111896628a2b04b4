"""Fakes and helpers shared by the storage tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.core.errors import GraderUnavailableError
from bot.core.models import AnswerSubmission, GradeResult, Rubric


def fake_score(answer: str) -> float:
    """Deterministic: the same answer always gets the same score."""
    return float(sum(map(ord, answer)) % 11)


class FakeGrader:
    """Deterministic grader; can fail the first `fail_first` calls or block forever."""

    name = "fake"

    def __init__(self, *, fail_first: int = 0, retryable: bool = True, delay: float = 0.0) -> None:
        self.calls: list[str] = []
        self.fail_first = fail_first
        self.retryable = retryable
        self.delay = delay

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        self.calls.append(answer)
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.calls) <= self.fail_first:
            raise GraderUnavailableError("fake outage", retryable=self.retryable)
        return GradeResult(score=fake_score(answer), grader="fake", model="fake-1", prompt_version="t1")


def rubric_for(attempt: object) -> Rubric:
    return Rubric(question="What is a test?", reference_answer="A check that can fail.")


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def submission(user_id: int = 1, n: int = 0, **extra: object) -> AnswerSubmission:
    values: dict[str, object] = {
        "user_id": user_id,
        "question_id": f"rag.q{n % 7}",
        "topic": "rag",
        "answer": f"answer {n} from {user_id}",
    }
    values.update(extra)
    return AnswerSubmission.model_validate(values)
