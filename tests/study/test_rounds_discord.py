"""Study rounds end to end through the loopback Discord: many members answering at once, time running out, host
controls and who may use them, private answers, the class results, the final standings and the leaderboard."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

from tests.discord_app.conftest import GatedGrader, ManualClock, bot_messages, custom_ids, embed_titles
from tests.fakes.discord_server import EPHEMERAL
from tests.study.conftest import StudyFakeDiscord


def _titles(fake: StudyFakeDiscord, channel_id: str) -> list[str]:
    return [t for m in bot_messages(fake, channel_id) for t in embed_titles(m)]


def _titled(fake: StudyFakeDiscord, channel_id: str, prefix: str) -> dict[str, Any]:
    """The first bot message in the channel whose first embed's title starts with `prefix`."""
    return next(
        m for m in bot_messages(fake, channel_id) if embed_titles(m)[:1] and embed_titles(m)[0].startswith(prefix)
    )


def _fields(fake: StudyFakeDiscord, channel_id: str, prefix: str) -> dict[str, str]:
    """Every field of the messages titled `prefix` (continuation fields and pages joined back together)."""
    fields: dict[str, str] = {}
    for message in bot_messages(fake, channel_id):
        for embed in message.get("embeds", []):
            if not embed.get("title", "").startswith(prefix):
                continue
            for field in embed.get("fields", []):
                name = field["name"].removesuffix(" (cont.)")
                fields[name] = f"{fields[name]}\n{field['value']}" if name in fields else field["value"]
    return fields


def _question_message(fake: StudyFakeDiscord, channel_id: str, number: int) -> dict[str, Any]:
    for message in bot_messages(fake, channel_id):
        titles = embed_titles(message)
        if titles and titles[0].startswith(f"Study round · question {number} of") and custom_ids(message):
            return message
    raise AssertionError(f"question {number} not posted")


async def _start(fake: StudyFakeDiscord, host: dict[str, Any], **options: Any) -> dict[str, Any]:
    start = await fake.slash("study start", options, user=host, guild=fake.guild)
    assert (await start.wait_callback()).json["type"] == 5
    ack = await start.wait_webhook("POST")
    assert "Study round #" in ack.json["content"] and ack.json["flags"] & EPHEMERAL
    channel = fake.text_channel["id"]
    return await fake.wait_until(lambda: _find(fake, channel, 1), 10, "the first question")


def _find(fake: StudyFakeDiscord, channel: str, number: int) -> dict[str, Any] | None:
    try:
        return _question_message(fake, channel, number)
    except AssertionError:
        return None


async def _answer(fake: StudyFakeDiscord, message: dict[str, Any], member: dict[str, Any], text: str) -> Any:
    answer_id = next(c for c in custom_ids(message) if c.startswith("st:answer:"))
    press = await fake.click(answer_id, user=member, message=message)
    opened = await press.wait_callback()
    assert opened.json["type"] == 9, opened.json
    submit = await fake.submit_modal(press, text)
    assert (await submit.wait_callback()).json == {"type": 5, "data": {"flags": EPHEMERAL}}
    saved = await submit.wait_webhook("POST")
    assert "Answer saved privately" in saved.json["content"] and saved.json["flags"] & EPHEMERAL
    return submit


def _secret(member: int, question: int) -> str:
    return f"my private answer zq{member}x{question} about retrieval and attention"


async def test_a_five_question_round_for_twenty_members_end_to_end(
    fake: StudyFakeDiscord, launch, clock: ManualClock, grader: GatedGrader
) -> None:
    host = fake.make_user("host")
    members = [fake.make_user(f"member-{i}") for i in range(20)]
    channel = fake.text_channel["id"]
    async with launch() as bot:
        message = await _start(fake, host, questions=5, seconds=60)
        for number in range(1, 6):
            message = await fake.wait_until(lambda n=number: _find(fake, channel, n), 10, f"question {number}")
            submits = await asyncio.gather(
                *(_answer(fake, message, m, _secret(i, number)) for i, m in enumerate(members))
            )
            # Each member's feedback arrives privately, on their own interaction.
            feedback = await fake.wait_until(lambda s=submits[0]: s.followups(), 15, "private feedback")
            assert embed_titles(feedback[0])[0] == "Feedback" and feedback[0]["flags"] & EPHEMERAL
            clock.advance(60)  # time is up
            bot.get_cog("Study").engine.wake()
            title = f"Results · question {number} of 5"
            await fake.wait_until(lambda t=title: t in _titles(fake, channel), 20, title)
            if number < 5:
                clock.advance(25)  # the break before the next question
                bot.get_cog("Study").engine.wake()

        await fake.wait_until(lambda: "Study round · final standings" in _titles(fake, channel), 20, "standings")
        public = json.dumps(bot_messages(fake, channel))
        assert "my private answer" not in public  # nobody's answer text is ever posted in the channel
        fields = _fields(fake, channel, "Results · question 5 of 5")
        assert "Answered (20)" in fields
        assert all(f"<@{m['id']}>" in fields["Answered (20)"] for m in members)
        coverage = fields["Class coverage (most missed first)"].splitlines()
        assert coverage[0].startswith("❌") and "missed by 20 of 20" in coverage[0]  # the scripted grader's misses
        assert "Reference answer" in fields
        assert len(fields["Ranking (score, then time)"].splitlines()) == 20
        lines = _fields(fake, channel, "Study round · final standings")["Standings"].splitlines()
        assert len(lines) == 20 and all("**35.0** · 5 answered" in line for line in lines)
        assert not custom_ids(
            _titled(fake, channel, "Study round · question 5 of 5")
        )  # the last question's buttons are gone

        board = await fake.slash("leaderboard", {"period": "all"}, user=host, guild=fake.guild)
        await board.wait_callback()
        posted = await board.wait_webhook("POST")
        assert not posted.json.get("flags", 0) & EPHEMERAL  # the board is public; the streak that follows is not
        lines = posted.json["embeds"][0]["description"].splitlines()
        assert len(lines) == 20
        assert all("**40** pts · 5 question(s)" in line for line in lines)  # 5 x (1 for answering + best 7)
        assert len(grader.calls) == 100


async def test_time_running_out_closes_answers_and_reveals_with_nobody_answering(
    fake: StudyFakeDiscord, launch, clock: ManualClock
) -> None:
    host, late = fake.make_user("host"), fake.make_user("late")
    channel = fake.text_channel["id"]
    async with launch() as bot:
        message = await _start(fake, host, questions=1, seconds=30)
        stale = copy.deepcopy(message)  # what a member's client still shows
        clock.advance(31)
        bot.get_cog("Study").engine.wake()
        await fake.wait_until(lambda: "Results · question 1 of 1" in _titles(fake, channel), 10, "results")
        fields = _fields(fake, channel, "Results · question 1 of 1")
        assert fields["Answered (0)"] == "Nobody answered."
        assert not any("answer" in c for c in custom_ids(message))  # the Answer button is gone
        press = await fake.click(next(c for c in custom_ids(stale) if "answer" in c), user=late, message=stale)
        refused = await press.wait_callback()
        assert refused.json["type"] == 4 and refused.json["data"]["flags"] & EPHEMERAL
        assert "ended" in refused.json["data"]["content"] or "Time is up" in refused.json["data"]["content"]


async def test_host_controls_pause_resume_next_and_end_and_who_may_use_them(
    fake: StudyFakeDiscord, launch, clock: ManualClock
) -> None:
    host, member, moderator = fake.make_user("host"), fake.make_user("member"), fake.make_user("moderator")
    fake.grant(moderator)
    channel = fake.text_channel["id"]
    async with launch() as bot:
        engine = bot.get_cog("Study").engine
        message = await _start(fake, host, questions=2, seconds=60)
        round_id = custom_ids(message)[0].split(":")[2]

        refused = await fake.click(f"st:next:{round_id}:0", user=member, message=message)
        await refused.wait_callback()
        text = (await refused.wait_webhook("POST")).json
        assert "Only the round's host or a member with Manage Server" in text["content"] and text["flags"] & EPHEMERAL

        stale = copy.deepcopy(message)
        pause = await fake.click(f"st:pause:{round_id}:0", user=host, message=message)
        await pause.wait_callback()
        assert "Paused" in (await pause.wait_webhook("POST")).json["content"]
        paused = fake.messages[int(message["id"])]
        assert embed_titles(paused)[0].endswith("paused") and any("st:resume" in c for c in custom_ids(paused))
        clock.advance(600)  # the timer is frozen: nothing closes while paused
        engine.wake()
        await asyncio.sleep(0.3)
        assert "Results · question 1 of 2" not in _titles(fake, channel)
        answer = await fake.click(f"st:answer:{round_id}:0", user=member, message=stale)
        assert "paused" in (await answer.wait_callback()).json["data"]["content"]

        resume = await fake.click(f"st:resume:{round_id}:0", user=moderator, message=paused)  # Manage Server may
        await resume.wait_callback()
        assert "Resumed" in (await resume.wait_webhook("POST")).json["content"]
        await _answer(fake, fake.messages[int(message["id"])], member, "an answer after the pause")

        nxt = await fake.click(f"st:next:{round_id}:0", user=host, message=fake.messages[int(message["id"])])
        await nxt.wait_callback()  # Next closes answers now; the results follow once graded
        await fake.wait_until(lambda: "Results · question 1 of 2" in _titles(fake, channel), 10, "results")
        nxt = await fake.click(f"st:next:{round_id}:0", user=host, message=fake.messages[int(message["id"])])
        await nxt.wait_callback()  # Next again skips the break
        second = await fake.wait_until(lambda: _find(fake, channel, 2), 10, "question 2")

        end = await fake.slash("study end", user=member, guild=fake.guild)
        await end.wait_callback()
        assert "Only the round's host" in (await end.wait_webhook("POST")).json["content"]
        end = await fake.click(f"st:end:{round_id}:1", user=host, message=second)
        await end.wait_callback()
        await fake.wait_until(lambda: "Study round · final standings" in _titles(fake, channel), 10, "standings")
        assert f"<@{member['id']}>" in _fields(fake, channel, "Study round · final standings")["Standings"]

        again = await fake.slash("study start", {"questions": 1}, user=member, guild=fake.guild)
        await again.wait_callback()
        assert "started" in (await again.wait_webhook("POST")).json["content"]  # the channel is free again


async def test_one_live_round_per_channel(fake: StudyFakeDiscord, launch) -> None:
    host = fake.make_user("host")
    async with launch():
        await _start(fake, host, questions=1)
        second = await fake.slash("study start", {}, user=host, guild=fake.guild)
        await second.wait_callback()
        assert "already running" in (await second.wait_webhook("POST")).json["content"]


async def test_buttons_keep_working_after_a_restart(fake: StudyFakeDiscord, launch, clock: ManualClock) -> None:
    host, member = fake.make_user("host"), fake.make_user("member")
    channel = fake.text_channel["id"]
    async with launch():
        message = await _start(fake, host, questions=1, seconds=120)
    async with launch() as bot:
        await _answer(fake, message, member, "answered after the bot restarted")
        clock.advance(121)
        bot.get_cog("Study").engine.wake()
        await fake.wait_until(lambda: "Study round · final standings" in _titles(fake, channel), 10, "standings")
        assert re.search(r"Answered \(1\)", json.dumps(bot_messages(fake, channel)))
