"""The idle-session expiry loop end to end, on the injected clock: the bot's own loop expires what has been idle
past the timeout (and nothing else), the expired interview's buttons answer kindly, and the user can start again."""

from __future__ import annotations

import pytest

import bot.discord_app.client as client_module
from bot.core.session import SessionState
from tests.discord_app.conftest import ManualClock, bot_messages, button, custom_ids, embed_titles
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord

IDLE_TIMEOUT_S = 3600  # the session default (SessionConfig.idle_timeout_s)


async def _start(fake: FakeDiscord, user: dict) -> tuple[dict, int]:
    before = {t["id"] for t in fake.threads()}
    start = await fake.slash("interview start", {"questions": 2}, user=user, guild=fake.guild)
    await start.wait_callback()
    thread = (await fake.wait_until(lambda: [t for t in fake.threads() if t["id"] not in before], 10, "thread"))[0]
    question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    return question, int(custom_ids(question)[0].split(":")[2])


async def test_the_expiry_loop_expires_only_idle_sessions_and_the_user_can_start_again(
    fake: FakeDiscord, launch, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "EXPIRY_INTERVAL_S", 0.05)  # the loop's period; the clock decides what's idle
    idle, active = fake.make_user("wandered-off"), fake.make_user("still-here")
    async with launch() as bot:
        service = bot.runtime.service
        passes: list[list[int]] = []
        expire_idle = service.expire_idle

        async def counted() -> list[int]:  # the real method, with each pass of the loop recorded
            expired = await expire_idle()
            passes.append(expired)
            return expired

        monkeypatch.setattr(service, "expire_idle", counted)

        async def state(session_id: int) -> SessionState:
            return (await service.get(session_id)).session.state

        idle_question, idle_id = await _start(fake, idle)
        clock.advance(IDLE_TIMEOUT_S / 2)
        _, active_id = await _start(fake, active)
        clock.advance(IDLE_TIMEOUT_S / 2 - 5)
        seen = len(passes)
        await fake.wait_until(lambda: len(passes) >= seen + 3, 5, "three passes of the expiry loop")
        assert not any(passes) and await state(idle_id) == SessionState.AWAITING_ANSWER  # not idle long enough

        clock.advance(10)  # now the first session has been idle past the timeout, the second only half of it
        await fake.wait_until(lambda: any(passes), 5, "the loop to expire a session")
        assert [expired for expired in passes if expired] == [[idle_id]]
        assert await state(idle_id) == SessionState.EXPIRED
        assert await state(active_id) == SessionState.AWAITING_ANSWER

        # The expired interview's buttons explain instead of failing; the user starts a new one.
        press = await fake.click(button(idle_question, "answer"), user=idle, message=idle_question)
        reply = (await press.wait_callback()).json
        assert reply["type"] == 4 and reply["data"]["flags"] & EPHEMERAL
        assert "ended after a long pause" in reply["data"]["content"]
        question, new_id = await _start(fake, idle)
        assert new_id != idle_id and embed_titles(question)[0] == "Question 1 of 2"
