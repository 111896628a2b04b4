"""Commands about the user rather than a session: /history, /progress, /topics, /privacy export|forget, /help."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.embeds import paginate
from bot.discord_app.exts.account._chart import progress_png
from bot.discord_app.exts.interview._flow import topic_choices
from bot.discord_app.exts.interview._render import BLURPLE, Pages, history_pages, topic_title
from bot.discord_app.replies import NO_MENTIONS, defer, send_reply
from bot.discord_app.ui import BaseView

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

log = logging.getLogger(__name__)
PROGRESS_WINDOW = 500
HISTORY_LIMIT = 15

HELP = [
    (
        "/interview start",
        "A mock interview of several questions, with follow-ups, hints and a report. In a server "
        "it runs in a private thread; in DMs you can simply type your answers.",
    ),
    ("/interview end", "End your interview now and get the report."),
    ("/practice", "One question with feedback, anywhere."),
    ("/review", "Bring back the questions you are about to forget (spaced repetition)."),
    ("/history", "Your recent answers and scores."),
    ("/progress", "A chart of your scores over time, per topic."),
    ("/topics", "The topics you can pick."),
    ("/privacy export", "Download everything stored about you (JSON)."),
    ("/privacy forget", "Delete everything stored about you."),
]


async def _send_pages(interaction: discord.Interaction, pages: Pages, *, ephemeral: bool = True) -> None:
    for embeds in pages:
        await send_reply(interaction, embeds=embeds, ephemeral=ephemeral)


def _private(interaction: discord.Interaction) -> bool:
    """Personal data is ephemeral anywhere but the user's own DM with the bot."""
    return not interaction.context.dm_channel


class ForgetConfirmView(BaseView):
    def __init__(self, bot: InterviewBot, owner_id: int) -> None:
        super().__init__(owner_id, timeout=120)
        self.bot = bot

    @discord.ui.button(label="Delete everything", style=discord.ButtonStyle.danger, custom_id="privacy:forget:confirm")
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await defer(interaction)
        removed = await self.bot.runtime.privacy.forget_user(self.owner_id)
        self.stop()
        total = sum(removed.values())
        await interaction.edit_original_response(
            content=f"Done: everything about you is deleted ({total} records). You can start fresh any time.",
            view=None,
            allowed_mentions=NO_MENTIONS,
        )

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="privacy:forget:cancel")
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None, allowed_mentions=NO_MENTIONS)


class AccountCog(commands.Cog, name="Account"):
    privacy = app_commands.Group(name="privacy", description="See or delete the data stored about you.")

    def __init__(self, bot: InterviewBot) -> None:
        self.bot = bot

    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return topic_choices(self.bot.runtime.bank.topics, current)

    @app_commands.command(name="history", description="Your recent answers and scores.")
    @app_commands.describe(topic="Only answers to questions of this topic.")
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def history(self, interaction: discord.Interaction, topic: str | None = None) -> None:
        await defer(interaction, ephemeral=_private(interaction), thinking=True)
        runtime = self.bot.runtime
        if topic is not None and topic not in runtime.bank.topics:
            topic = None
        attempts = await runtime.attempts.history(interaction.user.id, topic=topic, limit=HISTORY_LIMIT)
        await _send_pages(interaction, history_pages(runtime.bank, attempts, topic), ephemeral=_private(interaction))

    @app_commands.command(name="progress", description="A chart of your scores over time, per topic.")
    async def progress(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=_private(interaction), thinking=True)
        runtime = self.bot.runtime
        attempts = await runtime.attempts.history(interaction.user.id, limit=PROGRESS_WINDOW)
        stats = await runtime.progress.topic_stats(interaction.user.id)
        if not any(a.grade is not None for a in attempts):
            await send_reply(interaction, "No graded answers yet. Try /practice first!", ephemeral=True)
            return
        titles = {slug: info.title for slug, info in runtime.bank.topics.items()}
        png = await asyncio.to_thread(progress_png, attempts, titles)
        lines = [
            f"**{topic_title(runtime.bank, s.topic)}**: average {s.average:.1f}, best {s.best:.1f} ({s.graded} graded)"
            for s in stats
            if s.average is not None and s.best is not None
        ]
        pages = paginate("Your progress", description="\n".join(lines), colour=BLURPLE)
        pages[0][0].set_image(url="attachment://progress.png")
        await send_reply(
            interaction,
            embeds=pages[0],
            file=discord.File(io.BytesIO(png), filename="progress.png"),
            ephemeral=_private(interaction),
        )
        await _send_pages(interaction, pages[1:], ephemeral=_private(interaction))

    @app_commands.command(name="topics", description="The topics you can practise.")
    async def topics(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True)
        bank = self.bot.runtime.bank
        stats = bank.stats()
        fields = [
            (
                f"{info.title} (`{slug}`)",
                f"{sum(stats[slug].values())} questions" + (f" · {info.description}" if info.description else ""),
            )
            for slug, info in sorted(bank.topics.items())
        ]
        await _send_pages(interaction, paginate(f"{len(bank.topics)} topics", fields=fields, colour=BLURPLE))

    @app_commands.command(name="help", description="What this bot does and how to use it.")
    async def help(self, interaction: discord.Interaction) -> None:
        pages = paginate(
            "Mock interviews for Generative-AI roles",
            description=(
                "Answer interview questions, get graded feedback on the key points, and track your progress. "
                "Every answer is saved before it is graded."
            ),
            fields=HELP,
            colour=BLURPLE,
        )
        await _send_pages(interaction, pages)

    @privacy.command(name="export", description="Download everything stored about you, as a JSON file.")
    async def privacy_export(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True, thinking=True)
        data = await self.bot.runtime.privacy.export_user(interaction.user.id)
        payload = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()
        file = discord.File(io.BytesIO(payload), filename=f"mockinterview-{interaction.user.id}.json")
        await send_reply(interaction, "Here is everything stored about you.", file=file, ephemeral=True)

    @privacy.command(name="forget", description="Delete everything stored about you (asks to confirm first).")
    async def privacy_forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "This deletes all your answers, grades, sessions and review schedule. It can't be undone.",
            view=ForgetConfirmView(self.bot, interaction.user.id),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
