"""The study engine over Discord: running a round's steps, posting the daily question and its summary, and the one
scheduler loop that drives both from the injected clock (no task per round, no in-memory timers: every timer is a
column in the database, so a restart picks up where it stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import discord

from bot.core.custom_bank import GuildBank, public_name, question_from_body
from bot.core.daily import RECENT_DAYS, choose_daily_question, is_stale, next_post_at, post_day
from bot.core.errors import NoQuestionsError, UserFacingError
from bot.core.guild_settings import GuildSettings, parse_time_of_day
from bot.core.models import Question
from bot.core.study import Step, StudyRound, check_control, question_results, round_standings
from bot.discord_app.exts.study import _render
from bot.discord_app.exts.study._views import daily_buttons, question_buttons
from bot.discord_app.replies import NO_MENTIONS
from bot.pipeline import default_worker_id
from bot.storage.accounts import SqlAccountRepository
from bot.storage.study import (
    DailyPost,
    DailySchedule,
    SqlCustomBankRepository,
    SqlDailyRepository,
    SqlStudyRepository,
)

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

log = logging.getLogger(__name__)
Pages = _render.Pages


@dataclass(frozen=True)
class StudyStores:
    rounds: SqlStudyRepository
    daily: SqlDailyRepository
    custom: SqlCustomBankRepository
    accounts: SqlAccountRepository


class StudyEngine:
    def __init__(self, bot: InterviewBot, stores: StudyStores, bank: GuildBank) -> None:
        self.bot = bot
        self.stores = stores
        self.bank = bank
        self.owner = default_worker_id("study")
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def now(self) -> datetime:
        return self.bot.clock.now()

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        return GuildSettings.from_stored(await self.stores.accounts.guild_settings(guild_id))

    def lock(self, round_id: int) -> asyncio.Lock:
        """Round steps (scheduler and host buttons) run one at a time per round in this process."""
        return self._locks[round_id]

    # -- choosing questions -------------------------------------------------------------------------------------

    def pool(self, guild_id: int, settings: GuildSettings, topic: str | None, difficulty: str | None) -> list[Question]:
        settings.check_topic(self.bank.resolve_topic(topic, guild_id))
        questions = self.bank.filter(topic, difficulty, guild_id=guild_id)
        allowed = [q for q in questions if settings.topic_allowed(q.topic)]
        if not allowed:
            raise NoQuestionsError("No question matches that topic and difficulty (and this server's allowed topics).")
        return allowed

    # -- Discord plumbing ---------------------------------------------------------------------------------------

    async def channel(self, channel_id: int) -> discord.abc.Messageable | None:
        return await self.bot.messageable(channel_id)

    async def send(self, channel_id: int, pages: Pages, view: discord.ui.View | None = None) -> discord.Message | None:
        channel = await self.channel(channel_id)
        if channel is None:
            log.warning("study channel %s is gone", channel_id)
            return None
        message = None
        for index, embeds in enumerate(pages):
            last = index == len(pages) - 1
            if last and view is not None:
                message = await channel.send(embeds=embeds, view=view, allowed_mentions=NO_MENTIONS)
            else:
                message = await channel.send(embeds=embeds, allowed_mentions=NO_MENTIONS)
        return message

    async def edit(self, round_: StudyRound, pages: Pages, view: discord.ui.View | None) -> None:
        if round_.message_id is None:
            return
        channel = await self.channel(round_.channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        try:
            await channel.get_partial_message(round_.message_id).edit(
                embeds=pages[0], view=view, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException:
            log.info("could not edit the message of study round %s", round_.id)

    # -- rounds -------------------------------------------------------------------------------------------------

    async def start_round(
        self,
        *,
        guild_id: int,
        channel_id: int,
        host_id: int,
        topic: str | None,
        difficulty: str | None,
        count: int,
        seconds: int,
    ) -> StudyRound:
        settings = await self.guild_settings(guild_id)
        level = difficulty or (settings.default_difficulty.value if settings.default_difficulty else None)
        pool = self.pool(guild_id, settings, topic, level)
        chosen = random.Random().sample(pool, min(count, len(pool)))
        now = self.now()
        round_ = await self.stores.rounds.create(
            StudyRound(
                guild_id=guild_id,
                channel_id=channel_id,
                host_id=host_id,
                question_ids=[q.id for q in chosen],
                seconds=seconds,
                topic=topic,
                difficulty=level,
                created_at=now,
            )
        )
        async with self.lock(round_.id or 0):
            round_.start(now)
            await self.stores.rounds.save(round_)
            await self._ask(round_)
        self.wake()
        return round_

    async def _ask(self, round_: StudyRound) -> None:
        question = self.bank.get(round_.current_question_id or "")
        message = await self.send(
            round_.channel_id,
            _render.round_question(round_, question, now=self.now()),
            question_buttons(round_.id or 0, round_.position),
        )
        round_.message_id = message.id if message else None
        await self.stores.rounds.save(round_)

    async def step(self, round_id: int, forced: Step | None = None) -> StudyRound:
        """Do what the round needs now (or what the host asked for). Call with the round's lock held."""
        round_ = await self.stores.rounds.get(round_id)
        if not round_.live:
            return round_
        now = self.now()
        answers = await self.stores.rounds.answers(round_id, round_.position)
        step = forced or round_.tick(now, all_graded=all(a.settled for a in answers))
        question = self.bank.get(round_.current_question_id or "")
        if step == Step.CLOSE:
            round_.close(now)
            await self.stores.rounds.save(round_)
            await self.edit(
                round_,
                _render.round_closed(round_, question, len(answers)),
                question_buttons(round_id, round_.position, open_=False),
            )
            self.bot.wake_grading()
        elif step == Step.REVEAL:
            outcome = question_results(question.id, question.key_points, answers)
            title = f"Results · question {round_.number} of {round_.total}"
            await self.send(round_.channel_id, _render.results(title, question, outcome))
            round_.mark_revealed(now)
            await self.stores.rounds.save(round_)
            if not round_.live:
                await self.finish(round_)
        elif step == Step.ADVANCE:
            await self.edit(round_, _render.round_closed(round_, question, len(answers)), None)
            round_.advance(now)
            await self.stores.rounds.save(round_)
            await self._ask(round_)
        return round_

    async def finish(self, round_: StudyRound) -> None:
        """The round is over: remove its buttons and post the final standings."""
        question = self.bank.get(round_.current_question_id or round_.question_ids[0])
        await self.edit(round_, _render.round_over(round_, question), None)
        answers = await self.stores.rounds.answers(round_.id or 0)
        await self.send(round_.channel_id, _render.standings(round_, round_standings(answers)))

    async def control(self, round_id: int, action: str, user_id: int, *, manage_guild: bool) -> str:
        """A host control (next, pause, resume, end); returns what to tell the presser."""
        async with self.lock(round_id):
            round_ = await self.stores.rounds.get(round_id)
            check_control(round_, user_id, manage_guild=manage_guild)
            if not round_.live:
                raise UserFacingError("This study round has already ended.")
            now = self.now()
            question = self.bank.get(round_.current_question_id or round_.question_ids[0])
            if action == "next":
                await self.step(round_id, round_.host_next())
                reply = "⏭️ Moving on."
            elif action == "pause":
                round_.pause(now)
                await self.stores.rounds.save(round_)
                await self.edit(
                    round_,
                    _render.round_paused(round_, question),
                    question_buttons(round_id, round_.position, paused=True),
                )
                reply = "⏸️ Paused. Press Resume to carry on."
            elif action == "resume":
                round_.resume(now)
                await self.stores.rounds.save(round_)
                collecting = round_.state.value == "collecting"
                if collecting:
                    pages = _render.round_question(round_, question, now=now)
                else:
                    answered = len(await self.stores.rounds.answers(round_id, round_.position))
                    pages = _render.round_closed(round_, question, answered)
                await self.edit(round_, pages, question_buttons(round_id, round_.position, open_=collecting))
                reply = "▶️ Resumed."
            elif action == "end":
                round_.end(now)
                await self.stores.rounds.save(round_)
                await self.finish(round_)
                reply = "🛑 Round ended."
            else:  # pragma: no cover - the button template admits only these
                raise ValueError(action)
        self.wake()
        return reply

    # -- the daily question -------------------------------------------------------------------------------------

    async def post_daily(self, schedule: DailySchedule, now: datetime) -> None:
        """Post the guild's question for the schedule's day (once: the claim is a unique insert), then move on."""
        due, tz = schedule.next_post_at, schedule.timezone
        following = next_post_at(parse_time_of_day(schedule.local_time), tz, max(now, due))
        try:
            if is_stale(due, now, tz):
                log.info("daily question of guild %s for %s skipped: the bot was down", schedule.guild_id, due)
            else:
                await self._post_day(schedule, post_day(due, tz))
        finally:
            await self.stores.daily.reschedule(schedule.guild_id, due, following)

    async def _post_day(self, schedule: DailySchedule, day: date) -> None:
        guild_id = schedule.guild_id
        await self.summarise(guild_id, before=day)
        settings = await self.guild_settings(guild_id)
        try:
            level = settings.default_difficulty.value if settings.default_difficulty else None
            pool = [q.id for q in self.pool(guild_id, settings, schedule.topic, level)]
        except UserFacingError:
            log.warning("guild %s has no question for its daily post", guild_id)
            return
        recent = [p.question_id for p in await self.stores.daily.posts(guild_id, limit=RECENT_DAYS)]
        question_id = choose_daily_question(pool, guild_id, day, recent)
        claim = await self.stores.daily.claim(
            guild_id, day, question_id=question_id, channel_id=schedule.channel_id, owner=self.owner
        )
        if claim.post is None:
            return  # another process (or this one before a restart) posted today's question
        await self._publish(claim.post)

    async def _publish(self, post: DailyPost) -> None:
        question = self.bank.get(post.question_id)
        channel = await self.channel(post.channel_id)
        if not isinstance(channel, discord.TextChannel):
            log.warning("daily question of guild %s: channel %s is gone", post.guild_id, post.channel_id)
            await self.stores.daily.mark_failed(post.id)
            return
        try:
            thread = await channel.create_thread(
                name=f"Daily question · {post.local_date.isoformat()}",
                type=discord.ChannelType.public_thread,
                auto_archive_duration=1440,
            )
            pages = _render.daily_question(question, post.local_date.isoformat())
            message = None
            for index, embeds in enumerate(pages):
                view = daily_buttons(post.id) if index == len(pages) - 1 else None
                if view is not None:
                    message = await thread.send(embeds=embeds, view=view, allowed_mentions=NO_MENTIONS)
                else:
                    message = await thread.send(embeds=embeds, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.warning("daily question of guild %s could not be posted in %s", post.guild_id, post.channel_id)
            await self.stores.daily.mark_failed(post.id)
            return
        await self.stores.daily.mark_posted(post.id, thread_id=thread.id, message_id=message.id if message else None)

    async def summarise(self, guild_id: int, *, before: date) -> None:
        """Post the summary of every earlier day not yet summarised (each claimed once)."""
        for post in await self.stores.daily.unsummarised(guild_id, before):
            if not await self.stores.daily.mark_summarised(post.id):
                continue
            try:
                question = self.bank.get(post.question_id)
            except UserFacingError:
                continue  # a custom question removed since
            answers = await self.stores.daily.answers(post.id)
            outcome = question_results(question.id, question.key_points, answers)
            title = f"Daily question · {post.local_date.isoformat()} · summary"
            await self.send(post.thread_id or post.channel_id, _render.results(title, question, outcome))

    # -- the scheduler loop -------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def tick(self) -> None:
        """One pass: every round whose timer is due (or that waits for grades), every due daily post."""
        now = self.now()
        for round_ in await self.stores.rounds.timed(now):
            try:
                async with self.lock(round_.id or 0):
                    await self.step(round_.id or 0)
            except Exception:
                log.exception("study round %s failed a step", round_.id)
        for schedule in await self.stores.daily.due_schedules(now):
            try:
                await self.post_daily(schedule, now)
            except Exception:
                log.exception("daily question of guild %s failed", schedule.guild_id)

    async def run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("study scheduler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()


async def load_custom_questions(bank: GuildBank, custom: SqlCustomBankRepository) -> int:
    """Fill the bank view with every guild's stored questions (at start)."""
    by_topic: defaultdict[tuple[int, str], list[Question]] = defaultdict(list)
    for stored in await custom.list():
        question = question_from_body(stored.guild_id, stored.body)
        if question is not None:
            by_topic[(stored.guild_id, stored.topic)].append(question)
    for (guild_id, topic), questions in by_topic.items():
        bank.set_topic(guild_id, public_name(topic), questions)
    return sum(len(q) for q in by_topic.values())
