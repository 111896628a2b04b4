"""Answer forms the user dismissed are forgotten after a while (discord.py keeps each opened form until it is
submitted, one per question now that forms name their item); a form submitted after that still stores the answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.discord_app.exts.interview import _modals
from tests.discord_app.conftest import button
from tests.discord_app.test_old_question_buttons import _interview
from tests.fakes.discord_server import FakeDiscord

FORGET_AFTER_S = 0.3


async def test_a_form_is_forgotten_after_a_while_and_still_stores_its_answer(
    fake: FakeDiscord, launch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_modals, "FORM_MEMORY_S", FORGET_AFTER_S)
    user = fake.make_user("slow-writer")
    async with launch() as bot:
        question, session_id = await _interview(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        await press.wait_callback()
        form = f"iv:answer-modal:{session_id}:0"
        await fake.wait_until(lambda: bot.modal_is_registered(form), 5, "discord.py to keep the form")

        await asyncio.sleep(FORGET_AFTER_S * 4)
        assert not bot.modal_is_registered(form)  # a dismissed form no longer takes memory

        submit = await fake.submit_modal(press, "Written slowly, but for the question still on screen.")
        await submit.wait_callback()
        saved = await submit.wait_webhook("POST")
        assert "Answer saved" in saved.json["content"]
        [attempt] = await bot.runtime.attempts.history(int(user["id"]))
        assert attempt.answer == "Written slowly, but for the question still on screen."
