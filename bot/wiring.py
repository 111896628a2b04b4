"""The composition root: builds the concrete bank, graders, storage and the interview service from `Settings`.

Each builder imports what it builds: command modules import this one at the top, and `grade` needs no database
(SQLAlchemy), `history` no grader (numpy), `--help` neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.ports import Clock, Grader, SystemClock

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.core.question_bank import QuestionBank
    from bot.core.service import InterviewService
    from bot.settings import Settings
    from bot.storage.accounts import SqlAccountRepository
    from bot.storage.attempts import SqlAttemptRepository
    from bot.storage.privacy import SqlPrivacyRepository
    from bot.storage.progress import SqlProgressRepository
    from bot.storage.queue import SqlGradingQueue
    from bot.storage.sessions import SqlSessionRepository


def build_bank(settings: Settings) -> QuestionBank:
    from bot.core.question_bank import load_bank
    from bot.resources import builtin_bank_dir

    return load_bank(builtin_bank_dir(), settings.bank_dirs)


def build_grader(settings: Settings, choice: str | None = None) -> Grader:
    """The grader for `choice` (or the settings' choice): offline, or the LLM with an offline fallback."""
    from bot.grading.offline import OfflineGrader

    kind = choice or settings.effective_grader()
    if kind == "llm":
        from bot.llm.factory import build_llm_grader  # openai is only needed on this path

        grader: Grader = build_llm_grader(settings, fallback=OfflineGrader())
        return grader
    return OfflineGrader()


@dataclass(frozen=True)
class Storage:
    """Every repository over one engine."""

    engine: AsyncEngine
    attempts: SqlAttemptRepository
    sessions: SqlSessionRepository
    progress: SqlProgressRepository
    accounts: SqlAccountRepository
    privacy: SqlPrivacyRepository
    queue: SqlGradingQueue


@asynccontextmanager
async def open_storage(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Storage]:
    """All repositories over the configured database, migrated first when `auto_migrate` is on."""
    from bot.storage.accounts import SqlAccountRepository
    from bot.storage.attempts import SqlAttemptRepository
    from bot.storage.engine import create_engine
    from bot.storage.migrate import upgrade_async
    from bot.storage.privacy import SqlPrivacyRepository
    from bot.storage.progress import SqlProgressRepository
    from bot.storage.queue import SqlGradingQueue
    from bot.storage.sessions import SqlSessionRepository

    if settings.auto_migrate:
        await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    clock = clock or SystemClock()
    try:
        yield Storage(
            engine=engine,
            attempts=SqlAttemptRepository(engine, clock),
            sessions=SqlSessionRepository(engine, clock),
            progress=SqlProgressRepository(engine, clock),
            accounts=SqlAccountRepository(engine, clock),
            privacy=SqlPrivacyRepository(engine, clock),
            queue=SqlGradingQueue(engine, clock),
        )
    finally:
        await engine.dispose()


def build_service(bank: QuestionBank, storage: Storage, clock: Clock | None = None) -> InterviewService:
    from bot.core.service import InterviewService

    return InterviewService(bank, storage.sessions, storage.attempts, storage.progress, clock=clock)
