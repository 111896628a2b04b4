"""Base classes for views and modals: errors go to the tree's reporter (views and modals bypass the tree)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_app.embeds import trim
from bot.discord_app.tree import report_error

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

ANSWER_MAX_CHARS = 4000  # Discord's limit for a modal's text input
ANSWER_INPUT_ID = "answer"


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


def answer_input(question: str) -> discord.ui.TextInput[Any]:
    """The paragraph input every answer modal uses; its placeholder recalls the question."""
    return discord.ui.TextInput(
        label="Answer",
        custom_id=ANSWER_INPUT_ID,
        style=discord.TextStyle.paragraph,
        placeholder=trim(question, 100),
        min_length=1,
        max_length=ANSWER_MAX_CHARS,
    )


def submitted_value(data: dict[str, Any]) -> str:
    """The answer text from raw modal-submit data (for a modal opened before a restart)."""
    for row in data.get("components", []):
        children = [row["component"]] if row.get("type") == 18 else row.get("components", [])
        for child in children:
            if child.get("custom_id") == ANSWER_INPUT_ID:
                return str(child.get("value") or "")
    return ""


MODAL_CLAIMED = "mockinterview_modal_claimed"


def note_modal_claim(interaction: discord.Interaction, is_registered: Callable[[str], bool]) -> None:
    """Record whether discord.py had a modal for this submit when it dispatched it (just before this event).

    A listener that asked later could be wrong: a submit racing the bot's own `send_modal` is discarded by
    discord.py (modal not stored yet), and by the time the listener runs `send_modal` may have stored it."""
    if interaction.type == discord.InteractionType.modal_submit and isinstance(interaction.data, dict):
        interaction.extras[MODAL_CLAIMED] = is_registered(str(interaction.data.get("custom_id", "")))


def orphan_modal_submit(
    bot: InterviewBot, interaction: discord.Interaction, pattern: re.Pattern[str]
) -> tuple[re.Match[str], str] | None:
    """A submit of a modal matching `pattern` that this process never showed (opened before a restart):
    its custom-id match and answer text, or None when discord.py's own modal handles it."""
    if interaction.type != discord.InteractionType.modal_submit or not isinstance(interaction.data, dict):
        return None
    custom_id = str(interaction.data.get("custom_id", ""))
    match = pattern.fullmatch(custom_id)
    # Decided when discord.py dispatched the submit (`InterviewBot.dispatch`), not now: see `note_modal_claim`.
    claimed = interaction.extras.get(MODAL_CLAIMED, bot.modal_is_registered(custom_id))
    if match is None or claimed:
        return None
    return match, submitted_value(dict(interaction.data))
