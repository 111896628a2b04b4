"""The daily question, /settings, /bank and guild isolation end to end through the loopback Discord."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

import yaml

from bot.core.daily import next_post_at, post_day
from tests.discord_app.conftest import ManualClock, bot_messages, custom_ids, embed_titles
from tests.fakes.discord_server import EPHEMERAL
from tests.study._bank_files import BILLION_LAUGHS, PYTHON_TAG, WRONG_TYPES, bank_yaml
from tests.study.conftest import StudyFakeDiscord

ZONE = "America/New_York"


async def _reply(interaction) -> dict:
    """The first thing the bot said on an interaction: its message response, else its first followup."""
    callback = await interaction.wait_callback()
    if callback.json["type"] == 4:
        return callback.json["data"]
    return (await interaction.wait_webhook("POST")).json


def _daily_threads(fake: StudyFakeDiscord) -> list[dict]:
    return [c for c in fake.channels.values() if c["type"] == 11 and c["name"].startswith("Daily question")]


def _jump(fake: StudyFakeDiscord, clock: ManualClock, to) -> None:
    """Move the bot's clock and the fake's together (interaction times come from the fake's snowflakes)."""
    fake.advance((to - clock.now()).total_seconds())
    clock.current = to


async def _settle(bot) -> None:
    """Let the scheduler run a few passes (it polls every 50 ms in tests)."""
    bot.get_cog("Study").engine.wake()
    await asyncio.sleep(0.4)


async def test_members_without_manage_server_are_refused_settings_and_bank(fake: StudyFakeDiscord, launch) -> None:
    member, moderator = fake.make_user("member"), fake.make_user("moderator")
    fake.grant(moderator)
    async with launch():
        for name in ("settings", "bank"):
            registered = next(c for c in fake.global_commands if c["name"] == name)
            assert int(registered["default_member_permissions"]) == 1 << 5  # hidden from members by default
        refused = await _reply(await fake.slash("settings show", user=member, guild=fake.guild))
        assert "Manage Server" in refused["content"] and refused["flags"] & EPHEMERAL
        refused = await _reply(await fake.slash("settings feedback", {"public": True}, user=member, guild=fake.guild))
        assert "Manage Server" in refused["content"]
        upload = await fake.slash_with_file("bank import", "file", "t.yaml", bank_yaml(), user=member, guild=fake.guild)
        assert "Manage Server" in (await _reply(upload))["content"]

        shown = await _reply(await fake.slash("settings feedback", {"public": True}, user=moderator, guild=fake.guild))
        fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
        assert fields["Members may share feedback publicly"] == "yes"
        bad = await _reply(
            await fake.slash("settings daily", {"time": "25:00", "timezone": ZONE}, user=moderator, guild=fake.guild)
        )
        assert "HH:MM" in bad["content"]
        bad = await _reply(
            await fake.slash(
                "settings daily", {"time": "09:00", "timezone": "Mars/Base"}, user=moderator, guild=fake.guild
            )
        )
        assert "not a timezone" in bad["content"]


async def test_the_daily_question_posts_at_local_time_once_across_restarts_and_is_summarised_next_day(
    fake: StudyFakeDiscord, launch, clock: ManualClock
) -> None:
    moderator, member = fake.make_user("moderator"), fake.make_user("member")
    fake.grant(moderator)
    due = next_post_at(time(9, 0), ZONE, clock.now())
    async with launch() as bot:
        saved = await _reply(
            await fake.slash("settings daily", {"time": "9:00", "timezone": ZONE}, user=moderator, guild=fake.guild)
        )
        fields = {f["name"]: f["value"] for f in saved["embeds"][0]["fields"]}
        assert fields["Daily question"].endswith(f"at 09:00 ({ZONE})") and fields["Timezone"] == ZONE
        assert f"<t:{int(due.timestamp())}:F>" in saved["content"]

        _jump(fake, clock, due - timedelta(seconds=5))
        await _settle(bot)
        assert _daily_threads(fake) == []  # not yet
        _jump(fake, clock, due)
        threads = await fake.wait_until(lambda: _daily_threads(fake), 10, "the daily thread")
        question = await fake.wait_until(lambda: bot_messages(fake, threads[0]["id"]), 10, "the daily question")
        assert embed_titles(question[0])[0].startswith("Daily question · ")
        daily_id = custom_ids(question[0])[0]

        press = await fake.click(daily_id, user=member, message=question[0])
        assert (await press.wait_callback()).json["type"] == 9
        submit = await fake.submit_modal(press, "a private daily answer about embeddings")
        await submit.wait_callback()
        assert "Answer saved privately" in (await submit.wait_webhook("POST")).json["content"]
        await fake.wait_until(lambda: submit.followups(), 10, "the private feedback")
        schedule = await bot.get_cog("Study").stores.daily.schedule(int(fake.guild["id"]))
        assert schedule is not None and schedule.next_post_at == next_post_at(time(9, 0), ZONE, due)

    async with launch() as bot:  # a restart the same day: nothing is posted again
        await _settle(bot)
        assert len(_daily_threads(fake)) == 1
        # Even a schedule that didn't move on (a crash between posting and rescheduling) can't post the day twice.
        daily = bot.get_cog("Study").stores.daily
        await daily.set_schedule(
            int(fake.guild["id"]),
            channel_id=int(fake.text_channel["id"]),
            local_time="09:00",
            timezone=ZONE,
            topic=None,
            next_post_at=due,
        )
        await _settle(bot)
        assert len(_daily_threads(fake)) == 1

        _jump(fake, clock, next_post_at(time(9, 0), ZONE, due))  # the next day at 09:00 local
        threads = await fake.wait_until(lambda: d if len(d := _daily_threads(fake)) == 2 else None, 10, "day two")
        summary = await fake.wait_until(
            lambda: [m for m in bot_messages(fake, threads[0]["id"]) if "summary" in (embed_titles(m) or [""])[0]],
            10,
            "yesterday's summary",
        )
        fields = {f["name"]: f["value"] for f in summary[0]["embeds"][0]["fields"]}
        assert f"<@{member['id']}>" in fields["Answered (1)"]
        assert "a private daily answer" not in str(summary[0])
        stale = await fake.click(daily_id, user=member, message=question[0])
        assert "closed" in (await stale.wait_callback()).json["data"]["content"]


async def test_bank_import_is_all_or_nothing_and_a_guilds_questions_stay_in_that_guild(
    fake: StudyFakeDiscord, launch
) -> None:
    moderator, member = fake.make_user("moderator"), fake.make_user("member")
    fake.grant(moderator)
    other_guild = fake.add_guild("Other Server")
    guild = fake.guild
    async with launch():
        for name, data, expected in [
            ("bad.yaml", WRONG_TYPES, "difficulty"),
            ("lol.yaml", BILLION_LAUGHS, "aliases"),
            ("evil.yaml", PYTHON_TAG, "not valid YAML"),
        ]:
            upload = await fake.slash_with_file("bank import", "file", name, data, user=moderator, guild=guild)
            refused = await _reply(upload)
            assert refused["embeds"][0]["title"] == "Import refused", name
            assert (
                expected in refused["embeds"][0]["description"]
                and "Nothing was imported" in refused["embeds"][0]["description"]
            )
        big = await fake.slash_with_file(
            "bank import", "file", "big.yaml", b"topic: x\n", user=moderator, guild=guild, size=300 * 1024
        )
        assert "256 KB" in (await _reply(big))["embeds"][0]["description"]
        empty = await _reply(await fake.slash("bank export", user=moderator, guild=guild))
        assert "no questions of its own" in empty["content"]  # nothing of the refused files was stored

        upload = await fake.slash_with_file(
            "bank import", "file", "team.yaml", bank_yaml(), user=moderator, guild=guild
        )
        assert "Imported 3 question(s) into topic `team-onboarding`" in (await _reply(upload))["content"]

        practice = await fake.slash("practice", {"topic": "team-onboarding"}, user=member, guild=guild)
        question = await _reply(practice)
        assert question["embeds"][0]["footer"]["text"].startswith(f"g{guild['id']}-team-onboarding.step-")
        elsewhere = await _reply(
            await fake.slash("practice", {"topic": "team-onboarding"}, user=member, guild=other_guild)
        )
        assert "Unknown topic 'team-onboarding'" in elsewhere["content"]
        round_elsewhere = await _reply(
            await fake.slash("study start", {"topic": "team-onboarding"}, user=member, guild=other_guild)
        )
        assert "Unknown topic" in round_elsewhere["content"]

        exported = await fake.slash("bank export", user=moderator, guild=guild)
        await exported.wait_callback()
        posted = await exported.wait_webhook("POST")
        assert posted.status == 200, posted.response
        message = exported.original_message  # the first followup after a deferral replaces "thinking"
        document = yaml.safe_load(fake.attachment_data(message))
        assert document["topic"] == "team-onboarding"
        assert [q["id"] for q in document["questions"]] == [f"team-onboarding.step-{i}" for i in range(3)]
        again = await fake.slash_with_file(
            "bank import", "file", "again.yaml", fake.attachment_data(message), user=moderator, guild=guild
        )
        assert "(replacing 3)" in (await _reply(again))["content"]

        removed = await _reply(
            await fake.slash("bank remove", {"target": "team-onboarding"}, user=moderator, guild=guild)
        )
        assert "Removed 3 question(s)" in removed["content"]
        newcomer = fake.make_user("newcomer")
        gone = await _reply(await fake.slash("practice", {"topic": "team-onboarding"}, user=newcomer, guild=guild))
        assert "Unknown topic" in gone["content"]


async def test_custom_questions_survive_a_restart_and_are_graded(fake: StudyFakeDiscord, launch, grader) -> None:
    moderator = fake.make_user("moderator")
    fake.grant(moderator)
    async with launch():
        upload = await fake.slash_with_file(
            "bank import", "file", "t.yaml", bank_yaml(count=1), user=moderator, guild=fake.guild
        )
        assert "Imported 1" in (await _reply(upload))["content"]
    async with launch():
        practice = await fake.slash("practice", {"topic": "team-onboarding"}, user=moderator, guild=fake.guild)
        question = await _reply(practice)
        answer_id = next(c for c in custom_ids(question) if c.startswith("iv:answer:"))
        press = await fake.click(answer_id, user=moderator)
        await press.wait_callback()
        submit = await fake.submit_modal(press, "shared notebooks, a mentor, and an evaluation task")
        await submit.wait_callback()
        feedback = await fake.wait_until(lambda: submit.followups(), 10, "feedback on a custom question")
        assert embed_titles(feedback[0])[0] == "Feedback"
        assert grader.calls[-1][0].key_points[0] == "access to shared notebooks"  # graded on the guild's rubric


async def test_settings_shape_rounds_sharing_and_the_per_member_quota(fake: StudyFakeDiscord, launch) -> None:
    moderator, member = fake.make_user("moderator"), fake.make_user("member")
    fake.grant(moderator)
    async with launch(grader="llm", daily_llm_quota=100):
        await _reply(await fake.slash("settings topics", {"topics": "rag"}, user=moderator, guild=fake.guild))
        await _reply(await fake.slash("settings quota", {"per_member": 1}, user=moderator, guild=fake.guild))
        refused = await _reply(await fake.slash("study start", {"topic": "gans"}, user=member, guild=fake.guild))
        assert "only studies these topics: rag" in refused["content"]
        denied = await _reply(await fake.slash("study share", user=member, guild=fake.guild))
        assert "keeps feedback private" in denied["content"]

        start = await fake.slash("study start", {"questions": 2, "seconds": 60}, user=member, guild=fake.guild)
        await _reply(start)
        channel = fake.text_channel["id"]
        question = await fake.wait_until(
            lambda: [m for m in bot_messages(fake, channel) if custom_ids(m) and embed_titles(m)], 10, "question"
        )
        assert question[0]["embeds"][0]["fields"][0]["value"] == "rag"  # only the allowed topic
        answer_id = next(c for c in custom_ids(question[0]) if c.startswith("st:answer:"))
        press = await fake.click(answer_id, user=member, message=question[0])
        await press.wait_callback()
        submit = await fake.submit_modal(press, "retrieval augments the prompt with fetched passages")
        await submit.wait_callback()
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
        await fake.wait_until(lambda: submit.followups(), 10, "feedback")

        # The member has used this server's quota of one AI-graded answer a day.
        press = await fake.click(answer_id, user=member, message=question[0])
        await press.wait_callback()
        again = await fake.submit_modal(press, "a second answer")
        await again.wait_callback()
        assert "daily limit" in (await again.wait_webhook("POST")).json["content"]

        await _reply(await fake.slash("settings feedback", {"public": True}, user=moderator, guild=fake.guild))
        shared = await fake.slash("study share", user=member, guild=fake.guild)
        await shared.wait_callback()
        posted = (await shared.wait_webhook("POST")).json
        assert not posted.get("flags", 0) & EPHEMERAL and "scored **7.0 / 10**" in posted["embeds"][0]["description"]
        assert "retrieval augments" not in str(posted)  # the answer is shown only when the member asks


async def test_moving_the_daily_question_after_todays_post_names_the_day_it_really_posts_next(
    fake: StudyFakeDiscord, launch, clock: ManualClock
) -> None:
    """Today's question is out (Tokyo, 09:00); moving the schedule west (Los Angeles is still on the day before, and
    reaches 09:00 of Tokyo's date later) can't post that date again, so the reply and the schedule say tomorrow."""
    moderator = fake.make_user("moderator")
    fake.grant(moderator)
    tokyo, los_angeles = "Asia/Tokyo", "America/Los_Angeles"
    due = next_post_at(time(9, 0), tokyo, clock.now())
    async with launch() as bot:
        await _reply(
            await fake.slash("settings daily", {"time": "09:00", "timezone": tokyo}, user=moderator, guild=fake.guild)
        )
        _jump(fake, clock, due + timedelta(hours=1))
        await fake.wait_until(lambda: _daily_threads(fake), 10, "the daily thread")
        posted_day = post_day(due, tokyo)

        moved = await _reply(
            await fake.slash(
                "settings daily", {"time": "09:00", "timezone": los_angeles}, user=moderator, guild=fake.guild
            )
        )
        same_date = next_post_at(time(9, 0), los_angeles, clock.now())
        assert post_day(same_date, los_angeles) == posted_day  # the naive next 09:00 is the date already posted
        real_next = next_post_at(time(9, 0), los_angeles, same_date)
        assert f"<t:{int(real_next.timestamp())}:F>" in moved["content"]
        assert f"The question for {posted_day.isoformat()} was already posted." in moved["content"]
        schedule = await bot.get_cog("Study").stores.daily.schedule(int(fake.guild["id"]))
        assert schedule is not None and schedule.next_post_at == real_next

        _jump(fake, clock, real_next)
        await fake.wait_until(lambda: d if len(d := _daily_threads(fake)) == 2 else None, 10, "the next day's thread")
