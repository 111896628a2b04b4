"""Feedback of several messages: a failure after the first pages sends only the rest, never a page twice."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.discord_app.conftest import GatedGrader, ManualClock, bot_messages, button, embed_titles, webhook_posts
from tests.fakes.discord_server import Call, DiscordError, FakeDiscord, FakeInteraction


async def _answer_in_a_thread(
    fake: FakeDiscord, user: dict[str, Any], grader: GatedGrader
) -> tuple[dict[str, Any], FakeInteraction]:
    start = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
    await start.wait_callback()
    thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
    question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    grader.hold()
    grader.extra_items = 20  # feedback long enough for several messages
    press = await fake.click(button(question, "answer"), user=user, message=question)
    await press.wait_callback()
    submit = await fake.submit_modal(press, "An answer with long feedback.")
    await submit.wait_webhook("POST")  # "Answer saved"
    await fake.wait_until(lambda: grader.calls, 10, "grading to start")
    return thread, submit


def _refuse_the_second_feedback_page(fake: FakeDiscord, submit_token: str, error: DiscordError) -> None:
    followup, pages = fake._followup, {"seen": 0}

    async def failing_once(call: Call, app_id: str, token: str) -> dict[str, Any] | None:  # the route's names
        if token == submit_token and call.json.get("embeds"):
            pages["seen"] += 1
            if pages["seen"] == 2:
                raise error
        return await followup(call, app_id, token)

    fake._followup = failing_once  # type: ignore[method-assign]


def _feedback_in(fake: FakeDiscord, thread: dict[str, Any]) -> list[list[str]]:
    return [embed_titles(m) for m in bot_messages(fake, thread["id"]) if any("Feedback" in t for t in embed_titles(m))]


def _last_page_in(fake: FakeDiscord, thread: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in bot_messages(fake, thread["id"]) if "iv:next" in str(m.get("components"))]


async def test_a_token_refused_after_the_first_page_sends_the_rest_to_the_thread(
    fake: FakeDiscord, launch, grader: GatedGrader
) -> None:
    user = fake.make_user("long-feedback")
    async with launch():
        thread, submit = await _answer_in_a_thread(fake, user, grader)
        _refuse_the_second_feedback_page(fake, submit.token, DiscordError(401, 50027, "Invalid Webhook Token"))
        grader.release()
        await fake.wait_until(lambda: _last_page_in(fake, thread), 15, "the last page (with Next) in the thread")
        feedback = _feedback_in(fake, thread)
        assert len(feedback) > 2 and sum("Feedback" in titles for titles in feedback) == 1, feedback


async def test_a_retried_delivery_sends_only_the_pages_that_did_not_go_out(
    fake: FakeDiscord, launch, grader: GatedGrader, clock: ManualClock
) -> None:
    user = fake.make_user("retried-feedback")
    async with launch():
        thread, submit = await _answer_in_a_thread(fake, user, grader)
        # A 429 without Discord's Via header (Cloudflare's): discord.py raises at once, the notifier retries later.
        _refuse_the_second_feedback_page(fake, submit.token, DiscordError(429, 0, "You are being rate limited."))
        grader.release()
        await fake.wait_until(lambda: [c for c in webhook_posts(fake, submit.token) if c.status == 429], 10, "a 429")
        for _ in range(100):  # the bot's clock past the delivery's retry backoff, well within the token's life
            if _last_page_in(fake, thread):
                break
            clock.advance(1)
            await asyncio.sleep(0.1)
        assert _last_page_in(fake, thread)
        feedback = _feedback_in(fake, thread)
        assert len(feedback) > 2 and sum("Feedback" in titles for titles in feedback) == 1, feedback
