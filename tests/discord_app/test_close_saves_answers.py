"""Shutting the bot down never cancels an acknowledged answer's save: `close` lets it land first (briefly)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from bot.discord_app.client import InterviewBot
from bot.storage.tables import attempts
from tests.fakes.discord_server import FakeDiscord


async def _stored_answers(bot: InterviewBot) -> int:
    async with bot.runtime.queue.engine.connect() as connection:  # type: ignore[attr-defined]
        return int(await connection.scalar(select(func.count()).select_from(attempts)) or 0)


async def test_closing_waits_for_an_answer_being_saved(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("saved-at-shutdown")
    async with launch() as bot:
        start = await fake.slash("practice", user=user)
        await start.wait_callback()
        await start.wait_webhook("POST")
        question = start.original_message
        assert question is not None
        answer_id = next(c["custom_id"] for row in question["components"] for c in row["components"]
                         if c.get("custom_id", "").startswith("iv:answer:"))  # fmt: skip
        press = await fake.click(answer_id, user=user, message=question)
        await press.wait_callback()

        sessions = bot.runtime.service.sessions
        save, saving, go_on = sessions.answer, asyncio.Event(), asyncio.Event()

        async def slow_save(*args: Any, **kwargs: Any) -> Any:
            saving.set()
            await go_on.wait()  # a save still under way when the process is told to stop
            return await save(*args, **kwargs)

        sessions.answer = slow_save  # type: ignore[method-assign]
        submit = await fake.submit_modal(press, "An answer saved while the bot shuts down.")
        await submit.wait_callback()  # acknowledged: the user was told it is being handled
        await asyncio.wait_for(saving.wait(), 10)
        closing = asyncio.create_task(bot.close())
        await asyncio.sleep(0.2)
        assert not closing.done()  # close waits for the save...
        go_on.set()
        await asyncio.wait_for(closing, 10)
        assert await _stored_answers(bot) == 1  # ...which landed before the bot stopped
