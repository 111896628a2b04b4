"""Replying to an interaction whatever its state (Red's `_send_from_interaction`): the initial response if it is
unused, else a followup, and once the 15-minute token has expired a DM or channel message instead."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.core.ports import Clock, SystemClock

log = logging.getLogger(__name__)

# Everything the bot sends may echo user text (answers, names, topics): it never pings anyone.
NO_MENTIONS = discord.AllowedMentions.none()
TOKEN_LIFETIME = timedelta(minutes=15)
TOKEN_MARGIN = timedelta(seconds=45)  # don't start a followup the token may not outlive
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062


def clock_of(interaction: discord.Interaction) -> Clock:
    clock = getattr(interaction.client, "clock", None)
    return clock if clock is not None else SystemClock()


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False, thinking: bool = False) -> None:
    """Acknowledge now with a deferred response, then let every other interaction received so far be acknowledged
    before this handler's slower work (database, followups) competes with them (`InteractionMeter`)."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=thinking)
    meter = getattr(interaction.client, "meter", None)
    if meter is not None:
        await meter.acknowledgements_first()


def token_expires_at(interaction: discord.Interaction) -> datetime:
    return interaction.created_at + TOKEN_LIFETIME


def token_usable(expires_at: datetime, now: datetime) -> bool:
    return now < expires_at - TOKEN_MARGIN


def is_expired_token_error(error: discord.HTTPException) -> bool:
    return error.status == 401 or error.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK, UNKNOWN_INTERACTION)


def _kwargs(
    content: str | None,
    embeds: Sequence[discord.Embed],
    view: discord.ui.View | None,
    file: discord.File | None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if content is not None:
        kwargs["content"] = content
    if embeds:
        kwargs["embeds"] = list(embeds)
    if view is not None:
        kwargs["view"] = view
    if file is not None:
        kwargs["file"] = file
    return kwargs


async def send_reply(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embeds: Sequence[discord.Embed] = (),
    view: discord.ui.View | None = None,
    file: discord.File | None = None,
    ephemeral: bool = True,
) -> discord.Message | None:
    """Send to the user who caused `interaction`, through whichever path still works."""
    kwargs = _kwargs(content, embeds, view, file)
    if not interaction.response.is_done():
        await interaction.response.send_message(ephemeral=ephemeral, **kwargs)
        return None
    if token_usable(token_expires_at(interaction), clock_of(interaction).now()):
        try:
            message: discord.Message = await interaction.followup.send(ephemeral=ephemeral, wait=True, **kwargs)
            return message
        except discord.HTTPException as error:
            if not is_expired_token_error(error):
                raise
            log.info("interaction token expired; replying outside the interaction")
    return await send_outside(interaction.client, interaction.user, interaction.channel, private=ephemeral, **kwargs)


async def send_outside(
    client: discord.Client,
    user: discord.User | discord.Member,
    channel: object,
    *,
    private: bool,
    **kwargs: Any,  # noqa: ANN401 - passed to Messageable.send
) -> discord.Message | None:
    """After the token window: the same channel when it is the user's DM or a private thread (the interview threads
    we run), or when the reply was public anyway; else a DM. A private reply never goes to a public thread."""
    kwargs.pop("ephemeral", None)
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    private_thread = isinstance(channel, discord.Thread) and channel.is_private()
    ours = isinstance(channel, discord.DMChannel) or private_thread or not private
    if ours and isinstance(channel, discord.abc.Messageable):
        return await channel.send(**kwargs)
    try:
        sent: discord.Message = await user.send(**kwargs)
        return sent
    except discord.Forbidden:
        log.warning("user %s does not accept DMs; a reply was dropped (it is in their history)", user.id)
        return None
