"""Study-server commands: /study start|end|share, /settings ..., /bank import|export|remove, /leaderboard; the study
buttons and the private answer modal. Every interaction is acknowledged first; answers go through the durable queue
and their feedback reaches only the member who answered."""

from __future__ import annotations

import asyncio
import io
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.custom_bank import (
    MAX_FILE_BYTES,
    GuildBank,
    export_yaml,
    namespaced,
    public_name,
    validate_import,
)
from bot.core.daily import next_post_at, post_day
from bot.core.errors import UserFacingError
from bot.core.guild_settings import (
    MAX_GUILD_QUOTA,
    MAX_QUOTA,
    DailySettings,
    GuildSettings,
    check_timezone,
    parse_time_of_day,
)
from bot.core.models import AnswerSubmission, CustomQuestion, LeaderboardPeriod, Question
from bot.core.study import MAX_QUESTIONS, MAX_SECONDS, MIN_SECONDS
from bot.discord_app.delivery import interaction_target
from bot.discord_app.embeds import paginate
from bot.discord_app.exts.study import _render
from bot.discord_app.exts.study._engine import StudyEngine, StudyStores
from bot.discord_app.exts.study._views import MODAL_ID, StudyAnswerModal
from bot.discord_app.replies import NO_MENTIONS, defer, send_reply
from bot.discord_app.tasks import spawn
from bot.discord_app.tree import report_error
from bot.discord_app.ui import orphan_modal_submit

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

log = logging.getLogger(__name__)
Difficulty = Literal["beginner", "intermediate", "advanced"]
MANAGE_GUILD = discord.Permissions(manage_guild=True)


def require_manage_guild(interaction: discord.Interaction) -> None:
    """The runtime half of `default_permissions`: a server can re-grant commands, so check again."""
    if interaction.guild_id is None or not interaction.permissions.manage_guild:
        raise UserFacingError("Only members with the Manage Server permission can do that.")


def _guild(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError("That command only works in a server.")
    return interaction.guild_id


class StudyCog(commands.Cog, name="Study"):
    study = app_commands.Group(name="study", description="Study rounds: the channel answers together.", guild_only=True)
    settings = app_commands.Group(
        name="settings",
        description="This server's study settings (Manage Server).",
        guild_only=True,
        default_permissions=MANAGE_GUILD,
    )
    bank = app_commands.Group(
        name="bank",
        description="This server's own questions (Manage Server).",
        guild_only=True,
        default_permissions=MANAGE_GUILD,
    )

    def __init__(self, bot: InterviewBot, stores: StudyStores, bank: GuildBank) -> None:
        self.bot = bot
        self.stores = stores
        self.questions = bank
        self.engine = StudyEngine(bot, stores, bank)
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        if self.bot.background:
            interval = self.bot.runtime.settings.queue_poll_interval_s
            self._task = spawn(self.engine.run(interval), name="study-scheduler")

    async def cog_unload(self) -> None:
        self.engine.stop()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=30)

    # -- autocomplete -------------------------------------------------------------------------------------------

    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        topics = self.questions.topics_for(interaction.guild_id)
        needle = current.casefold()
        choices = [
            app_commands.Choice(name=f"{info.title} ({public_name(slug)})"[:100], value=public_name(slug))
            for slug, info in sorted(topics.items(), key=lambda item: public_name(item[0]))
            if needle in f"{info.title} {slug}".casefold()
        ]
        return choices[:25]

    # -- /study -------------------------------------------------------------------------------------------------

    @study.command(name="start", description="Post questions here; everyone answers privately, then see the results.")
    @app_commands.describe(
        topic="Only questions of this topic (default: this server's allowed topics).",
        difficulty="Only questions of this difficulty (default: the server's).",
        questions=f"How many questions (1-{MAX_QUESTIONS}).",
        seconds=f"Seconds to answer each question ({MIN_SECONDS}-{MAX_SECONDS}).",
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def study_start(
        self,
        interaction: discord.Interaction,
        topic: str | None = None,
        difficulty: Difficulty | None = None,
        questions: app_commands.Range[int, 1, MAX_QUESTIONS] = 5,
        seconds: app_commands.Range[int, MIN_SECONDS, MAX_SECONDS] = 120,
    ) -> None:
        guild_id = _guild(interaction)
        await defer(interaction, ephemeral=True, thinking=True)
        round_ = await self.engine.start_round(
            guild_id=guild_id,
            channel_id=interaction.channel_id or 0,
            host_id=interaction.user.id,
            topic=topic,
            difficulty=difficulty,
            count=questions,
            seconds=seconds,
        )
        await interaction.followup.send(
            f"Study round #{round_.id} started with {round_.total} question(s). You're the host: "
            "Next, Pause and End are on the question.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @study.command(name="end", description="End this channel's study round (host or Manage Server).")
    async def study_end(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True, thinking=True)
        round_ = await self.stores.rounds.live_in_channel(interaction.channel_id or 0)
        if round_ is None or round_.id is None:
            raise UserFacingError("There's no study round running in this channel.")
        reply = await self.engine.control(
            round_.id, "end", interaction.user.id, manage_guild=interaction.permissions.manage_guild
        )
        await interaction.followup.send(reply, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @study.command(name="share", description="Post your latest study feedback here (if the server allows it).")
    @app_commands.describe(include_answer="Also show your answer text (only yours, only if you choose to).")
    async def study_share(self, interaction: discord.Interaction, include_answer: bool = False) -> None:
        guild_id = _guild(interaction)
        settings = await self.engine.guild_settings(guild_id)
        if not settings.public_feedback:
            raise UserFacingError("This server keeps feedback private; a moderator can change that in /settings.")
        await defer(interaction, thinking=True)
        history = await self.bot.runtime.attempts.history(interaction.user.id, limit=50)
        latest = next((a for a in history if a.guild_id == guild_id and a.grade is not None), None)
        if latest is None or latest.grade is None:
            raise UserFacingError("You have no graded answer in this server yet.")
        grade = latest.grade
        lines = [f"**{interaction.user.display_name}** scored **{grade.score:.1f} / 10**"]
        lines += [f"• {kp.verdict.value}: {kp.key_point}" for kp in grade.key_points]
        if include_answer:
            lines.append(f"\n> {latest.answer[:1500]}")
        pages = paginate("Shared feedback", description="\n".join(lines), footer=public_name(latest.question_id))
        await send_reply(interaction, embeds=pages[0], ephemeral=False)

    # -- buttons and the modal ----------------------------------------------------------------------------------

    async def on_button(self, interaction: discord.Interaction, action: str, ref: int, position: int) -> None:
        if action == "answer":
            round_ = await self.stores.rounds.get(ref)
            round_.check_answer(position, self.engine.now())
            question = self.questions.get(round_.question_ids[position])
            await interaction.response.send_modal(StudyAnswerModal("round", ref, position, question.question))
            return
        if action == "daily":
            post = await self.stores.daily.get_post(ref)
            if post.summary_posted_at is not None:
                raise UserFacingError("That daily question is closed; its summary is posted. Try today's!")
            question = self.questions.get(post.question_id)
            await interaction.response.send_modal(StudyAnswerModal("daily", ref, 0, question.question))
            return
        await defer(interaction, ephemeral=True, thinking=True)
        reply = await self.engine.control(
            ref, action, interaction.user.id, manage_guild=interaction.permissions.manage_guild
        )
        await interaction.followup.send(reply, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def submit(self, interaction: discord.Interaction, kind: str, ref: int, position: int, text: str) -> None:
        await defer(interaction, ephemeral=True, thinking=True)
        guild_id = _guild(interaction)
        if not text.strip():
            raise UserFacingError("Your answer is empty.")
        # The daily LLM caps: bot-wide per user, and this server's per member and per server.
        await self.bot.quota.check(interaction.user.id, guild_id, await self.engine.guild_settings(guild_id))
        target = interaction_target(interaction, session_id=None, ephemeral=True, channel_id=None)
        now = self.engine.now()

        def submission_for(question: Question, answer_guild_id: int, kind: str) -> AnswerSubmission:
            return AnswerSubmission(
                user_id=interaction.user.id,
                question_id=question.id,
                topic=question.topic,
                answer=text,
                guild_id=answer_guild_id,
                kind=kind,
                delivery=target,
            )

        if kind == "round":
            round_ = await self.stores.rounds.get(ref)
            round_.check_answer(position, now)
            question = self.questions.get(round_.question_ids[position])
            submission = submission_for(question, round_.guild_id, "study")
            attempt = await self.stores.rounds.submit_answer(round_, submission, elapsed_s=round_.elapsed_s(now))
            after = "The class results come when time is up."
        else:
            post = await self.stores.daily.get_post(ref)
            if post.summary_posted_at is not None:
                raise UserFacingError("That daily question is closed; its summary is posted.")
            question = self.questions.get(post.question_id)
            attempt = await self.stores.daily.submit_answer(post, submission_for(question, post.guild_id, "daily"))
            after = "The summary comes tomorrow."
        self.bot.wake_grading()
        await interaction.followup.send(
            f"✅ Answer saved privately (attempt #{attempt.id}); only you see your feedback. {after}",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """An answer modal opened before a restart is unknown to this process: take the answer anyway."""
        orphan = orphan_modal_submit(self.bot, interaction, MODAL_ID)
        if orphan is None:
            return
        match, text = orphan
        try:
            await self.submit(interaction, match["kind"], int(match["ref"]), int(match["position"]), text)
        except Exception as error:
            await report_error(interaction, error, where="study answer modal (after restart)")

    # -- /leaderboard -------------------------------------------------------------------------------------------

    @app_commands.command(name="leaderboard", description="This server's leaderboard: best score per question.")
    @app_commands.describe(period="This week, this month, or all time (weeks start Monday in the server's timezone).")
    @app_commands.guild_only()
    async def leaderboard(
        self, interaction: discord.Interaction, period: Literal["week", "month", "all"] = "week"
    ) -> None:
        guild_id = _guild(interaction)
        await defer(interaction, thinking=True)
        settings = await self.engine.guild_settings(guild_id)
        entries = await self.bot.runtime.progress.leaderboard(
            guild_id, LeaderboardPeriod(period), limit=20, timezone=settings.timezone
        )
        title = {
            "week": "Leaderboard · this week",
            "month": "Leaderboard · this month",
            "all": "Leaderboard · all time",
        }
        pages = _render.leaderboard(title[period], entries, None)
        await send_reply(interaction, embeds=pages[0], ephemeral=False)
        streak = await self.bot.runtime.progress.streak(interaction.user.id)
        await send_reply(
            interaction,
            f"🔥 Your streak: {streak.current} day(s) (longest {streak.longest}; days in {streak.timezone}).",
            ephemeral=True,
        )

    # -- /settings ----------------------------------------------------------------------------------------------

    async def _update(self, guild_id: int, **changes: Any) -> GuildSettings:  # noqa: ANN401 - settings values
        current = await self.engine.guild_settings(guild_id)
        updated = GuildSettings.model_validate({**current.model_dump(), **changes})
        await self.stores.accounts.update_guild_settings(guild_id, updated.to_stored())
        return updated

    async def _show(self, interaction: discord.Interaction, settings: GuildSettings, note: str) -> None:
        await send_reply(interaction, note, embeds=_render.settings_pages(settings)[0], ephemeral=True)

    @settings.command(name="show", description="Show this server's study settings.")
    async def settings_show(self, interaction: discord.Interaction) -> None:
        require_manage_guild(interaction)
        await self._show(interaction, await self.engine.guild_settings(_guild(interaction)), "Current settings:")

    @settings.command(name="topics", description="Topics rounds and the daily question may use (empty: all).")
    @app_commands.describe(topics="Comma-separated topic slugs, e.g. 'rag, llms'; leave empty to allow every topic.")
    async def settings_topics(self, interaction: discord.Interaction, topics: str = "") -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        known = self.questions.topics_for(guild_id)
        wanted = [t.strip() for t in topics.split(",") if t.strip()]
        resolved = [self.questions.resolve_topic(t, guild_id) or t for t in wanted]
        unknown = [w for w, r in zip(wanted, resolved, strict=True) if r not in known]
        if unknown:
            raise UserFacingError(f"Unknown topic(s): {', '.join(unknown)}. See /topics.")
        await self._show(interaction, await self._update(guild_id, allowed_topics=resolved), "Saved.")

    @settings.command(name="difficulty", description="The default difficulty of study rounds and daily questions.")
    @app_commands.describe(level="Leave empty for any difficulty.")
    async def settings_difficulty(self, interaction: discord.Interaction, level: Difficulty | None = None) -> None:
        require_manage_guild(interaction)
        await self._show(interaction, await self._update(_guild(interaction), default_difficulty=level), "Saved.")

    @settings.command(name="feedback", description="Whether members may post their own feedback publicly.")
    @app_commands.describe(public="Allow /study share (a member shares only their own feedback).")
    async def settings_feedback(self, interaction: discord.Interaction, public: bool) -> None:
        require_manage_guild(interaction)
        await self._show(interaction, await self._update(_guild(interaction), public_feedback=public), "Saved.")

    @settings.command(name="quota", description="Daily limits on AI-graded answers in this server (UTC days).")
    @app_commands.describe(
        per_member="AI-graded answers per member a day; 0 uses only the bot's own limit.",
        per_server="AI-graded answers a day for all members together; 0 removes the limit.",
    )
    async def settings_quota(
        self,
        interaction: discord.Interaction,
        per_member: app_commands.Range[int, 0, MAX_QUOTA] | None = None,
        per_server: app_commands.Range[int, 0, MAX_GUILD_QUOTA] | None = None,
    ) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        changes = {
            key: value
            for key, value in (("llm_quota_per_member", per_member), ("llm_daily_guild_quota", per_server))
            if value is not None
        }
        if not changes:
            await self._show(interaction, await self.engine.guild_settings(guild_id), "Current settings:")
            return
        await self._show(interaction, await self._update(guild_id, **changes), "Saved.")

    @settings.command(name="daily", description="Post a daily question at a local time (in its own thread).")
    @app_commands.describe(
        time="Local time, 24-hour HH:MM (e.g. 09:00).",
        timezone="IANA timezone, e.g. Europe/Berlin or America/New_York.",
        channel="Where to post (default: this channel).",
        topic="Only questions of this topic (default: the allowed topics).",
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def settings_daily(
        self,
        interaction: discord.Interaction,
        time: str,
        timezone: str,
        channel: discord.TextChannel | None = None,
        topic: str | None = None,
    ) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        at, zone = parse_time_of_day(time), check_timezone(timezone)
        resolved = self.questions.resolve_topic(topic, guild_id)
        if resolved is not None and resolved not in self.questions.topics_for(guild_id):
            raise UserFacingError(f"Unknown topic {topic!r}. See /topics.")
        channel_id = channel.id if channel is not None else interaction.channel_id or 0
        daily = DailySettings(channel_id=channel_id, time=at.strftime("%H:%M"), timezone=zone, topic=resolved)
        settings = await self._update(guild_id, daily=daily, timezone=zone)
        due = next_post_at(at, zone, self.engine.now())
        # A day posts once: after today's post, a later time (or a zone further west) starts tomorrow.
        day = post_day(due, zone)
        already = await self.stores.daily.has_post(guild_id, day)
        if already:
            due = next_post_at(at, zone, due)
        await self.stores.daily.set_schedule(
            guild_id, channel_id=channel_id, local_time=daily.time, timezone=zone, topic=resolved, next_post_at=due
        )
        self.engine.wake()
        note = f"Saved. The next daily question is posted {discord.utils.format_dt(due, 'F')}."
        if already:
            note += f" The question for {day.isoformat()} was already posted."
        await self._show(interaction, settings, note)

    @settings.command(name="daily-off", description="Stop posting the daily question.")
    async def settings_daily_off(self, interaction: discord.Interaction) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await self.stores.daily.remove_schedule(guild_id)
        await self.stores.accounts.update_guild_settings(guild_id, {"daily": None})
        await self._show(interaction, await self.engine.guild_settings(guild_id), "The daily question is off.")

    # -- /bank --------------------------------------------------------------------------------------------------

    @bank.command(name="import", description="Add questions from a YAML file (one topic; replaces that topic).")
    @app_commands.describe(file=f"A bank file (YAML, at most {MAX_FILE_BYTES // 1024} KB) in the bank format.")
    async def bank_import(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await defer(interaction, ephemeral=True, thinking=True)
        data = b"x" * (MAX_FILE_BYTES + 1) if file.size > MAX_FILE_BYTES else await file.read()
        report = validate_import(
            data,
            source=file.filename,
            guild_id=guild_id,
            builtin=self.questions,
            existing=await self.stores.custom.count(guild_id),
        )
        if not report.ok or report.topic is None:
            pages = paginate("Import refused", description=report.summary(), colour=discord.Colour.red())
            await send_reply(interaction, embeds=pages[0], ephemeral=True)
            return
        topic = namespaced(guild_id, report.topic)
        stored = [
            CustomQuestion(
                guild_id=guild_id, question_id=q.id, topic=q.topic, body=body, created_by=interaction.user.id
            )
            for q, body in zip(report.questions, report.bodies, strict=True)
        ]
        removed, added = await self.stores.custom.replace_topic(guild_id, topic, stored)
        self.questions.set_topic(guild_id, report.topic, report.questions, title=report.title)
        replaced = f" (replacing {removed})" if removed else ""
        await send_reply(
            interaction,
            f"✅ Imported {added} question(s) into topic `{report.topic}`{replaced}. Only this server sees them.",
            ephemeral=True,
        )

    @bank.command(name="export", description="Download this server's questions as bank YAML files.")
    async def bank_export(self, interaction: discord.Interaction) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await defer(interaction, ephemeral=True, thinking=True)
        by_topic: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for stored in await self.stores.custom.list(guild_id):
            by_topic[public_name(stored.topic)].append(dict(stored.body))
        if not by_topic:
            raise UserFacingError("This server has no questions of its own yet. Add some with /bank import.")
        titles = {public_name(k): v.title for k, v in self.questions.topics_for(guild_id).items()}
        files = [
            discord.File(io.BytesIO(export_yaml(topic, bodies, title=titles.get(topic)).encode()), f"{topic}.yaml")
            for topic, bodies in sorted(by_topic.items())[:10]
        ]
        await interaction.followup.send(
            f"{sum(len(b) for b in by_topic.values())} question(s) in {len(by_topic)} topic(s).",
            files=files,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @bank.command(name="remove", description="Remove one of this server's questions, or a whole topic.")
    @app_commands.describe(target="A question id (topic.slug) or a topic of this server's questions.")
    async def bank_remove(self, interaction: discord.Interaction, target: str) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await defer(interaction, ephemeral=True, thinking=True)
        key = namespaced(guild_id, target.strip())
        removed = await self.stores.custom.remove(guild_id, topic=key)
        if not removed:
            removed = await self.stores.custom.remove(guild_id, question_id=key)
        if not removed:
            raise UserFacingError(f"This server has no question or topic {target!r}. See /bank export.")
        self.questions.remove(guild_id, removed)
        await send_reply(interaction, f"🗑️ Removed {len(removed)} question(s).", ephemeral=True)
