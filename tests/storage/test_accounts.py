"""User timezone and settings, guild settings, and custom questions per guild."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import CustomQuestion
from bot.storage.accounts import CustomQuestionExistsError, SqlAccountRepository, UnknownTimezoneError


async def test_user_timezone_and_settings_merge(engine: AsyncEngine) -> None:
    repo = SqlAccountRepository(engine)
    assert (await repo.get_user(5)).timezone == "UTC"
    assert (await repo.set_timezone(5, "Asia/Kolkata")).timezone == "Asia/Kolkata"
    with pytest.raises(UnknownTimezoneError):
        await repo.set_timezone(5, "Mars/Olympus")
    await repo.update_user_settings(5, {"dm_reminders": True, "difficulty": "advanced"})
    profile = await repo.update_user_settings(5, {"difficulty": None})
    assert profile.settings == {"dm_reminders": True}
    assert profile.timezone == "Asia/Kolkata"


async def test_guild_settings_merge(engine: AsyncEngine) -> None:
    repo = SqlAccountRepository(engine)
    assert await repo.guild_settings(9) == {}
    await repo.update_guild_settings(9, {"daily_channel": 123, "timezone": "UTC"})
    assert await repo.update_guild_settings(9, {"timezone": "Europe/Paris"}) == {
        "daily_channel": 123,
        "timezone": "Europe/Paris",
    }
    assert (await repo.guild_settings(9))["timezone"] == "Europe/Paris"


async def test_custom_questions_add_list_remove_per_guild(engine: AsyncEngine) -> None:
    repo = SqlAccountRepository(engine)
    body = {"id": "ours.q1", "question": "Why?", "reference_answer": "Because."}
    await repo.add_custom_question(
        CustomQuestion(guild_id=1, question_id="ours.q1", topic="ours", body=body, created_by=7)
    )
    await repo.add_custom_question(CustomQuestion(guild_id=1, question_id="ours.q2", topic="misc", body=body))
    await repo.add_custom_question(CustomQuestion(guild_id=2, question_id="ours.q1", topic="ours", body=body))
    with pytest.raises(CustomQuestionExistsError):
        await repo.add_custom_question(CustomQuestion(guild_id=1, question_id="ours.q1", topic="ours", body=body))
    listed = await repo.list_custom_questions(1)
    assert [(q.question_id, q.created_by, q.body) for q in listed] == [("ours.q1", 7, body), ("ours.q2", None, body)]
    assert [q.question_id for q in await repo.list_custom_questions(1, topic="misc")] == ["ours.q2"]
    assert await repo.remove_custom_question(1, "ours.q1") is True
    assert await repo.remove_custom_question(1, "ours.q1") is False
    assert [q.question_id for q in await repo.list_custom_questions(2)] == ["ours.q1"]
