"""Where feedback goes, and how it gets there once the grading queue has graded an answer.

A submission stores a *target* (the `delivery` JSON of the attempt). While the interaction token is valid
(15 minutes) the feedback is an interaction followup, so ephemeral feedback stays ephemeral. After that, or when
Discord refuses the token, it goes to the session's thread or the user's DM; ephemeral feedback from a guild
channel goes to the user's DM, never to the channel.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord

from bot.core.models import PendingDelivery
from bot.discord_app.replies import NO_MENTIONS, is_expired_token_error, token_expires_at, token_usable

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

log = logging.getLogger(__name__)
ADAPTER = "discord"
PARTLY_SENT_REMEMBERED = 1_000  # deliveries that failed after their first pages, resumed when retried here


def interaction_target(
    interaction: discord.Interaction, *, session_id: int | None, ephemeral: bool, channel_id: int | None
) -> dict[str, object]:
    """Deliver through this interaction's followups while its token lasts, then to `channel_id` or a DM."""
    return {
        "adapter": ADAPTER,
        "application_id": interaction.application_id,
        "token": interaction.token,
        "expires_at": token_expires_at(interaction).isoformat(),
        "ephemeral": ephemeral,
        "channel_id": channel_id,
        "user_id": interaction.user.id,
        "session_id": session_id,
    }


def message_target(message: discord.Message, *, session_id: int | None) -> dict[str, object]:
    """Deliver to the channel (DM or thread) where the answer was typed."""
    return {
        "adapter": ADAPTER,
        "channel_id": message.channel.id,
        "user_id": message.author.id,
        "session_id": session_id,
        "reply_to": message.id,
        "ephemeral": False,
    }


@dataclass
class SentPages:
    """How many pages of one message have gone out: after a failure, the rest is sent, never a page twice."""

    count: int = 0


class Outbox:
    """Sends pages of embeds (buttons on the last page) to a stored target through the best path left."""

    def __init__(self, bot: InterviewBot) -> None:
        self.bot = bot

    async def send(
        self,
        target: dict[str, Any],
        pages: Sequence[Sequence[discord.Embed]],
        view: discord.ui.View | None,
        sent: SentPages | None = None,
    ) -> None:
        """`sent` counts the pages delivered, this call's and earlier tries' (a retry sends only the rest)."""
        sent = sent or SentPages()
        token = target.get("token")
        expires = target.get("expires_at")
        if token and expires and token_usable(datetime.fromisoformat(str(expires)), self.bot.clock.now()):
            try:
                await self._followups(target, pages, view, sent)
                return
            except discord.HTTPException as error:
                if not is_expired_token_error(error):
                    raise
                log.info("interaction token for user %s no longer works; delivering outside it", target["user_id"])
        await self._outside(target, pages, view, sent)

    async def _followups(
        self,
        target: dict[str, Any],
        pages: Sequence[Sequence[discord.Embed]],
        view: discord.ui.View | None,
        sent: SentPages,
    ) -> None:
        # The same application webhook `Interaction.followup` builds, so ephemeral flags and buttons work.
        webhook = discord.Webhook.from_state(
            {"id": str(target["application_id"]), "type": 3, "token": str(target["token"])},
            state=self.bot._connection,
        )
        await send_pages_through(webhook.send, pages, view, sent, ephemeral=bool(target.get("ephemeral")))

    async def _outside(
        self,
        target: dict[str, Any],
        pages: Sequence[Sequence[discord.Embed]],
        view: discord.ui.View | None,
        sent: SentPages,
    ) -> None:
        destination: discord.abc.Messageable | None = None
        channel_id = target.get("channel_id")
        if channel_id and not target.get("ephemeral"):
            destination = await self.bot.messageable(int(channel_id))
        if destination is None:
            user = self.bot.get_user(int(target["user_id"])) or await self.bot.fetch_user(int(target["user_id"]))
            destination = user
        try:
            await send_pages_through(destination.send, pages, view, sent)
        except discord.Forbidden:
            # A closed DM or a thread we lost: retrying won't help; the feedback is in /history.
            log.warning("feedback for user %s could not be delivered (forbidden); kept in history", target["user_id"])


async def send_pages_through(
    send: Callable[..., Awaitable[object]],
    pages: Sequence[Sequence[discord.Embed]],
    view: discord.ui.View | None,
    sent: SentPages | None = None,
    **options: Any,  # noqa: ANN401 - passed to `send` (a webhook's or a channel's)
) -> None:
    """The pages not sent yet (`sent` counts them), one message each, the buttons on the last."""
    sent = sent or SentPages()
    for index in range(sent.count, len(pages)):
        buttons = {"view": view} if index == len(pages) - 1 and view is not None else {}
        await send(embeds=list(pages[index]), allowed_mentions=NO_MENTIONS, **buttons, **options)
        sent.count += 1


class FeedbackDeliverer:
    """The notifier's `deliver` callback: record the grade in the session, then send the feedback."""

    def __init__(self, bot: InterviewBot) -> None:
        self.bot = bot
        self.outbox = Outbox(bot)
        # Feedback that failed after its first pages (the notifier retries it later, usually in this process): the
        # retry sends only the pages that didn't go out.
        self._partly_sent: OrderedDict[int, SentPages] = OrderedDict()

    async def __call__(self, item: PendingDelivery) -> None:
        from bot.discord_app.exts.interview._render import feedback_message

        target = dict(item.delivery)
        if target.get("adapter") != ADAPTER:
            log.warning("attempt %d has a delivery target for another adapter; skipped", item.attempt.id)
            return
        service = self.bot.runtime.service
        view = await service.feedback_view(item.attempt)  # records the grade; a redelivery records nothing twice
        shareable = bool(target.get("ephemeral")) and item.attempt.guild_id is not None
        pages, buttons = feedback_message(self.bot.runtime, item.attempt, view, shareable=shareable)
        sent = self._partly_sent.pop(item.attempt.id, None) or SentPages()
        try:
            await self.outbox.send(target, pages, buttons, sent)
        except BaseException:
            if sent.count:
                self._partly_sent[item.attempt.id] = sent
                while len(self._partly_sent) > PARTLY_SENT_REMEMBERED:
                    self._partly_sent.popitem(last=False)
            raise
