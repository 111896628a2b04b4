"""The daily LLM caps' reads (`LlmQuota.check` over the real repositories), on both engines: no query when no cap
can apply, one statement for the user's count with the guild's settings, one more only when the guild has a cap."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.guild_settings import GuildSettings
from bot.core.models import GradeResult
from bot.discord_app.limits import LlmQuota, QuotaExceededError
from bot.settings import Settings
from bot.storage.accounts import SqlAccountRepository
from bot.storage.attempts import SqlAttemptRepository
from tests.storage._storage_helpers import FixedClock, submission

GUILD = 900


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


def quota(engine: AsyncEngine, *, grader: str = "llm", per_user: int = 0) -> LlmQuota:
    clock = FixedClock()
    settings = Settings(grader=grader, daily_llm_quota=per_user)  # type: ignore[arg-type]
    return LlmQuota(SimpleNamespace(attempts=SqlAttemptRepository(engine, clock), clock=clock, settings=settings))  # type: ignore[arg-type]


async def answered(engine: AsyncEngine, user_id: int, guild_id: int | None, n: int, grader: str | None = None) -> None:
    repo = SqlAttemptRepository(engine, FixedClock())
    for attempt in await repo.submit_answers([submission(user_id, i, guild_id=guild_id) for i in range(n)]):
        if grader is not None:
            await repo.save_grade(attempt.id, GradeResult(score=5, grader=grader))


async def set_guild(engine: AsyncEngine, **caps: int) -> None:
    await SqlAccountRepository(engine, FixedClock()).update_guild_settings(GUILD, caps)


async def test_no_cap_to_check_means_no_query(engine: AsyncEngine, statements: list[str]) -> None:
    await quota(engine, per_user=0).check(1, None)  # no bot-wide cap, not in a guild
    await quota(engine, grader="offline", per_user=5).check(1, GUILD)  # the offline grader has no caps
    await quota(engine, per_user=0).check(1, GUILD, GuildSettings())  # the guild's settings known: no caps
    assert statements == []


async def test_a_guild_without_caps_costs_one_statement_with_the_users_count(
    engine: AsyncEngine, statements: list[str]
) -> None:
    await set_guild(engine, llm_quota_per_member=0)
    await answered(engine, 1, GUILD, 2)
    statements.clear()
    await quota(engine, per_user=3).check(1, GUILD)
    assert len(statements) == 1
    statements.clear()
    await quota(engine, per_user=0).check(1, GUILD)  # only the guild's settings: are there caps?
    assert len(statements) == 1
    await answered(engine, 1, None, 1)  # a DM answer counts for the bot-wide cap
    with pytest.raises(QuotaExceededError) as refused:
        await quota(engine, per_user=3).check(1, GUILD)
    assert refused.value.scope == "user"


async def test_guild_caps_count_the_member_and_the_guild_in_one_more_statement(
    engine: AsyncEngine, statements: list[str]
) -> None:
    await set_guild(engine, llm_quota_per_member=2, llm_daily_guild_quota=5)
    await answered(engine, 1, GUILD, 1)
    await answered(engine, 1, GUILD, 3, grader="offline")  # graded offline by choice: free, not counted
    await answered(engine, 2, GUILD, 2)
    await answered(engine, 1, None, 4)  # in a DM: not this guild's
    statements.clear()
    await quota(engine, per_user=10).check(1, GUILD)  # member 1 of 2, guild 3 of 5
    assert len(statements) == 2
    await answered(engine, 1, GUILD, 1)
    with pytest.raises(QuotaExceededError) as refused:
        await quota(engine, per_user=10).check(1, GUILD)
    assert refused.value.scope == "member"
    await answered(engine, 3, GUILD, 1)
    with pytest.raises(QuotaExceededError) as refused:
        await quota(engine, per_user=10).check(4, GUILD)  # a newcomer: the guild has had 5
    assert refused.value.scope == "guild"
