"""The answer modal: one paragraph input (Discord allows 4,000 characters)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord_app.embeds import trim
from bot.discord_app.ui import BaseModal

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

ANSWER_MAX_CHARS = 4000
MODAL_ID = re.compile(r"iv:answer-modal:(?P<session_id>[0-9]{1,19})")
INPUT_ID = "answer"


class AnswerModal(BaseModal):
    def __init__(self, session_id: int, question: str) -> None:
        super().__init__(title="Your answer", custom_id=f"iv:answer-modal:{session_id}", timeout=None)
        self.session_id = session_id
        self.answer: discord.ui.TextInput[AnswerModal] = discord.ui.TextInput(
            label="Answer",
            custom_id=INPUT_ID,
            style=discord.TextStyle.paragraph,
            placeholder=trim(question, 100),
            min_length=1,
            max_length=ANSWER_MAX_CHARS,
        )
        self.add_item(self.answer)

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        bot = cast("InterviewBot", interaction.client)
        await bot.flow.submit_from_modal(interaction, self.session_id, self.answer.value)


def submitted_value(data: dict[str, Any]) -> str:
    """The answer text from raw modal-submit data (for a modal opened before a restart)."""
    for row in data.get("components", []):
        children = [row["component"]] if row.get("type") == 18 else row.get("components", [])
        for child in children:
            if child.get("custom_id") == INPUT_ID:
                return str(child.get("value") or "")
    return ""
