"""Fills a database the way real use does (service + worker + repositories) for two users (not a test module)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import CustomQuestion, GradeResult, KeyPointResult, Transport, Verdict
from bot.core.question_bank import QuestionBank, load_bank
from bot.core.service import InterviewService, Where
from bot.core.session import Mode
from bot.pipeline import GradingWorker
from bot.storage.accounts import SqlAccountRepository
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.progress import SqlProgressRepository
from bot.storage.queue import SqlGradingQueue
from bot.storage.sessions import SqlSessionRepository

FIXTURE_BANK = Path(__file__).resolve().parents[1] / "data" / "bank"
GUILD = 31337


def fixture_bank() -> QuestionBank:
    return load_bank(FIXTURE_BANK)


class FixedGrader:
    name = "fixed"

    async def grade(self, rubric, answer):
        return GradeResult(
            score=6.0,
            key_points=[KeyPointResult(key_point=p, verdict=Verdict.PARTIAL) for p in rubric.key_points],
            strengths=["You answered."],
            grader="fixed",
        )


@dataclass
class Stack:
    engine: AsyncEngine
    service: InterviewService
    attempts: SqlAttemptRepository
    sessions: SqlSessionRepository
    progress: SqlProgressRepository
    accounts: SqlAccountRepository
    queue: SqlGradingQueue


def stack(engine: AsyncEngine, bank: QuestionBank | None = None) -> Stack:
    attempts = SqlAttemptRepository(engine)
    sessions = SqlSessionRepository(engine)
    progress = SqlProgressRepository(engine)
    service = InterviewService(bank or fixture_bank(), sessions, attempts, progress)
    return Stack(engine, service, attempts, sessions, progress, SqlAccountRepository(engine), SqlGradingQueue(engine))


async def use_the_bot(s: Stack, user_id: int, marker: str) -> int:
    """A DM interview and a guild interview with graded answers, a review schedule, settings, a custom question.

    Every answer contains `marker`; returns the DM session's id."""
    dm = await s.service.start(user_id, Where(context="dm", transport=Transport.DM), Mode.INTERVIEW, count=2)
    await s.service.submit_answer(dm.record.id, user_id, f"{marker} attention weighs tokens", delivery={"dm": user_id})
    guild = await s.service.start(
        user_id,
        Where(context=f"guild:{GUILD}", transport=Transport.THREAD, guild_id=GUILD, channel_id=5, thread_id=6),
        Mode.PRACTICE,
    )
    await s.service.submit_answer(guild.record.id, user_id, f"{marker} softmax turns scores into weights")
    worker = GradingWorker(s.queue, FixedGrader(), s.service.rubric_for, worker_id=f"w{user_id}", poll_interval=0.05)
    await worker.run(until_idle=True)
    for attempt in await s.attempts.history(user_id):
        await s.service.record_grade(attempt)  # the notifier's job: session transition + review schedule
    await s.accounts.set_timezone(user_id, "Europe/Berlin")
    await s.accounts.update_user_settings(user_id, {"note": marker})
    await s.accounts.update_guild_settings(GUILD, {"channel": 1})
    await s.accounts.add_custom_question(
        CustomQuestion(
            guild_id=GUILD, question_id=f"own.q{user_id % 997}", topic="own", body={"q": "?"}, created_by=user_id
        )
    )
    return dm.record.id
