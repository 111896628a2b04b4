"""The daily LLM-grading caps through the loopback Discord: per user (bot-wide), per member and per server.

An answer over a cap is refused with a friendly message and nothing is stored or queued (as the per-user quota
has always done). Counts come from the database, so a cap holds across a restart, and a standalone worker only
ever grades what the bot admitted.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.cli.worker import run_workers
from bot.core.guild_settings import GuildSettings
from bot.discord_app.client import InterviewBot
from bot.discord_app.limits import start_of_day
from bot.storage.accounts import SqlAccountRepository
from tests.discord_app._run_process import feedback_followups
from tests.discord_app.conftest import bot_messages, custom_ids
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer

PERM_MANAGE_GUILD = 1 << 5


async def answer_in_guild(
    fake: FakeDiscord, user: dict[str, Any], text: str = "Mode collapse: few modes.", *, feedback: bool = False
) -> str:
    """`/practice` in the guild, Answer, submit the modal; returns the bot's reply to the submit (after the
    feedback arrived, with `feedback`: a practice is replaced by the next one only once its feedback is out)."""
    start = await fake.slash("practice", {"topic": "gans"}, user=user, guild=fake.guild)
    assert (await start.wait_callback()).json["type"] == 5
    question = (await start.wait_webhook("POST")).json
    return await answer_question(fake, user, custom_ids(question)[0].split(":")[2], text, feedback=feedback)


async def answer_question(
    fake: FakeDiscord, user: dict[str, Any], session_id: str, text: str, *, feedback: bool = False
) -> str:
    """Press Answer on the session's question (the button survives restarts) and submit `text`; the bot's reply."""
    press = await fake.click(fake.find_component(f"^iv:answer:{session_id}:")[1], user=user)
    assert (await press.wait_callback()).json["type"] == 9
    submit = await fake.submit_modal(press, text)
    await submit.wait_callback()
    reply = str((await submit.wait_webhook("POST")).json["content"])
    if feedback:
        await fake.wait_until(lambda: feedback_followups(submit), 10, "the feedback")
    return reply


async def set_guild(bot: InterviewBot, fake: FakeDiscord, **changes: Any) -> None:
    accounts = SqlAccountRepository(bot.runtime.attempts.engine, bot.runtime.clock)
    await accounts.update_guild_settings(int(fake.guild["id"]), changes)


async def attempts_today(bot: InterviewBot, **where: int) -> int:
    return await bot.runtime.attempts.count_for_llm_quota(start_of_day(bot.runtime.clock.now()), **where)


async def test_server_cap_refuses_the_next_answer_in_that_server_only_and_holds_after_a_restart(
    fake: FakeDiscord, launch
) -> None:
    members = [fake.make_user(f"member-{i}") for i in range(3)]
    async with launch(grader="llm", daily_llm_quota=100) as bot:
        await set_guild(bot, fake, llm_daily_guild_quota=2)
        for member in members[:2]:
            assert "Answer saved" in await answer_in_guild(fake, member)
        refused = await answer_in_guild(fake, members[2], "one answer over the server's cap")
        assert "This server has had 2 answers graded by AI today" in refused
        assert "midnight UTC" in refused and "wasn't kept" in refused
        assert await attempts_today(bot, guild_id=int(fake.guild["id"])) == 2
        assert await attempts_today(bot, user_id=int(members[2]["id"])) == 0  # nothing stored, nothing queued
        _, waiting = fake.find_component("^iv:answer:")  # the refused member's question is still open

        # The same member can still practise in a DM: the server cap is the server's.
        start = await fake.slash("practice", {"topic": "gans"}, user=members[2])
        await start.wait_webhook("POST")
        await fake.dm_message(members[2], "An answer in my DM.")
        await fake.wait_until(
            lambda: any(
                "Answer saved" in (m.get("content") or "")
                for m in bot_messages(fake, fake.dm_channel_for(members[2])["id"])
            ),
            10,
            "saved",
        )

    async with launch(grader="llm", daily_llm_quota=100):  # a new process on the same database
        again = await answer_question(fake, members[2], waiting.split(":")[2], "after the restart")
        assert "This server has had 2 answers graded by AI today" in again


async def test_per_member_cap_applies_to_interview_answers_in_the_server(fake: FakeDiscord, launch) -> None:
    eager, other = fake.make_user("eager"), fake.make_user("other")
    async with launch(grader="llm", daily_llm_quota=100) as bot:
        await set_guild(bot, fake, llm_quota_per_member=1)
        assert "Answer saved" in await answer_in_guild(fake, eager, feedback=True)
        refused = await answer_in_guild(fake, eager, "my second answer today")
        assert "this server's daily limit per member" in refused
        assert "Answer saved" in await answer_in_guild(fake, other)
        assert await attempts_today(bot, user_id=int(eager["id"])) == 1


async def test_bot_wide_user_quota_counts_answers_in_every_server_and_dm(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("everywhere")
    async with launch(grader="llm", daily_llm_quota=1):
        assert "Answer saved" in await answer_in_guild(fake, user, feedback=True)
        refused = await answer_in_guild(fake, user, "a second one")
        assert "daily limit for AI grading" in refused


async def test_no_cap_applies_to_the_offline_grader(fake: FakeDiscord, launch) -> None:
    members = [fake.make_user(f"free-{i}") for i in range(2)]
    async with launch(grader="offline", daily_llm_quota=1) as bot:
        await set_guild(bot, fake, llm_daily_guild_quota=1, llm_quota_per_member=1)
        for member in members:
            assert "Answer saved" in await answer_in_guild(fake, member)


async def test_moderators_set_the_server_cap_with_settings_quota(fake: FakeDiscord, launch) -> None:
    moderator = fake.make_user("moderator")
    async with launch(grader="llm") as bot:
        fake.guild["_permissions"] = int(fake.guild["_permissions"]) | PERM_MANAGE_GUILD
        try:
            reply = await fake.slash("settings quota", {"per_server": 250}, user=moderator, guild=fake.guild)
            shown = (await reply.wait_callback()).json["data"]
        finally:
            fake.guild["_permissions"] = int(fake.guild["_permissions"]) & ~PERM_MANAGE_GUILD
        fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
        assert fields["AI-graded answers a day, whole server"] == "250"
        assert fields["AI-graded answers per member a day"] == "bot default"  # untouched
        stored = await SqlAccountRepository(bot.runtime.attempts.engine).guild_settings(int(fake.guild["id"]))
        settings = GuildSettings.from_stored(stored)
        assert (settings.llm_daily_guild_quota, settings.llm_quota_per_member) == (250, 0)


@pytest.fixture
async def llm():
    async with FakeOpenAIServer() as server:
        yield server


async def test_a_standalone_worker_grades_only_what_the_bot_admitted_and_the_cap_still_holds(
    fake: FakeDiscord, launch, make_settings, bank, llm: FakeOpenAIServer
) -> None:
    members = [fake.make_user(f"queued-{i}") for i in range(3)]
    llm_settings = {"grader": "llm", "openai_base_url": llm.base_url, "openai_api_key": "sk-loopback"}
    # The bot only takes answers (background=False: no grading in it); a separate worker grades them.
    async with launch(background=False, **llm_settings) as bot:
        await set_guild(bot, fake, llm_daily_guild_quota=2)
        for member in members[:2]:
            assert "Answer saved" in await answer_in_guild(fake, member)
        assert "This server has had 2" in await answer_in_guild(fake, members[2])
        _, waiting = fake.find_component("^iv:answer:")  # the refused member's question is still open

        graded = await run_workers(
            make_settings(**llm_settings),
            bank,
            grader_choice=None,
            processes=1,
            concurrency=2,
            worker_id="standalone",
            until_idle=True,
            metrics_port=0,
        )
        assert graded == 2 and len(llm.requests) == 2
        rows = await bot.runtime.attempts.history(int(members[0]["id"]))
        assert rows[0].grade is not None and rows[0].grade.grader == "llm"
        # Graded by the LLM, the answers still count: the cap holds for the rest of the day.
        again = await answer_question(fake, members[2], waiting.split(":")[2], "still over")
        assert "This server has had 2" in again
