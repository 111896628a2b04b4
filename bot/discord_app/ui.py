"""Base classes for views and modals: errors go to the tree's reporter (views and modals bypass the tree)."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord_app.tree import report_error


class BaseView(discord.ui.View):
    """A view that only `owner_id` may use, reporting errors like the command tree does."""

    def __init__(self, owner_id: int, *, timeout: float | None = 180) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "These buttons aren't for you.", ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return False
        return True

    async def on_error(
        self,
        interaction: discord.Interaction,
        error: Exception,
        item: discord.ui.Item[Any],
        /,
    ) -> None:
        await report_error(interaction, error, where=type(self).__name__)


class BaseModal(discord.ui.Modal):
    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error, where=type(self).__name__)
