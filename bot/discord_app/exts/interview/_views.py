"""The interview's persistent buttons: one `DynamicItem` whose custom id `iv:<action>:<session_id>:<item>` carries all
the state it needs, so buttons keep working after a restart. `<item>` names the item of the session the button was
shown for (`InterviewSession.item_index`), so a press on an old question's button is refused instead of acting on the
current one; buttons posted before it existed (`iv:<action>:<session_id>`) act on whatever is current, as they did.
The engine checks ownership and the item; the button checks rate limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord_app.limits import SlowDownError
from bot.discord_app.tree import report_error

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot


@dataclass(frozen=True)
class _Action:
    label: str
    style: discord.ButtonStyle
    emoji: str | None = None


ACTIONS: dict[str, _Action] = {
    "answer": _Action("Answer", discord.ButtonStyle.primary, "✍️"),
    "hint": _Action("Hint", discord.ButtonStyle.secondary, "💡"),
    "skip": _Action("Skip", discord.ButtonStyle.secondary, "⏭️"),
    "reveal": _Action("Reveal answer", discord.ButtonStyle.secondary, "📖"),
    "next": _Action("Next", discord.ButtonStyle.primary, "➡️"),
    "retry": _Action("Try again", discord.ButtonStyle.secondary, "🔁"),
    "end": _Action("End", discord.ButtonStyle.danger, "🛑"),
}
CUSTOM_ID = re.compile(
    rf"iv:(?P<action>{'|'.join(ACTIONS)}):(?P<session_id>[0-9]{{1,19}})"
    r"(?::(?P<item>[0-9]{1,6}))?"  # absent on buttons posted before items were named
)
SHARE_ID = re.compile(r"iv:share:(?P<attempt_id>[0-9]{1,19})")


async def _within_rate_limit(interaction: discord.Interaction) -> bool:
    # discord.py drops a dynamic item silently when its check returns False, so say why first.
    bot = cast("InterviewBot", interaction.client)
    try:
        bot.rate_limiter.hit(interaction.user.id)
    except SlowDownError as error:
        await report_error(interaction, error)
        return False
    return True


def custom_id(action: str, session_id: int, item: int | None = None) -> str:
    return f"iv:{action}:{session_id}" if item is None else f"iv:{action}:{session_id}:{item}"


class SessionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CUSTOM_ID.pattern):
    def __init__(
        self,
        action: str,
        session_id: int,
        item: int | None = None,
        *,
        label: str | None = None,
        disabled: bool = False,
    ) -> None:
        spec = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                label=label or spec.label,
                style=spec.style,
                emoji=spec.emoji,
                custom_id=custom_id(action, session_id, item),
                disabled=disabled,
            )
        )
        self.action = action
        self.session_id = session_id
        self.item_index = item

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SessionButton:
        action = match["action"]
        if action not in ACTIONS:
            raise ValueError(f"unknown interview action {action!r}")
        named = match["item"]
        return cls(action, int(match["session_id"]), None if named is None else int(named))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await _within_rate_limit(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast("InterviewBot", interaction.client)
        try:
            await bot.flow.on_button(interaction, self.action, self.session_id, self.item_index)
        except Exception as error:  # dynamic items bypass view error handlers: report here
            await report_error(interaction, error, where=f"button {self.action}")


def question_buttons(session_id: int, item: int, hints_left: int) -> discord.ui.View:
    """The buttons of the question that is item `item` of the session."""
    view = discord.ui.View(timeout=None)
    view.add_item(SessionButton("answer", session_id, item))
    hint_label = f"Hint ({hints_left})" if hints_left else "No hints left"
    view.add_item(SessionButton("hint", session_id, item, label=hint_label, disabled=hints_left <= 0))
    view.add_item(SessionButton("skip", session_id, item))
    view.add_item(SessionButton("reveal", session_id, item))
    view.add_item(SessionButton("end", session_id))  # no item: ending means the same from any message
    return view


def feedback_buttons(session_id: int, item: int, *, can_retry: bool = True) -> discord.ui.View:
    """The buttons of the feedback on item `item` of the session."""
    view = discord.ui.View(timeout=None)
    view.add_item(SessionButton("next", session_id, item))
    if can_retry:
        view.add_item(SessionButton("retry", session_id, item))
    view.add_item(SessionButton("end", session_id))
    return view


class ShareButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=SHARE_ID.pattern):
    """Post a short public summary of private feedback (the score and the question, never the answer)."""

    def __init__(self, attempt_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Share score", style=discord.ButtonStyle.secondary, emoji="📣", custom_id=f"iv:share:{attempt_id}"
            )
        )
        self.attempt_id = attempt_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ShareButton:
        return cls(int(match["attempt_id"]))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await _within_rate_limit(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast("InterviewBot", interaction.client)
        try:
            await bot.flow.share(interaction, self.attempt_id)
        except Exception as error:
            await report_error(interaction, error, where="button share")
