"""Everything the bot needs, built from `Settings` (the composition root for `mockinterview run` and the tests).

Cogs see the service and the repositories (which return domain models), never the engine or the OpenAI client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.core.ports import Clock, Grader, SystemClock, close_grader
from bot.core.question_bank import QuestionBank
from bot.core.service import InterviewService
from bot.settings import Settings
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.privacy import SqlPrivacyRepository
from bot.storage.progress import SqlProgressRepository
from bot.storage.queue import SqlGradingQueue
from bot.storage.sessions import SqlSessionRepository
from bot.wiring import build_bank, build_grader


@dataclass
class Runtime:
    settings: Settings
    bank: QuestionBank
    service: InterviewService
    attempts: SqlAttemptRepository
    progress: SqlProgressRepository
    privacy: SqlPrivacyRepository
    queue: SqlGradingQueue
    grader: Grader
    clock: Clock


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    grader: Grader | None = None,
    clock: Clock | None = None,
    bank: QuestionBank | None = None,
) -> AsyncIterator[Runtime]:
    """Migrate (when `auto_migrate`), open the database, and build the engine's collaborators."""
    if settings.auto_migrate:
        await upgrade_async(settings.database_url)
    clock = clock or SystemClock()
    bank = bank or build_bank(settings)
    owned_grader = grader is None  # a grader passed in belongs to the caller, who closes it
    grader = grader or build_grader(settings)
    engine = create_engine(settings.database_url)
    try:
        attempts = SqlAttemptRepository(engine, clock)
        progress = SqlProgressRepository(engine, clock)
        service = InterviewService(bank, SqlSessionRepository(engine, clock), attempts, progress, clock=clock)
        yield Runtime(
            settings=settings,
            bank=bank,
            service=service,
            attempts=attempts,
            progress=progress,
            privacy=SqlPrivacyRepository(engine, clock),
            queue=SqlGradingQueue(engine, clock),
            grader=grader,
            clock=clock,
        )
    finally:
        if owned_grader:
            await close_grader(grader)
        await engine.dispose()
