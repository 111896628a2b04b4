"""After the interaction token's 15 minutes a reply goes outside the interaction: a private one never lands where
others can read it."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord_app.replies import send_outside


class Recipient:
    """Stands in for a channel or the user: records what was sent to it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


class RecordingThread(discord.Thread):
    """A thread of the given type (discord.py builds them from gateway data) whose sends are recorded."""

    def __init__(self, kind: discord.ChannelType) -> None:
        self._type = kind  # type: ignore[assignment]
        self.recorded = Recipient()

    async def send(self, **kwargs: Any) -> None:  # type: ignore[override]
        await self.recorded.send(**kwargs)


async def test_a_private_reply_goes_to_a_private_thread_but_never_to_a_public_one() -> None:
    for kind, lands_in_thread in (
        (discord.ChannelType.private_thread, True),
        (discord.ChannelType.public_thread, False),
    ):
        thread, user = RecordingThread(kind), Recipient()
        await send_outside(None, user, thread, private=True, content="your history")  # type: ignore[arg-type]
        assert (len(thread.recorded.sent), len(user.sent)) == ((1, 0) if lands_in_thread else (0, 1)), kind


async def test_a_public_reply_stays_in_its_thread() -> None:
    thread, user = RecordingThread(discord.ChannelType.public_thread), Recipient()
    await send_outside(None, user, thread, private=False, content="a leaderboard")  # type: ignore[arg-type]
    assert (len(thread.recorded.sent), len(user.sent)) == (1, 0)
