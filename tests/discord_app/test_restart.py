"""A restart in the middle of an interview: a new bot process on the same database keeps every promise."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.discord_app.conftest import bot_messages, button, custom_ids, embed_titles
from tests.fakes.discord_server import FakeDiscord


async def _question_in_thread(fake: FakeDiscord, user: dict) -> tuple[dict, dict, str]:
    start = await fake.slash("interview start", {"questions": 2}, user=user, guild=fake.guild)
    await start.wait_callback()
    thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
    question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    return thread, question, custom_ids(question)[0].split(":")[2]


async def test_answer_saved_before_a_crash_is_graded_and_delivered_after_restart(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("resilient")
    async with launch(background=False):  # this process dies before grading anything
        _thread, question, session_id = await _question_in_thread(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        await press.wait_callback()
        submit = await fake.submit_modal(press, "Saved before the crash.")
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
    assert not submit.followups()

    async with launch():  # a new process on the same database
        feedback = await fake.wait_until(submit.followups, 15, "feedback after the restart")
        assert embed_titles(feedback[0])[0] == "Feedback"

        # The buttons sent by the first process still work in the second.
        assert f"iv:next:{session_id}:0" in custom_ids(feedback[0])
        old_hint = await fake.click(button(question, "hint"), user=user, message=question)
        await old_hint.wait_callback()
        stale = await old_hint.wait_webhook("POST")
        assert "only available while a question is waiting" in stale.json["content"]
        nxt = await fake.click(button(feedback[0], "next"), user=user, message=feedback[0])
        await nxt.wait_callback()
        follow = await fake.wait_until(lambda: [c for c in nxt.webhook_calls() if c.method == "POST"], 10, "next")
        assert follow[0].json["embeds"][0]["title"].startswith("Question ")


async def test_a_modal_opened_before_a_restart_is_accepted_after_it(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("typing-during-deploy")
    async with launch():
        _, question, _ = await _question_in_thread(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        assert (await press.wait_callback()).json["type"] == 9

    async with launch():
        submit = await fake.submit_modal(press, "Written while the bot was redeployed.")
        assert (await submit.wait_callback()).json["type"] == 5
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
        feedback = await fake.wait_until(submit.followups, 15, "feedback")
        assert embed_titles(feedback[0])[0] == "Feedback"


async def test_gateway_resume_mid_interview_keeps_the_session_going(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("steady")
    async with launch():
        _, question, _ = await _question_in_thread(fake, user)
        await fake.gateway_reconnect()
        await fake.wait_ready()
        hint = await fake.click(button(question, "hint"), user=user, message=question)
        assert (await hint.wait_callback(timeout=10)).status == 200
        assert fake.resume_count == 1


async def test_a_submit_racing_the_bots_own_modal_registration_is_still_taken(fake: FakeDiscord, launch) -> None:
    """discord.py stores a modal only once Discord has answered `send_modal`. A submit parsed before that is
    discarded by discord.py; if the modal is stored before the bot's listener runs, the listener must still
    know that nobody took the answer. The interleaving is forced by storing the modal right after discord.py's
    own dispatch and before the listeners run, which is what happens when both arrive in one event-loop turn."""
    user = fake.make_user("quick-fingers")
    async with launch() as bot:
        _, question, _ = await _question_in_thread(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        assert (await press.wait_callback()).json["type"] == 9
        store = bot._connection._view_store
        custom_id = press.callback.json["data"]["custom_id"]
        await fake.wait_until(lambda: custom_id in store._modals, 5, "the modal stored")
        modal = store._modals.pop(custom_id)  # as if `send_modal` were still waiting for Discord's answer
        discord_dispatch = store.dispatch_modal

        def dispatch_then_store(custom_id: str, *args: Any) -> None:
            discord_dispatch(custom_id, *args)  # no modal stored: discord.py discards the submit
            # `send_modal` finishes in the same loop turn: after this event is parsed, before its listeners run.
            asyncio.get_running_loop().call_soon(store._modals.__setitem__, custom_id, modal)

        store.dispatch_modal = dispatch_then_store
        submit = await fake.submit_modal(press, "Submitted the instant the form appeared.")
        assert (await submit.wait_callback()).json["type"] == 5
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
