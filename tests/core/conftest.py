"""Engine fixtures: the fixture bank, a controllable clock, and real repositories over an SQLite file."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.models import GradeResult, KeyPointResult, Rubric, Transport, Verdict
from bot.core.question_bank import load_bank
from bot.core.service import InterviewService, Where
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.progress import SqlProgressRepository
from bot.storage.sessions import SqlSessionRepository

FIXTURE_BANK = Path(__file__).resolve().parent.parent / "data" / "bank"
TERMINAL = Where(context="terminal", transport=Transport.TERMINAL)
USER = 42


async def answer(service, grader, session_id, text, user=USER):
    """Submit, grade inline (as the terminal does) and record the grade."""
    attempt = await service.submit_answer(session_id, user, text)
    rubric = await service.rubric_for(attempt)
    graded = await service.attempts.save_grade(attempt.id, await grader.grade(rubric, text))
    return await service.record_grade(graded)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class ScriptedGrader:
    """A deterministic grader: the score is the number in the answer ("score 7"), else 5; covers the first
    ceil(score/10 * n) key points. Records the rubrics it saw."""

    name = "scripted"

    def __init__(self) -> None:
        self.rubrics: list[Rubric] = []

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        self.rubrics.append(rubric)
        words = answer.split()
        score = next((float(w) for w in words if w.replace(".", "", 1).isdigit()), 5.0)
        points = list(rubric.key_points) or [rubric.reference_answer[:50]]
        covered = round(score / 10 * len(points))
        return GradeResult(
            score=min(score, 10.0),
            key_points=[
                KeyPointResult(key_point=p, verdict=Verdict.COVERED if i < covered else Verdict.MISSING)
                for i, p in enumerate(points)
            ],
            follow_up=None,
            grader=self.name,
        )


@pytest.fixture
def bank():
    return load_bank(FIXTURE_BANK)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def engine(database_url):
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def make_service(bank, engine, clock):
    def _make(**kwargs):
        return InterviewService(
            bank,
            SqlSessionRepository(engine, clock),
            SqlAttemptRepository(engine, clock),
            SqlProgressRepository(engine, clock),
            clock=clock,
            rng_factory=lambda: random.Random(1),
            **kwargs,
        )

    return _make


@pytest.fixture
def service(make_service):
    return make_service()


@pytest.fixture
def grader():
    return ScriptedGrader()
