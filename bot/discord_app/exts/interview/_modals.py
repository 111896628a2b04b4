"""The answer modal: one paragraph input (Discord allows 4,000 characters). Its custom id
`iv:answer-modal:<session_id>:<item>` names the item it was opened for, so an answer typed for an old question is
not stored as the answer to the current one; forms opened before that (`iv:answer-modal:<session_id>`) still submit.
A form for a server's session opened outside that server (its feedback, with Try again, may have moved to the user's
DM) ends in `:g<guild_id>`: that server's daily caps apply to the answer wherever it is submitted."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

import discord

from bot.discord_app.ui import ANSWER_MAX_CHARS, BaseModal, answer_input

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

__all__ = ["ANSWER_MAX_CHARS", "MODAL_ID", "AnswerModal", "modal_guild", "modal_item"]
# discord.py keeps every opened form until it is submitted, and a form opened and then dismissed never is: forget
# them after this long. A form submitted later still counts: the cog takes it like one opened before a restart.
FORM_MEMORY_S = 30 * 60
MODAL_ID = re.compile(
    r"iv:answer-modal:(?P<session_id>[0-9]{1,19})(?::(?P<item>[0-9]{1,6})(?::g(?P<guild_id>[0-9]{1,19}))?)?"
)


def modal_item(match: re.Match[str]) -> int | None:
    """The item a matched modal custom id names; None for a form opened before items were named."""
    item = match["item"]
    return None if item is None else int(item)


def modal_guild(interaction: discord.Interaction) -> int | None:
    """The server of the session a submitted form answers when its custom id names one (a form opened outside that
    server); None otherwise: the form was opened where its session runs (or before forms named servers)."""
    custom_id = interaction.data.get("custom_id", "") if isinstance(interaction.data, dict) else ""
    match = MODAL_ID.fullmatch(str(custom_id))
    return None if match is None or match["guild_id"] is None else int(match["guild_id"])


class AnswerModal(BaseModal):
    def __init__(self, session_id: int, item: int, question: str, *, elsewhere_guild: int | None = None) -> None:
        """`elsewhere_guild`: the session's server when the form is opened outside it."""
        custom_id = f"iv:answer-modal:{session_id}:{item}"
        if elsewhere_guild is not None:
            custom_id += f":g{elsewhere_guild}"
        super().__init__(title="Your answer", custom_id=custom_id, timeout=FORM_MEMORY_S)
        self.session_id = session_id
        self.item_index = item
        self.answer = answer_input(question)
        self.add_item(self.answer)

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        bot = cast("InterviewBot", interaction.client)
        await bot.flow.submit_from_modal(interaction, self.session_id, self.answer.value, item=self.item_index)
