"""Slash commands that run sessions: /interview start|end, /practice, /review; typed answers; orphaned modals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.session import Mode
from bot.discord_app.exts.interview._flow import topic_choices
from bot.discord_app.exts.interview._modals import MODAL_ID, modal_item
from bot.discord_app.tree import report_error
from bot.discord_app.ui import orphan_modal_submit

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

Difficulty = Literal["beginner", "intermediate", "advanced"]


class InterviewCog(commands.Cog, name="Interview"):
    interview = app_commands.Group(name="interview", description="Run a mock interview of several questions.")

    def __init__(self, bot: InterviewBot) -> None:
        self.bot = bot

    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return topic_choices(self.bot.runtime.bank.topics, current)

    @interview.command(name="start", description="Start a mock interview (a private thread in servers).")
    @app_commands.describe(
        topic="Only questions of this topic (default: a mix, weighted to your weak spots).",
        difficulty="Only questions of this difficulty.",
        questions="How many main questions (1-10).",
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def interview_start(
        self,
        interaction: discord.Interaction,
        topic: str | None = None,
        difficulty: Difficulty | None = None,
        questions: app_commands.Range[int, 1, 10] = 5,
    ) -> None:
        await self.bot.flow.start(interaction, Mode.INTERVIEW, topic=topic, difficulty=difficulty, count=questions)

    @interview.command(name="end", description="End your interview here now and get its report.")
    async def interview_end(self, interaction: discord.Interaction) -> None:
        await self.bot.flow.end_active(interaction)

    @app_commands.command(name="practice", description="Answer one question and get feedback.")
    @app_commands.describe(topic="Only questions of this topic.", difficulty="Only questions of this difficulty.")
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def practice(
        self, interaction: discord.Interaction, topic: str | None = None, difficulty: Difficulty | None = None
    ) -> None:
        await self.bot.flow.start(interaction, Mode.PRACTICE, topic=topic, difficulty=difficulty, count=1)

    @app_commands.command(name="review", description="Review the questions you are about to forget.")
    @app_commands.describe(questions="How many due questions to review (1-10).")
    async def review(self, interaction: discord.Interaction, questions: app_commands.Range[int, 1, 10] = 5) -> None:
        await self.bot.flow.start(interaction, Mode.REVIEW, count=questions)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await self.bot.flow.on_message(message)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """An answer modal opened before a restart is unknown to this process: take the answer anyway."""
        orphan = orphan_modal_submit(self.bot, interaction, MODAL_ID)
        if orphan is None:
            return
        match, text = orphan
        try:
            await self.bot.flow.submit_from_modal(interaction, int(match["session_id"]), text, item=modal_item(match))
        except Exception as error:
            await report_error(interaction, error, where="answer modal (after restart)")
