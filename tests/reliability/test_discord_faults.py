"""Discord fault suite: gateway drops, RECONNECT and INVALID_SESSION in the middle of an interview, REST 429s
(with `Via`, as Discord sends them) and 5xx on the way out. The session goes on and the feedback arrives, once.

Runs a real `InterviewBot` (real discord.py, SQLite, queue) against the loopback Discord, with the Discord
suite's harness. Already covered there and not repeated here: RECONNECT then a button press
(`test_restart.py`), a bare client surviving each gateway fault and replaying buffered events
(`test_fake_discord.py`), one 502 + one 429 on a feedback followup (`test_dm_and_delivery.py`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.tables import attempts
from tests.discord_app import conftest as discord_fixtures
from tests.discord_app.conftest import GatedGrader, ManualClock, bot_messages, button, custom_ids, embed_titles
from tests.fakes.discord_server import FakeDiscord, FakeInteraction

# The Discord suite's fixtures: the loopback Discord, the clock, the gated grader and `launch()`.
fake = discord_fixtures.fake
clock = discord_fixtures.clock
grader = discord_fixtures.grader
bank = discord_fixtures.bank
make_settings = discord_fixtures.make_settings
launch = discord_fixtures.launch

CALLBACK = r"^/interactions/\d+/[^/]+/callback$"


async def _interview(fake: FakeDiscord, user: dict[str, Any], questions: int = 2) -> tuple[dict, dict, str]:
    start = await fake.slash("interview start", {"questions": questions}, user=user, guild=fake.guild)
    await start.wait_callback()
    thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
    question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    return thread, question, custom_ids(question)[0].split(":")[2]


async def _submit(fake: FakeDiscord, user: dict, question: dict, session_id: str, text: str) -> FakeInteraction:
    press = await fake.click(button(question, "answer"), user=user, message=question)
    assert (await press.wait_callback()).json["type"] == 9
    submit = await fake.submit_modal(press, text)
    assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
    return submit


async def _delivery_released(engine: AsyncEngine) -> None:
    """Wait until the notifier has handed the failed delivery back to the outbox (with its backoff)."""
    query = select(attempts.c.delivery_status, attempts.c.delivery_lease_owner, attempts.c.delivery_tries)
    async with asyncio.timeout(10):
        while True:
            async with engine.connect() as connection:
                rows = (await connection.execute(query)).all()
            if [tuple(r) for r in rows] == [("pending", None, 1)]:
                return
            await asyncio.sleep(0.05)


def _feedback(submit: FakeInteraction) -> list[dict[str, Any]]:
    return [m for m in submit.followups() if "Feedback" in embed_titles(m)]


async def _next_question(fake: FakeDiscord, user: dict, feedback: dict, session_id: str, thread: dict) -> dict:
    """Press Next on the feedback; the next question (or a follow-up) appears in the thread."""
    asked = len(bot_messages(fake, thread["id"]))
    nxt = await fake.click(button(feedback, "next"), user=user, message=feedback)
    assert (await nxt.wait_callback(timeout=10)).status == 200
    posted = await fake.wait_until(lambda: bot_messages(fake, thread["id"])[asked:], 10, "the next question")
    assert embed_titles(posted[0])[0].startswith(("Question 1 of 2 · follow-up", "Question 2 of 2"))
    return posted[0]


async def test_gateway_drop_while_grading_resumes_and_the_feedback_and_next_question_arrive(
    fake: FakeDiscord, launch, grader: GatedGrader
) -> None:
    user = fake.make_user("dropped")
    async with launch():
        thread, question, session_id = await _interview(fake, user)
        grader.hold()
        submit = await _submit(fake, user, question, session_id, "Answer graded across a dropped connection.")
        identifies, resumes = fake.identify_count, fake.resume_count

        await fake.gateway_drop(4000)
        # A command sent while the bot is away is buffered and replayed when it resumes.
        history = await fake.slash("history", user=user, guild=fake.guild, wait=False)
        await fake.wait_until(lambda: fake.resume_count > resumes, 15, "RESUME")
        await fake.wait_ready()
        assert fake.identify_count == identifies  # resumed, not a new session
        assert (await history.wait_callback(timeout=10)).status == 200

        grader.release()
        feedback = await fake.wait_until(lambda: _feedback(submit), 15, "feedback after the resume")
        await _next_question(fake, user, feedback[0], session_id, thread)
        assert len(_feedback(submit)) == 1


async def test_reconnect_between_opening_the_modal_and_submitting_it_keeps_the_answer(
    fake: FakeDiscord, launch
) -> None:
    user = fake.make_user("reconnected")
    async with launch():
        thread, question, session_id = await _interview(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        assert (await press.wait_callback()).json["type"] == 9
        resumes = fake.resume_count

        await fake.gateway_reconnect()  # op 7: the client must reconnect and resume
        await fake.wait_until(lambda: fake.resume_count > resumes, 15, "RESUME after RECONNECT")
        await fake.wait_ready()

        submit = await fake.submit_modal(press, "Typed while Discord moved the bot to another gateway.")
        assert (await submit.wait_callback()).json["type"] == 5
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
        feedback = await fake.wait_until(lambda: _feedback(submit), 15, "feedback")
        await _next_question(fake, user, feedback[0], session_id, thread)


async def test_invalid_session_mid_interview_identifies_again_and_the_interview_goes_on(
    fake: FakeDiscord, launch, grader: GatedGrader
) -> None:
    user = fake.make_user("invalidated")
    async with launch():
        thread, question, session_id = await _interview(fake, user)
        grader.hold()
        submit = await _submit(fake, user, question, session_id, "Answer graded across an invalidated session.")
        identifies = fake.identify_count

        await fake.gateway_invalidate(resumable=False)  # op 9, d=false: the old session is gone
        await fake.wait_until(lambda: fake.identify_count > identifies, 20, "a new IDENTIFY")
        await fake.wait_ready(15)

        grader.release()
        feedback = await fake.wait_until(lambda: _feedback(submit), 15, "feedback after re-identifying")
        second = await _next_question(fake, user, feedback[0], session_id, thread)
        # The persistent buttons of the new question work on the new gateway session too.
        hint = await fake.click(button(second, "hint"), user=user, message=second)
        await hint.wait_callback(timeout=10)
        assert (await hint.wait_webhook("POST")).json["content"].startswith("💡")


async def test_429_on_the_modal_acknowledgement_is_retried_inside_the_3_second_window(
    fake: FakeDiscord, launch
) -> None:
    user = fake.make_user("throttled")
    async with launch():
        _, question, _ = await _interview(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        await press.wait_callback()
        fake.fail_next("POST", CALLBACK, status=429, retry_after=0.3)
        submit = await fake.submit_modal(press, "Submitted into a rate limit.")

        # The fake refuses acknowledgements later than 3 s after the interaction, as Discord does.
        calls = await fake.wait_until(
            lambda: [c for c in fake.find_calls("POST", CALLBACK) if submit.path_prefix in c.path and c.status == 200],
            10,
            "the acknowledgement after the 429",
        )
        attempts = [c for c in fake.find_calls("POST", CALLBACK) if c.path.startswith(submit.path_prefix)]
        assert [c.status for c in attempts] == [429, 200]
        assert calls[0].headers.get("Content-Type", "").startswith("application/json")
        feedback = await fake.wait_until(lambda: _feedback(submit), 15, "feedback")
        assert len(feedback) == 1


async def test_429_with_via_on_thread_messages_delays_the_question_but_loses_nothing(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("patient-thread")
    async with launch():
        fake.fail_next("POST", r"^/channels/\d+/messages$", status=429, times=2, retry_after=0.1)
        start = await fake.slash("interview start", {"questions": 2}, user=user, guild=fake.guild)
        await start.wait_callback()
        thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
        questions = await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 15, "the question despite 429s")
        posts = fake.find_calls("POST", rf"^/channels/{thread['id']}/messages$")
        assert [c.status for c in posts] == [429, 429, 200]
        assert len(questions) == 1 and embed_titles(questions[0])[0] == "Question 1 of 2"


async def test_503_on_feedback_sent_to_the_thread_is_redelivered_once_by_the_notifier(
    fake: FakeDiscord, launch, grader: GatedGrader, clock: ManualClock
) -> None:
    user = fake.make_user("unlucky-delivery")
    async with launch() as bot:
        thread, question, session_id = await _interview(fake, user)
        grader.hold()
        submit = await _submit(fake, user, question, session_id, "Answer whose feedback meets a 503.")
        clock.advance(16 * 60)  # past the interaction token: the feedback goes to the thread as a message
        fake.advance(16 * 60)
        # A 503 on a channel message is not retried by discord.py (webhooks and 500/502/504 are): the notifier must.
        messages = rf"^/channels/{thread['id']}/messages$"
        fake.fail_next("POST", messages, status=503)
        grader.release()
        await fake.wait_for_call("POST", messages, 10, predicate=lambda c: c.status == 503)
        await _delivery_released(bot.runtime.queue.engine)
        assert not [m for m in bot_messages(fake, thread["id"]) if "Feedback" in embed_titles(m)]

        clock.advance(bot.runtime.queue.backoff(1).total_seconds() + 1)  # the redelivery's backoff passes
        feedback = await fake.wait_until(
            lambda: [m for m in bot_messages(fake, thread["id"]) if "Feedback" in embed_titles(m)], 15, "redelivery"
        )
        await fake.wait_until(lambda: bot.notifier.delivered, 5, "the delivery to be recorded")
        assert [c.status for c in fake.find_calls("POST", messages)][-2:] == [503, 200]
        assert len(feedback) == 1 and not submit.followups()  # once, and not through the dead token as well
        await _next_question(fake, user, feedback[0], session_id, thread)
