"""The composition root: builds the concrete bank, graders and storage from `Settings`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.core.ports import Grader
from bot.core.question_bank import QuestionBank, load_bank
from bot.grading.offline import OfflineGrader
from bot.resources import builtin_bank_dir
from bot.settings import Settings
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async


def build_bank(settings: Settings) -> QuestionBank:
    return load_bank(builtin_bank_dir(), settings.bank_dirs)


def build_grader(settings: Settings, choice: str | None = None) -> Grader:
    """The grader for `choice` (or the settings' choice): offline, or the LLM with an offline fallback."""
    kind = choice or settings.effective_grader()
    if kind == "llm":
        from bot.llm.factory import build_llm_grader  # imported lazily: openai is only needed for this path

        grader: Grader = build_llm_grader(settings, fallback=OfflineGrader())
        return grader
    return OfflineGrader()


@asynccontextmanager
async def open_attempts(settings: Settings) -> AsyncIterator[SqlAttemptRepository]:
    """The attempt repository over the configured database, migrated first when `auto_migrate` is on."""
    if settings.auto_migrate:
        await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        yield SqlAttemptRepository(engine)
    finally:
        await engine.dispose()
