"""The answer modal: one paragraph input (Discord allows 4,000 characters). Its custom id
`iv:answer-modal:<session_id>:<item>` names the item it was opened for, so an answer typed for an old question is
not stored as the answer to the current one; forms opened before that (`iv:answer-modal:<session_id>`) still submit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

import discord

from bot.discord_app.ui import ANSWER_MAX_CHARS, BaseModal, answer_input

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

__all__ = ["ANSWER_MAX_CHARS", "MODAL_ID", "AnswerModal", "modal_item"]
# discord.py keeps every opened form until it is submitted, and a form opened and then dismissed never is: forget
# them after this long. A form submitted later still counts: the cog takes it like one opened before a restart.
FORM_MEMORY_S = 30 * 60
MODAL_ID = re.compile(r"iv:answer-modal:(?P<session_id>[0-9]{1,19})(?::(?P<item>[0-9]{1,6}))?")


def modal_item(match: re.Match[str]) -> int | None:
    """The item a matched modal custom id names; None for a form opened before items were named."""
    item = match["item"]
    return None if item is None else int(item)


class AnswerModal(BaseModal):
    def __init__(self, session_id: int, item: int, question: str) -> None:
        super().__init__(title="Your answer", custom_id=f"iv:answer-modal:{session_id}:{item}", timeout=FORM_MEMORY_S)
        self.session_id = session_id
        self.item_index = item
        self.answer = answer_input(question)
        self.add_item(self.answer)

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        bot = cast("InterviewBot", interaction.client)
        await bot.flow.submit_from_modal(interaction, self.session_id, self.answer.value, item=self.item_index)
