"""Answers typed in DMs and threads, user-installed contexts, and feedback after the 15-minute token window."""

from __future__ import annotations

from tests.discord_app.conftest import (
    GatedGrader,
    ManualClock,
    bot_messages,
    button,
    custom_ids,
    embed_titles,
    webhook_posts,
)
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord


async def test_practice_in_dm_with_a_typed_answer_is_graded_by_the_offline_grader(
    fake: FakeDiscord, launch, offline_grader
) -> None:
    user = fake.make_user("dm-user")
    async with launch(grader_override=offline_grader):
        interaction = await fake.slash("practice", {"topic": "gans"}, user=user)
        callback = await interaction.wait_callback()
        assert callback.json == {"type": 5}  # not ephemeral in the user's own DM
        question = (await interaction.wait_webhook("POST")).json
        assert question["embeds"][0]["title"] == "Question 1 of 1"
        assert "just type it here" in question["embeds"][0]["description"]

        dm = fake.dm_channel_for(user)
        await fake.dm_message(user, "The generator and discriminator play a minimax game; @everyone look!")
        ack = await fake.wait_for_call("POST", rf"^/channels/{dm['id']}/messages$", 10)
        assert "Answer saved" in ack.json["content"]
        assert ack.json["message_reference"]["message_id"]
        feedback = await fake.wait_until(
            lambda: [m for m in bot_messages(fake, dm["id"]) if "Feedback" in embed_titles(m)], 30, "DM feedback"
        )
        assert "graded by offline" in feedback[0]["embeds"][0]["footer"]["text"]
        assert custom_ids(feedback[0])[0].startswith("iv:next:")


async def test_typed_answers_in_a_thread_need_the_message_content_setting(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("typist")
    async with launch(discord_message_content=True):
        assert fake.gateway_log[-1][0] != "close"
        start = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
        await start.wait_callback()
        thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
        await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question")
        await fake.channel_message(thread["id"], user, "Attention lets each token weigh every other token.")
        ack = await fake.wait_for_call(
            "POST",
            rf"^/channels/{thread['id']}/messages$",
            10,
            since=0,
            predicate=lambda c: "Answer saved" in (c.json.get("content") or ""),
        )
        assert ack.status == 200
        await fake.wait_until(
            lambda: [m for m in bot_messages(fake, thread["id"]) if "Feedback" in embed_titles(m)], 10, "feedback"
        )


async def test_without_message_content_a_thread_message_is_not_taken_as_an_answer(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("quiet")
    async with launch():
        start = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
        await start.wait_callback()
        thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
        await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question")
        mark = fake.mark()
        await fake.channel_message(thread["id"], user, "an answer the bot cannot read")
        await start.fake.wait_until(lambda: fake.mark() >= mark, 1)
        assert not fake.find_calls("POST", rf"^/channels/{thread['id']}/messages$", since=mark)


async def test_user_installed_app_in_a_foreign_dm_answers_ephemerally(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("traveller")
    async with launch():
        interaction = await fake.slash("practice", user=user, private=True)
        callback = await interaction.wait_callback()
        assert callback.json["data"]["flags"] & EPHEMERAL
        question = await interaction.wait_webhook("POST")
        assert question.json["flags"] & EPHEMERAL
        assert question.json["embeds"][0]["title"] == "Question 1 of 1"


async def _answer_in_thread(fake: FakeDiscord, user: dict, grader: GatedGrader):
    start = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
    await start.wait_callback()
    thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
    question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    grader.hold()
    press = await fake.click(button(question, "answer"), user=user, message=question)
    await press.wait_callback()
    submit = await fake.submit_modal(press, "An answer that takes a long time to grade.")
    await submit.wait_webhook("POST")  # "Answer saved"
    await fake.wait_until(lambda: grader.calls, 10, "grading to start")
    return thread, submit


async def test_feedback_after_the_token_window_goes_to_the_thread(
    fake: FakeDiscord, launch, grader: GatedGrader, clock: ManualClock
) -> None:
    user = fake.make_user("patient")
    async with launch():
        thread, submit = await _answer_in_thread(fake, user, grader)
        posts_before = len(webhook_posts(fake, submit.token))
        clock.advance(16 * 60)
        fake.advance(16 * 60)
        grader.release()

        feedback = await fake.wait_until(
            lambda: [m for m in bot_messages(fake, thread["id"]) if "Feedback" in embed_titles(m)], 10, "feedback"
        )
        assert custom_ids(feedback[0])[0].startswith("iv:next:")
        assert len(webhook_posts(fake, submit.token)) == posts_before  # the dead token was not even tried


async def test_a_token_discord_rejects_early_falls_back_too(
    fake: FakeDiscord, launch, grader: GatedGrader, clock: ManualClock
) -> None:
    user = fake.make_user("unlucky")
    async with launch():
        thread, submit = await _answer_in_thread(fake, user, grader)
        fake.advance(16 * 60)  # Discord's clock moved on; the bot still believes the token is fresh
        grader.release()

        rejected = await fake.wait_for_call(
            "POST", rf"/webhooks/\d+/{submit.token}$", 10, predicate=lambda c: c.status == 401
        )
        assert rejected.response["code"] == 50027
        await fake.wait_until(
            lambda: [m for m in bot_messages(fake, thread["id"]) if "Feedback" in embed_titles(m)], 10, "feedback"
        )


async def test_ephemeral_feedback_after_the_window_goes_to_a_dm_not_the_channel(
    fake: FakeDiscord, launch, grader: GatedGrader, clock: ManualClock
) -> None:
    guild = fake.add_guild("Threadless", allow_private_threads=False)
    channel = guild["channels"][0]
    user = fake.make_user("private-person")
    async with launch():
        start = await fake.slash("interview start", {"questions": 1}, user=user, guild=guild)
        question = (await start.wait_webhook("POST")).json
        session_id = custom_ids(question)[0].split(":")[2]
        message = fake.find_component(f"^iv:answer:{session_id}:")[0]
        grader.hold()
        press = await fake.click(button(message, "answer"), user=user, message=message)
        await press.wait_callback()
        submit = await fake.submit_modal(press, "Some answer")
        await submit.wait_webhook("POST")
        clock.advance(20 * 60)
        fake.advance(20 * 60)
        grader.release()

        await fake.wait_for_call("POST", r"^/users/@me/channels$", 10)
        feedback = await fake.wait_until(
            lambda: [m for m in fake.dms_to(user) if "Feedback" in embed_titles(m)], 10, "DM feedback"
        )
        assert feedback
        public = [m for m in bot_messages(fake, channel["id"]) if not m["flags"] & EPHEMERAL]
        assert not public  # nothing personal was posted in the channel


async def _answer_ephemerally(fake: FakeDiscord, user: dict, guild: dict):
    start = await fake.slash("practice", user=user, guild=guild)
    question = (await start.wait_webhook("POST")).json
    session_id = custom_ids(question)[0].split(":")[2]
    message, answer_id = fake.find_component(f"^iv:answer:{session_id}:")
    press = await fake.click(answer_id, user=user, message=message)
    await press.wait_callback()
    return await fake.submit_modal(press, "A private answer with a secret detail.")


async def test_private_feedback_can_be_shared_as_a_score_without_the_answer(fake: FakeDiscord, launch) -> None:
    user, other = fake.make_user("proud"), fake.make_user("bystander")
    async with launch():
        submit = await _answer_ephemerally(fake, user, fake.guild)
        feedback = await fake.wait_until(submit.followups, 10, "feedback")
        assert feedback[0]["flags"] & EPHEMERAL
        share_id = next(c for c in custom_ids(feedback[0]) if c.startswith("iv:share:"))

        refused = (await (await fake.click(share_id, user=other, message=feedback[0])).wait_callback()).json
        assert refused["data"]["flags"] & EPHEMERAL
        assert "Only the person who answered" in refused["data"]["content"]

        shared = await fake.click(share_id, user=user, message=feedback[0])
        public = (await shared.wait_callback()).json
        assert public["type"] == 4
        assert not (public["data"].get("flags") or 0) & EPHEMERAL
        assert "7.0 / 10" in public["data"]["embeds"][0]["title"]
        assert "secret detail" not in str(public)


async def test_feedback_survives_a_5xx_and_a_429_on_its_followup(
    fake: FakeDiscord, launch, grader: GatedGrader
) -> None:
    user = fake.make_user("stormy")
    async with launch():
        grader.hold()
        submit = await _answer_ephemerally(fake, user, fake.guild)
        await submit.wait_webhook("POST")  # "Answer saved"
        fake.fail_next("POST", rf"^/webhooks/\d+/{submit.token}$", status=502)
        fake.fail_next("POST", rf"^/webhooks/\d+/{submit.token}$", status=429, retry_after=0.05)
        grader.release()
        feedback = await fake.wait_until(submit.followups, 20, "feedback despite the faults")
        assert embed_titles(feedback[0])[0] == "Feedback"
        statuses = [c.status for c in webhook_posts(fake, submit.token)]
        assert statuses[-3:] == [502, 429, 200] or statuses[-3:] == [429, 502, 200]
