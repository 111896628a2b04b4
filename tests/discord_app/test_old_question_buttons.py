"""Buttons and answer forms name the question they were shown for: a press on an old question's button (a double
click whose second click lands after the first moved the interview on) is refused and changes nothing, while
buttons posted before items were named (`iv:<action>:<session_id>`) keep working."""

from __future__ import annotations

import copy
import re
from typing import Any

from bot.discord_app.exts.interview._modals import MODAL_ID
from bot.discord_app.exts.interview._views import ACTIONS, CUSTOM_ID, custom_id
from tests.discord_app.conftest import bot_messages, button, custom_ids, embed_titles
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord, FakeInteraction

MOVED_ON = "That question has already moved on"


async def _interview(fake: FakeDiscord, user: dict[str, Any], questions: int = 3) -> tuple[dict[str, Any], int]:
    """A guild interview in its private thread: the first question's message (as the user's client shows it,
    frozen: later edits by the bot don't reach it) and the session id."""
    start = await fake.slash("interview start", {"questions": questions}, user=user, guild=fake.guild)
    await start.wait_callback()
    thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
    question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    return copy.deepcopy(question), int(custom_ids(question)[0].split(":")[2])


async def _skip(fake: FakeDiscord, user: dict[str, Any], question: dict[str, Any]) -> FakeInteraction:
    """Press Skip and wait until the next question is out."""
    skip = await fake.click(button(question, "skip"), user=user, message=question)
    await skip.wait_callback()
    await fake.wait_until(lambda: [c for c in skip.webhook_calls() if c.method == "POST"], 10, "the next question")
    return skip


async def _refusal(interaction: FakeInteraction) -> str:
    await interaction.wait_callback()
    reply = await interaction.wait_webhook("POST")
    assert reply.json.get("flags", 0) & EPHEMERAL, f"not a private refusal: {reply.json}"
    return str(reply.json["content"])


def _old_format(message: dict[str, Any]) -> dict[str, Any]:
    """`message` with its buttons as the bot posted them before they named their item."""
    old = copy.deepcopy(message)
    for row in old["components"]:
        for component in row["components"]:
            component["custom_id"] = re.sub(r"^(iv:[a-z]+:[0-9]+):[0-9]+$", r"\1", component["custom_id"])
    return old


async def test_a_second_skip_from_the_old_question_skips_only_one(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("double-clicker")
    async with launch() as bot:
        first, session_id = await _interview(fake, user)
        skip = await _skip(fake, user, first)
        second = [c for c in skip.webhook_calls() if c.method == "POST"][-1].json
        assert embed_titles(second)[0] == "Question 2 of 3"

        again = await fake.click(button(first, "skip"), user=user, message=first)  # the client still shows it
        assert MOVED_ON in await _refusal(again)
        assert "latest question" in again.webhook_calls()[0].json["content"]
        assert not [c for c in again.webhook_calls() if c.method == "PATCH"]  # the question on screen keeps its buttons

        session = (await bot.runtime.service.get(session_id)).session
        assert [r.outcome.value for r in session.results] == ["skipped"]
        assert (session.number, session.item_index, session.state.value) == (2, 1, "awaiting_answer")
        assert (button(first, "skip"), button(second, "skip")) == (f"iv:skip:{session_id}:0", f"iv:skip:{session_id}:1")


async def test_hint_on_an_old_question_is_refused_and_costs_nothing(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("hint-seeker")
    async with launch() as bot:
        first, session_id = await _interview(fake, user)
        await _skip(fake, user, first)

        hint = await fake.click(button(first, "hint"), user=user, message=first)
        text = await _refusal(hint)
        assert MOVED_ON in text and "💡" not in text

        view = await bot.runtime.service.get(session_id)
        assert view.session.hints_used == 0  # no hint of the second question was shown or charged
        assert view.prompt is not None and view.prompt.number == 2


async def test_answer_and_reveal_on_an_old_question_are_refused(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("late-answerer")
    async with launch() as bot:
        first, session_id = await _interview(fake, user)
        await _skip(fake, user, first)

        press = await fake.click(button(first, "answer"), user=user, message=first)
        refused = await press.wait_callback()
        assert refused.json["type"] == 4 and MOVED_ON in refused.json["data"]["content"]  # no form opened

        reveal = await fake.click(button(first, "reveal"), user=user, message=first)
        assert MOVED_ON in await _refusal(reveal)
        session = (await bot.runtime.service.get(session_id)).session
        assert [r.outcome.value for r in session.results] == ["skipped"]
        assert session.state.value == "awaiting_answer"


async def test_an_answer_form_from_an_old_question_is_not_stored_for_the_new_one(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("slow-typist")
    async with launch() as bot:
        first, session_id = await _interview(fake, user)
        press = await fake.click(button(first, "answer"), user=user, message=first)
        await press.wait_callback()
        await _skip(fake, user, first)  # meanwhile, Skip on the same question (another device, say)

        submit = await fake.submit_modal(press, "An answer typed for the first question.")
        assert MOVED_ON in await _refusal(submit)
        assert not await bot.runtime.attempts.history(int(user["id"]))
        session = (await bot.runtime.service.get(session_id)).session
        assert (session.item_index, session.state.value) == (1, "awaiting_answer")
        assert press.modal is not None and press.modal["custom_id"] == f"iv:answer-modal:{session_id}:0"


async def test_an_old_answer_form_submitted_after_a_restart_is_refused(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("restarted-typist")
    async with launch(background=False):
        first, session_id = await _interview(fake, user)
        press = await fake.click(button(first, "answer"), user=user, message=first)
        await press.wait_callback()
        await _skip(fake, user, first)

    async with launch() as bot:  # the form is unknown to this process: the cog reads the item from its custom id
        submit = await fake.submit_modal(press, "Typed across a deploy, for the first question.")
        assert MOVED_ON in await _refusal(submit)
        assert not await bot.runtime.attempts.history(int(user["id"]))
        assert not bot.modal_is_registered(f"iv:answer-modal:{session_id}:0")


async def test_buttons_and_forms_posted_before_items_were_named_still_work(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("long-time-user")
    async with launch() as bot:
        first, session_id = await _interview(fake, user)
        old = _old_format(first)
        assert button(old, "hint") == f"iv:hint:{session_id}"

        hint = await fake.click(button(old, "hint"), user=user, message=old)
        await hint.wait_callback()
        assert (await hint.wait_webhook("POST")).json["content"].startswith("💡")

        skip = await _skip(fake, user, old)
        second = [c for c in skip.webhook_calls() if c.method == "POST"][-1].json
        assert embed_titles(second)[0] == "Question 2 of 3"

        # An old form (no item) is taken for the question that is waiting, as before.
        message, answer_id = fake.find_component(f"^iv:answer:{session_id}(:1)?$")
        press = await fake.click(answer_id, user=user, message=message)
        await press.wait_callback()
        press.modal = {**press.modal, "custom_id": f"iv:answer-modal:{session_id}"}
        submit = await fake.submit_modal(press, "Submitted from a form opened by the previous version.")
        await submit.wait_callback()
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
        attempts = await bot.runtime.attempts.history(int(user["id"]))
        assert [a.answer for a in attempts] == ["Submitted from a form opened by the previous version."]


async def test_next_from_an_older_feedback_does_not_move_past_the_latest_one(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("eager")
    async with launch() as bot:
        first, session_id = await _interview(fake, user)

        async def reveal(question: dict[str, Any]) -> tuple[dict[str, Any], str]:
            press = await fake.click(button(question, "reveal"), user=user, message=question)
            await press.wait_callback()
            await fake.wait_until(lambda: [c for c in press.webhook_calls() if c.method == "POST"], 10, "reveal")
            message, next_id = fake.find_component(f"^iv:next:{session_id}(:[0-9]+)?$")
            return copy.deepcopy(message), next_id  # as the user's client shows it

        feedback, next_id = await reveal(first)
        nxt = await fake.click(next_id, user=user, message=feedback)
        await nxt.wait_callback()
        second = (await fake.wait_until(lambda: [c for c in nxt.webhook_calls() if c.method == "POST"], 10, "Q2"))[0]
        second_message = fake.find_component("^" + re.escape(button(second.json, "reveal")) + "$")[0]
        await reveal(second_message)  # the second question's model answer is on screen, with its own Next

        again = await fake.click(next_id, user=user, message=feedback)  # Next on the first model answer
        assert MOVED_ON in await _refusal(again)
        session = (await bot.runtime.service.get(session_id)).session
        assert (session.number, session.state.value, len(session.results)) == (2, "feedback", 2)
        assert next_id == f"iv:next:{session_id}:0"


def test_custom_ids_with_and_without_an_item_parse_strictly_and_stay_short() -> None:
    longest = max(len(custom_id(action, 2**63 - 1, 999_999)) for action in ACTIONS)
    assert longest <= 100 and len(f"iv:answer-modal:{2**63 - 1}:999999") <= 100
    for good in ("iv:skip:12", "iv:skip:12:0", "iv:answer:9223372036854775807:999999"):
        assert CUSTOM_ID.fullmatch(good), good
    for bad in ("iv:skip:12:", "iv:skip:12:3:4", "iv:skip:12:1234567", "iv:skip::3", "iv:jump:12:0", "iv:skip:x"):
        assert CUSTOM_ID.fullmatch(bad) is None, bad
    assert [m["item"] for m in map(MODAL_ID.fullmatch, ("iv:answer-modal:5", "iv:answer-modal:5:3"))] == [None, "3"]
    assert MODAL_ID.fullmatch("iv:answer-modal:5:") is None
