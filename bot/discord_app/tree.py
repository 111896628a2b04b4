"""The command tree, and the one place that turns errors into replies (views and modals call it too).

Ladder: the project's `UserFacingError` → its message; cooldowns, checks and bad input → friendly text; anything
else → logged with an error id, and the user sees only that short id. Exception text never reaches a user.
"""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from bot.core.custom_bank import current_guild
from bot.core.errors import UserFacingError
from bot.discord_app.observe import error_site
from bot.discord_app.replies import send_reply
from bot.ops import metrics

log = logging.getLogger(__name__)


def user_message(error: BaseException) -> str | None:
    """The friendly text for an expected error, or None when the error is a bug."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserFacingError):
        return original.message
    if isinstance(original, app_commands.CommandOnCooldown):
        return f"You're going a little fast. Try again in {max(1, round(original.retry_after))} s."
    if isinstance(original, app_commands.NoPrivateMessage):
        return "That command only works in a server."
    if isinstance(original, app_commands.MissingPermissions | app_commands.BotMissingPermissions):
        return "That needs permissions that are missing here."
    if isinstance(original, app_commands.CheckFailure):
        return "You can't use that here."
    if isinstance(original, app_commands.TransformerError):
        return f"I couldn't understand {original.value!r} for that option."
    return None


def error_reply(interaction: discord.Interaction, error: BaseException, *, where: str = "") -> str:
    """The friendly text for `error`; an unexpected one is logged first, with an id the user can quote."""
    text = user_message(error)
    if text is not None:
        return text
    error_id = secrets.token_hex(4)
    metrics.count_error(error_site(interaction))
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    command = interaction.command.qualified_name if interaction.command else where or "component"
    log.error(
        "error %s in %s (user %s, guild %s)",
        error_id,
        command,
        interaction.user.id,
        interaction.guild_id,
        exc_info=original,
        extra={"error_id": error_id, "user_id": interaction.user.id, "guild_id": interaction.guild_id},
    )
    # Nothing about what was kept: the error may have struck before, during or after a save.
    return f"Something went wrong on our side (error `{error_id}`). Try again."


async def report_error(interaction: discord.Interaction, error: BaseException, *, where: str = "") -> None:
    """Reply with a friendly ephemeral message; log unexpected errors with an id the user can quote."""
    text = error_reply(interaction, error, where=where)
    try:
        await send_reply(interaction, text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell user %s about an error", interaction.user.id, exc_info=True)


class InterviewTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        current_guild.set(interaction.guild_id)  # the bank shows this guild's own questions to this command
        limiter = getattr(interaction.client, "rate_limiter", None)
        if limiter is not None and interaction.type == discord.InteractionType.application_command:
            try:
                limiter.hit(interaction.user.id)
            except UserFacingError as error:
                retry_after = getattr(error, "retry_after", 1.0)
                cooldown = app_commands.Cooldown(limiter.rate, limiter.per)
                raise app_commands.CommandOnCooldown(cooldown, retry_after) from None
        return True

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        await report_error(interaction, error)
