"""The other commands end to end: history, progress chart, topics, help, privacy export/forget, review, autocomplete,
and the safety nets: error ids, cooldowns, the daily quota, embed limits, and the command tree's shape."""

from __future__ import annotations

import json
import logging

import pytest
from discord import app_commands

from bot.discord_app.client import InterviewBot
from tests.discord_app.conftest import GatedGrader, bot_messages, custom_ids
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord


async def _graded_practice_in_dm(fake: FakeDiscord, user: dict, text: str = "An answer about GANs.") -> dict:
    start = await fake.slash("practice", {"topic": "gans"}, user=user)
    await start.wait_callback()
    await start.wait_webhook("POST")
    await fake.dm_message(user, text)
    dm = fake.dm_channel_for(user)
    return (
        await fake.wait_until(
            lambda: [m for m in bot_messages(fake, dm["id"]) if m["embeds"] and m["embeds"][0]["title"] == "Feedback"],
            10,
            "feedback",
        )
    )[0]


async def test_history_lists_graded_answers(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("historian")
    async with launch():
        await _graded_practice_in_dm(fake, user)
        history = await fake.slash("history", {"topic": "gans"}, user=user, guild=fake.guild)
        assert (await history.wait_callback()).json["data"]["flags"] & EPHEMERAL
        page = (await history.wait_webhook("POST")).json
        assert page["embeds"][0]["title"].startswith("Your history")
        assert "**7.0**" in page["embeds"][0]["description"]


async def test_progress_sends_a_png_chart(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("climber")
    async with launch():
        empty = await fake.slash("progress", user=user)
        await empty.wait_callback()
        assert "No graded answers yet" in (await empty.wait_webhook("POST")).json["content"]

        await _graded_practice_in_dm(fake, user)
        chart = await fake.slash("progress", user=user)
        await chart.wait_callback()
        upload = await chart.wait_webhook("POST", timeout=20)
        assert upload.files[0].filename == "progress.png"
        assert upload.files[0].data.startswith(b"\x89PNG\r\n\x1a\n")
        assert upload.json["embeds"][0]["image"]["url"] == "attachment://progress.png"


async def test_topics_help_and_autocomplete(fake: FakeDiscord, launch, bank) -> None:
    user = fake.make_user("browser")
    async with launch():
        topics = await fake.slash("topics", user=user, guild=fake.guild)
        await topics.wait_callback()
        listed = (await topics.wait_webhook("POST")).json["embeds"][0]
        assert listed["title"] == f"{len(bank.topics)} topics"

        helped = await fake.slash("help", user=user, guild=fake.guild)
        reply = (await helped.wait_callback()).json
        assert reply["type"] == 4 and reply["data"]["flags"] & EPHEMERAL
        assert any(f["name"] == "/interview start" for f in reply["data"]["embeds"][0]["fields"])

        suggest = await fake.autocomplete("interview start", "topic", "gan", user=user, guild=fake.guild)
        choices = (await suggest.wait_callback()).json
        assert choices["type"] == 8
        assert {"name": "GANs (gans)", "value": "gans"} in choices["data"]["choices"] or any(
            c["value"] == "gans" for c in choices["data"]["choices"]
        )


async def test_privacy_export_sends_a_json_file_and_forget_deletes_after_confirmation(
    fake: FakeDiscord, launch
) -> None:
    user = fake.make_user("careful")
    async with launch() as bot:
        await _graded_practice_in_dm(fake, user)
        export = await fake.slash("privacy export", user=user, guild=fake.guild)
        await export.wait_callback()
        upload = await export.wait_webhook("POST")
        data = json.loads(upload.files[0].data)
        assert data["user_id"] == int(user["id"])
        assert data["tables"]["attempts"]

        forget = await fake.slash("privacy forget", user=user, guild=fake.guild)
        prompt = (await forget.wait_callback()).json
        assert prompt["type"] == 4 and prompt["data"]["flags"] & EPHEMERAL
        message = forget.original_message
        assert message is not None and custom_ids(message) == ["privacy:forget:confirm", "privacy:forget:cancel"]

        intruder = await fake.click("privacy:forget:confirm", user=fake.make_user("other"), message=message)
        assert "aren't for you" in (await intruder.wait_callback()).json["data"]["content"]
        assert await bot.runtime.attempts.history(int(user["id"]))

        confirm = await fake.click("privacy:forget:confirm", user=user, message=message)
        await confirm.wait_callback()
        done = await confirm.wait_webhook("PATCH", "/messages/@original")
        assert "deleted" in done.json["content"]
        assert await bot.runtime.attempts.history(int(user["id"])) == []


async def test_review_with_nothing_due_and_end_without_a_session_are_friendly(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("newcomer")
    async with launch():
        review = await fake.slash("review", user=user, guild=fake.guild)
        await review.wait_callback()
        assert "Nothing is due" in (await review.wait_webhook("POST")).json["content"]
        end = await fake.slash("interview end", user=user)
        await end.wait_callback()
        assert "no interview running" in (await end.wait_webhook("POST")).json["content"]


async def test_an_unexpected_error_shows_only_an_error_id_and_logs_it(
    fake: FakeDiscord, launch, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = fake.make_user("unlucky")
    async with launch() as bot:

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("database exploded: secret details")

        monkeypatch.setattr(bot.runtime.attempts, "history", broken)
        with caplog.at_level(logging.ERROR, logger="bot.discord_app.tree"):
            failing = await fake.slash("history", user=user, guild=fake.guild)
            await failing.wait_callback()
            reply = (await failing.wait_webhook("POST")).json["content"]
        assert "secret details" not in reply
        error_id = reply.split("`")[1]
        assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


async def test_per_user_cooldown_is_friendly(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("hasty")
    async with launch(discord_cooldown_rate=2, discord_cooldown_per_s=60):
        for _ in range(2):
            ok = await fake.slash("topics", user=user, guild=fake.guild)
            await ok.wait_callback()
        third = await fake.slash("topics", user=user, guild=fake.guild)
        reply = (await third.wait_callback()).json
        assert reply["type"] == 4 and "a little fast" in reply["data"]["content"]
        other = await fake.slash("topics", user=fake.make_user("calm"), guild=fake.guild)
        assert (await other.wait_callback()).json["type"] == 5


async def test_daily_llm_quota_refuses_kindly_and_keeps_nothing(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("eager")
    async with launch(grader="llm", daily_llm_quota=1) as bot:
        await _graded_practice_in_dm(fake, user)
        start = await fake.slash("practice", user=user)
        await start.wait_callback()
        await start.wait_webhook("POST")
        await fake.dm_message(user, "one answer too many")
        dm = fake.dm_channel_for(user)
        refusal = await fake.wait_for_call(
            "POST",
            rf"^/channels/{dm['id']}/messages$",
            10,
            predicate=lambda c: "daily limit" in (c.json.get("content") or ""),
        )
        assert "midnight UTC" in refusal.json["content"]
        assert len(await bot.runtime.attempts.history(int(user["id"]))) == 1


async def test_huge_feedback_is_split_within_discord_limits(fake: FakeDiscord, launch, grader: GatedGrader) -> None:
    grader.extra_items = 60  # ~25,000 characters of strengths and improvements
    user = fake.make_user("verbose")
    async with launch():
        await _graded_practice_in_dm(fake, user)
        dm = fake.dm_channel_for(user)

        def pages() -> list[dict]:
            return [
                m
                for m in bot_messages(fake, dm["id"])
                if m["embeds"] and m["embeds"][0]["title"].startswith("Feedback")
            ]

        await fake.wait_until(lambda: custom_ids(pages()[-1]), 10, "the last page, with the buttons")
        # The fake rejects any message over a limit with 400, so every page that exists was accepted.
        assert len(pages()) >= 5
        assert all(c.status == 200 for c in fake.find_calls("POST", rf"^/channels/{dm['id']}/messages$"))
        assert custom_ids(pages()[-1])[0].startswith("iv:next:")  # buttons ride on the last page
        assert not any(custom_ids(page) for page in pages()[:-1])


def _walk(commands: list) -> list:
    found = []
    for command in commands:
        found.append(command)
        if isinstance(command, app_commands.Group):
            found.extend(_walk(command.commands))
    return found


async def test_command_tree_names_are_unique_and_everything_is_described(fake: FakeDiscord, launch) -> None:
    async with launch() as bot:
        tree = bot.tree
        top = tree.get_commands()
        names = [c.name for c in top]
        assert len(names) == len(set(names))
        assert set(names) >= {"interview", "practice", "review", "history", "progress", "topics", "privacy", "help"}
        for command in _walk(top):
            assert 1 <= len(command.description) <= 100, command.qualified_name
            if isinstance(command, app_commands.Command):
                for parameter in command.parameters:
                    assert 1 <= len(parameter.description) <= 100, f"{command.qualified_name} {parameter.name}"
                    assert parameter.description != "…", f"{command.qualified_name} {parameter.name} undescribed"
        payload = [c.to_dict(tree) for c in top]
        assert all(set(c["integration_types"]) == {0, 1} for c in payload)
        assert all(set(c["contexts"]) == {0, 1, 2} for c in payload)
        assert sorted(c["name"] for c in fake.global_commands) == sorted(names)


def test_invite_url_asks_for_bot_and_commands_scopes() -> None:
    from bot.discord_app.client import invite_url

    url = invite_url(1234)
    assert "client_id=1234" in url
    assert "scope=bot+applications.commands" in url


async def test_dev_guild_sync_at_start(fake: FakeDiscord, launch) -> None:
    async with launch(dev_guild_id=int(fake.guild["id"])):
        guild_commands = fake.guild_commands[int(fake.guild["id"])]
        assert {c["name"] for c in guild_commands} >= {"interview", "practice"}


def test_bot_class_is_a_commands_bot() -> None:
    assert issubclass(InterviewBot, app_commands.CommandTree) is False


async def test_privacy_forget_cancel_deletes_nothing(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("hesitant")
    async with launch() as bot:
        await _graded_practice_in_dm(fake, user)
        forget = await fake.slash("privacy forget", user=user)
        await forget.wait_callback()
        assert forget.original_message is not None
        cancel = await fake.click("privacy:forget:cancel", user=user, message=forget.original_message)
        update = (await cancel.wait_callback()).json
        assert update["type"] == 7 and update["data"]["content"] == "Nothing was deleted."
        assert await bot.runtime.attempts.history(int(user["id"]))
