"""Study buttons and the answer modal. Buttons are `DynamicItem`s whose custom id carries everything they need
(`st:<action>:<ref>:<position>`), so they keep working after a restart; the engine checks who may press what."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord_app.limits import SlowDownError
from bot.discord_app.tree import report_error
from bot.discord_app.ui import BaseModal, answer_input

if TYPE_CHECKING:
    from bot.discord_app.exts.study._cog import StudyCog

BUTTON_ID = re.compile(
    r"st:(?P<action>answer|next|pause|resume|end|daily):(?P<ref>[0-9]{1,19}):(?P<position>[0-9]{1,2})"
)
MODAL_ID = re.compile(r"st:modal:(?P<kind>round|daily):(?P<ref>[0-9]{1,19}):(?P<position>[0-9]{1,2})")

_STYLE = {
    "answer": ("Answer", discord.ButtonStyle.primary, "✍️"),
    "daily": ("Answer", discord.ButtonStyle.primary, "✍️"),
    "next": ("Next", discord.ButtonStyle.secondary, "⏭️"),
    "pause": ("Pause", discord.ButtonStyle.secondary, "⏸️"),
    "resume": ("Resume", discord.ButtonStyle.success, "▶️"),
    "end": ("End round", discord.ButtonStyle.danger, "🛑"),
}


def _cog(interaction: discord.Interaction) -> StudyCog:
    client = cast("discord.ext.commands.Bot", interaction.client)
    cog = client.get_cog("Study")
    if cog is None:  # pragma: no cover - the extension registers both together
        raise RuntimeError("the study extension is not loaded")
    return cast("StudyCog", cog)


class StudyButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_ID.pattern):
    def __init__(self, action: str, ref: int, position: int = 0, *, disabled: bool = False) -> None:
        label, style, emoji = _STYLE[action]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, emoji=emoji, custom_id=f"st:{action}:{ref}:{position}", disabled=disabled
            )
        )
        self.action, self.ref, self.position = action, ref, position

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> StudyButton:
        return cls(match["action"], int(match["ref"]), int(match["position"]))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        limiter = getattr(interaction.client, "rate_limiter", None)
        try:
            if limiter is not None:
                limiter.hit(interaction.user.id)
        except SlowDownError as error:
            await report_error(interaction, error)
            return False
        return True

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await _cog(interaction).on_button(interaction, self.action, self.ref, self.position)
        except Exception as error:  # dynamic items bypass view error handlers
            await report_error(interaction, error, where=f"study button {self.action}")


def question_buttons(round_id: int, position: int, *, paused: bool = False, open_: bool = True) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if open_:
        view.add_item(StudyButton("answer", round_id, position, disabled=paused))
    view.add_item(StudyButton("next", round_id, position, disabled=paused))
    view.add_item(StudyButton("resume" if paused else "pause", round_id, position))
    view.add_item(StudyButton("end", round_id, position))
    return view


def daily_buttons(post_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(StudyButton("daily", post_id, 0))
    return view


class StudyAnswerModal(BaseModal):
    def __init__(self, kind: str, ref: int, position: int, question: str) -> None:
        super().__init__(
            title="Your answer (only you see it)", custom_id=f"st:modal:{kind}:{ref}:{position}", timeout=None
        )
        self.kind, self.ref, self.position = kind, ref, position
        self.answer = answer_input(question)
        self.add_item(self.answer)

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        await _cog(interaction).submit(interaction, self.kind, self.ref, self.position, self.answer.value)
