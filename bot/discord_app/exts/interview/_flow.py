"""The interview flow over Discord: where a session runs, and what each command, button, modal and message does.

Every interaction is acknowledged first (a deferral, or the modal itself), then the engine is called, then the
result is rendered. Answers are saved and queued; the grade arrives later through `FeedbackDeliverer`.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from bot.core.errors import SessionAlreadyActiveError, UserFacingError
from bot.core.models import SessionRecord, Transport
from bot.core.question_bank import TopicInfo
from bot.core.service import (
    InterviewService,
    NothingDueError,
    NotYourSessionError,
    SessionView,
    Where,
    check_item,
)
from bot.core.session import Mode, SessionState
from bot.discord_app.delivery import interaction_target, message_target, send_pages_through
from bot.discord_app.embeds import CONTENT_LIMIT, paginate, trim
from bot.discord_app.exts.interview._modals import ANSWER_MAX_CHARS, AnswerModal, modal_guild
from bot.discord_app.exts.interview._render import (
    Pages,
    question_message,
    report_pages,
    reveal_message,
    share_embed,
)
from bot.discord_app.replies import NO_MENTIONS, defer, send_reply
from bot.discord_app.tree import error_reply
from bot.ops import metrics

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

log = logging.getLogger(__name__)
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a day of inactivity


class InterviewFlow:
    def __init__(self, bot: InterviewBot) -> None:
        self.bot = bot

    @property
    def service(self) -> InterviewService:
        return self.bot.runtime.service

    # -- where ----------------------------------------------------------------------------------------------

    @staticmethod
    def context_of(interaction: discord.Interaction) -> tuple[str, Transport]:
        """The session context key and default transport for where this interaction happened."""
        if interaction.guild_id is not None:
            return f"guild:{interaction.guild_id}", Transport.CHANNEL
        if interaction.context.dm_channel:
            return "dm", Transport.DM
        # A user-installed app in someone else's DM or a group DM: only interaction replies reach the user.
        return f"private:{interaction.channel_id}", Transport.CHANNEL

    @staticmethod
    def ephemeral_for(transport: Transport) -> bool:
        return transport == Transport.CHANNEL

    async def _open_thread(self, interaction: discord.Interaction) -> discord.Thread | None:
        channel = interaction.channel
        perms = interaction.app_permissions
        if not self.bot.runtime.settings.discord_use_threads or not isinstance(channel, discord.TextChannel):
            return None
        if not (perms.create_private_threads and perms.send_messages_in_threads):
            return None
        try:
            thread = await channel.create_thread(
                name=trim(f"Mock interview · {interaction.user.display_name}", 100),
                type=discord.ChannelType.private_thread,
                invitable=False,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
            await thread.add_user(interaction.user)
        except discord.HTTPException as error:
            log.info("no private thread in channel %s (%s); using ephemeral replies", channel.id, error.status)
            return None
        return thread

    # -- starting -------------------------------------------------------------------------------------------

    async def start(
        self,
        interaction: discord.Interaction,
        mode: Mode,
        *,
        topic: str | None = None,
        difficulty: str | None = None,
        count: int = 5,
    ) -> None:
        context, transport = self.context_of(interaction)
        await defer(interaction, ephemeral=self.ephemeral_for(transport), thinking=True)
        active = await self.service.active(interaction.user.id, context)
        if active is not None and active.record.id is not None and _finished_practice(active):
            await self.service.end(active.record.id, interaction.user.id)  # its feedback is shown: make room
        elif active is not None:
            raise SessionAlreadyActiveError(active.record.id)
        if mode == Mode.REVIEW and not await self.service.anything_due(interaction.user.id):
            raise NothingDueError  # before opening a thread for nothing
        thread = None
        if interaction.guild_id is not None and mode != Mode.PRACTICE:
            thread = await self._open_thread(interaction)
        where = Where(
            context=context,
            transport=Transport.THREAD if thread else transport,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            thread_id=thread.id if thread else None,
        )
        try:
            view = await self.service.start(
                interaction.user.id, where, mode, topic=topic, difficulty=difficulty, count=count
            )
        except Exception:
            if thread is not None:
                await _quietly_delete(thread)
            raise
        try:
            if view.prompt is None:  # a new session always asks its first question
                raise RuntimeError(f"session {view.record.id} started without a question")
            pages, buttons = question_message(self.bot.runtime.bank, view.prompt, typed_answers=self._typed(where))
            if thread is not None:
                await send_pages_through(thread.send, pages, buttons)
            else:
                await self.send_pages(interaction, pages, buttons, ephemeral=self.ephemeral_for(where.transport))
        except Exception:
            # An interview whose question was never shown would only block the next /interview start here.
            await self._undo_start(view, interaction.user.id, thread)
            raise
        if thread is not None:
            await interaction.followup.send(
                f"Your interview is ready in {thread.mention}. Good luck!", ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    async def _undo_start(self, view: SessionView, user_id: int, thread: discord.Thread | None) -> None:
        if view.record.id is not None:
            try:
                await self.service.end(view.record.id, user_id)
            except Exception:  # the error that brought us here is the one to report
                log.exception("could not end session %s whose first question was not shown", view.record.id)
        if thread is not None:
            await _quietly_delete(thread)

    def _typed(self, where: Where) -> bool:
        """Whether a plain message counts as an answer where this session runs."""
        if where.transport == Transport.DM:
            return True
        return where.transport == Transport.THREAD and self.bot.runtime.settings.discord_message_content

    async def end_active(self, interaction: discord.Interaction) -> None:
        context, transport = self.context_of(interaction)
        await defer(interaction, ephemeral=self.ephemeral_for(transport), thinking=True)
        active = await self.service.active(interaction.user.id, context)
        if active is None or active.record.id is None:
            raise UserFacingError("You have no interview running here.")
        view = await self.service.end(active.record.id, interaction.user.id)
        await self.present(interaction, view)

    # -- buttons --------------------------------------------------------------------------------------------

    async def on_button(
        self, interaction: discord.Interaction, action: str, session_id: int, item: int | None = None
    ) -> None:
        """`item`: the session item the button was shown for (None on buttons from before items were named)."""
        if action == "answer":
            await self.open_answer_modal(interaction, session_id, item)
            return
        if action == "hint":
            await defer(interaction, ephemeral=True, thinking=True)
            hint = await self.service.hint(session_id, interaction.user.id, item=item)
            await self._send_hint(interaction, hint)
            return
        await defer(interaction)  # a deferred update of the message holding the button
        user_id = interaction.user.id
        if action == "skip":
            view = await self.service.skip(session_id, user_id, item=item)
        elif action == "reveal":
            question, view = await self.service.reveal(session_id, user_id, item=item)
            await self._retire_buttons(interaction)
            pages, buttons = reveal_message(question, view)
            await self.send_pages(interaction, pages, buttons, ephemeral=self._ephemeral_view(view))
            return
        elif action == "next":
            view = await self.service.next(session_id, user_id, item=item)
        elif action == "retry":
            view = await self.service.retry(session_id, user_id, item=item)
        elif action == "end":
            view = await self.service.end(session_id, user_id)
        else:  # pragma: no cover - the DynamicItem template only admits known actions
            raise ValueError(action)
        await self._retire_buttons(interaction)
        await self.present(interaction, view)

    async def _send_hint(self, interaction: discord.Interaction, hint: str) -> None:
        text = f"💡 {hint}"
        if len(text) <= CONTENT_LIMIT:
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        # A moderator's question may carry a hint longer than a message: embed descriptions take 4,096 characters.
        await self.send_pages(interaction, paginate("💡 Hint", description=hint), None, ephemeral=True)

    async def _retire_buttons(self, interaction: discord.Interaction) -> None:
        """Remove the buttons from the message that was acted on, so old questions can't be pressed again."""
        try:
            await interaction.edit_original_response(view=None)
        except discord.HTTPException:
            log.debug("could not remove buttons from message of interaction %s", interaction.id)

    def _ephemeral_view(self, view: SessionView) -> bool:
        return self.ephemeral_for(view.record.transport)

    async def present(self, interaction: discord.Interaction, view: SessionView) -> None:
        """Show what the session needs now: the next question, or the report once it is over."""
        ephemeral = self._ephemeral_view(view)
        bank = self.bot.runtime.bank
        if view.prompt is not None:
            where = Where(view.record.context, view.record.transport, thread_id=view.record.thread_id)
            pages, buttons = question_message(bank, view.prompt, typed_answers=self._typed(where))
            await self.send_pages(interaction, pages, buttons, ephemeral=ephemeral)
        elif view.report is not None:
            await self.send_pages(interaction, report_pages(bank, view.report, view.session), None, ephemeral=ephemeral)
        elif view.session.state == SessionState.GRADING:
            await send_reply(interaction, "Your answer is being graded; the feedback will follow.", ephemeral=True)

    async def send_pages(
        self, interaction: discord.Interaction, pages: Pages, buttons: discord.ui.View | None, *, ephemeral: bool
    ) -> None:
        for index, embeds in enumerate(pages):
            last = index == len(pages) - 1
            await send_reply(interaction, embeds=embeds, view=buttons if last else None, ephemeral=ephemeral)

    async def share(self, interaction: discord.Interaction, attempt_id: int) -> None:
        attempt = await self.bot.runtime.attempts.get_attempt(attempt_id)
        if attempt.user_id != interaction.user.id:
            raise UserFacingError("Only the person who answered can share this score.")
        embed = share_embed(self.bot.runtime.bank, attempt, interaction.user.display_name)
        await interaction.response.send_message(embed=embed, ephemeral=False, allowed_mentions=NO_MENTIONS)

    # -- answering ------------------------------------------------------------------------------------------

    async def open_answer_modal(self, interaction: discord.Interaction, session_id: int, item: int | None) -> None:
        # The modal must be the first response, so only one quick read happens before it.
        view = await self.service.get(session_id)
        if view.record.user_id != interaction.user.id:
            raise NotYourSessionError()
        if view.session.live:  # an ended or expired interview says so below, whichever question this was
            check_item(view.session, item)
        if view.prompt is None:
            state = view.session.state
            if state == SessionState.GRADING:
                text = "Your answer is being graded; the feedback will follow."
            elif state == SessionState.EXPIRED:
                text = "This interview ended after a long pause. Start a new one with /interview start."
            else:
                text = "There's no question waiting for an answer in this interview right now."
            raise UserFacingError(text)
        # The form names the item it is for (even from an old button that names none): its answer is stored only
        # while the session is still on that item.
        # A server's session answered elsewhere (its feedback may have moved to the user's DM) is still capped by
        # that server: the form names it.
        guild_id = view.record.guild_id
        elsewhere = guild_id if guild_id is not None and guild_id != interaction.guild_id else None
        modal = AnswerModal(session_id, view.prompt.item_index, view.prompt.item.prompt, elsewhere_guild=elsewhere)
        await interaction.response.send_modal(modal)

    @staticmethod
    def ephemeral_reply(interaction: discord.Interaction) -> bool:
        """Whether the reply to a modal submit is private, decided without the database: like the question message
        the modal was opened from (its flags say how the session's transport renders), else private in servers."""
        if interaction.message is not None:
            return interaction.message.flags.ephemeral
        return interaction.guild_id is not None or not interaction.context.dm_channel

    async def submit_from_modal(
        self, interaction: discord.Interaction, session_id: int, text: str, *, item: int | None = None
    ) -> None:
        with self.bot.saving_an_answer():  # a shutdown lets the save and its reply finish first
            await self._submit_from_modal(interaction, session_id, text, item=item)

    async def _submit_from_modal(
        self, interaction: discord.Interaction, session_id: int, text: str, *, item: int | None = None
    ) -> None:
        # Acknowledge first: in a burst of submits the database work queues up, and Discord allows only 3 s.
        ephemeral = self.ephemeral_reply(interaction)
        await defer(interaction, ephemeral=ephemeral, thinking=True)
        # The daily LLM caps of the session's server: the one the form names, else the one it was submitted in (its
        # question message is there), checked before the one transaction that reads, checks and saves the session.
        guild_id = modal_guild(interaction)
        if guild_id is None:
            guild_id = interaction.guild_id

        def target(record: SessionRecord) -> dict[str, object]:
            channel_id = record.thread_id if record.transport == Transport.THREAD else record.channel_id
            return interaction_target(
                interaction,
                session_id=session_id,
                ephemeral=self.ephemeral_for(record.transport),
                channel_id=channel_id if record.transport in (Transport.THREAD, Transport.DM) else None,
            )

        try:
            await self.bot.quota.check(interaction.user.id, guild_id)
            attempt = await self.service.submit_answer(
                session_id, interaction.user.id, text, item=item, delivery=target
            )
        except Exception as error:
            # Refused or failed: the form is gone, so the user gets the text they typed back with the reason.
            await self._give_back(interaction, error_reply(interaction, error, where="answer modal"), text)
            return
        self.bot.wake_grading()
        await interaction.followup.send(
            f"✅ Answer saved ({len(text)} characters, attempt #{attempt.id}). Grading it now; the feedback follows.",
            ephemeral=ephemeral,  # the first followup takes the place of the deferral, and its privacy
            allowed_mentions=NO_MENTIONS,
        )

    async def _give_back(self, interaction: discord.Interaction, notice: str, answer: str) -> None:
        try:
            for content in given_back(notice, answer):
                await send_reply(interaction, content, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not give user %s their answer back", interaction.user.id, exc_info=True)

    async def on_message(self, message: discord.Message) -> None:
        """A plain message is an answer in the user's DM, and in their interview thread when content is readable."""
        if message.author.bot or not message.content.strip():
            return
        with self.bot.saving_an_answer():  # a shutdown lets the save and its reply finish first
            await self._answer_from_message(message)

    async def _answer_from_message(self, message: discord.Message) -> None:
        if message.guild is None and isinstance(message.channel, discord.DMChannel):
            context = "dm"
        elif message.guild is not None and isinstance(message.channel, discord.Thread):
            context = f"guild:{message.guild.id}"
        else:
            return
        view = await self.service.active(message.author.id, context)
        if view is None or view.record.id is None:
            return
        if context != "dm" and view.record.thread_id != message.channel.id:
            return
        if view.prompt is None:
            if view.session.state == SessionState.FEEDBACK:
                await message.reply("Press **Next** to continue (or **End**).", allowed_mentions=NO_MENTIONS)
            return
        try:
            self.bot.rate_limiter.hit(message.author.id)
            await self.bot.quota.check(message.author.id, view.record.guild_id)
            target = message_target(message, session_id=view.record.id)
            attempt = await self.service.submit_to(view, message.content, delivery=target)
        except UserFacingError as error:
            await message.reply(error.message, allowed_mentions=NO_MENTIONS)
            return
        except Exception:
            error_id = secrets.token_hex(4)
            metrics.count_error("message")
            log.exception("error %s handling a typed answer from user %s", error_id, message.author.id)
            await message.reply(
                f"Something went wrong on our side (error `{error_id}`). Try again.", allowed_mentions=NO_MENTIONS
            )
            return
        self.bot.wake_grading()
        await message.reply(typed_answer_saved(len(message.content), attempt.id), allowed_mentions=NO_MENTIONS)


def typed_answer_saved(length: int, attempt_id: int) -> str:
    """The reply to a typed answer; one longer than the Answer form allows is kept whole, and the user is told
    how to get a complete grade next time (graders may read only the start of a very long answer)."""
    text = f"✅ Answer saved ({length:,} characters, attempt #{attempt_id}). Grading it now; the feedback follows."
    if length > ANSWER_MAX_CHARS:
        text += (
            f"\nIt is longer than the {ANSWER_MAX_CHARS:,} characters the **Answer** form takes. All of it is kept in "
            "your /history, but a very long answer may be graded on its first part only: for a complete grade, "
            f"answer in at most {ANSWER_MAX_CHARS:,} characters."
        )
    return text


GIVEN_BACK = "Your answer, so that you don't lose it:"
CODE_BLOCK = "```\n{}\n```"


def given_back(notice: str, answer: str) -> list[str]:
    """`notice`, then `answer` in code blocks (easy to copy), as messages within Discord's content limit."""
    if not answer.strip():
        return [notice]
    text = re.sub(r"(?<=``)`", "\u200b`", answer)  # no run of three backticks to end a block early
    messages = [f"{notice}\n{GIVEN_BACK}"]
    block_room = CONTENT_LIMIT - len(CODE_BLOCK.format(""))
    while text:
        room = CONTENT_LIMIT - len(messages[-1]) - 1 - len(CODE_BLOCK.format(""))
        if room < block_room // 4:  # too little left in this message: start the next
            messages.append("")
            room = block_room
        piece = _piece(text, room)
        block = CODE_BLOCK.format(piece)
        messages[-1] = f"{messages[-1]}\n{block}" if messages[-1] else block
        text = text[len(piece) :]
    return messages


def _piece(text: str, limit: int) -> str:
    """The start of `text` up to `limit` characters, cut after a line break when one is in its second half."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit) + 1
    return text[: cut if cut > limit // 2 else limit]


def _finished_practice(view: SessionView) -> bool:
    """A one-question practice whose feedback is out: starting another one simply replaces it."""
    return view.session.mode == Mode.PRACTICE and view.session.state == SessionState.FEEDBACK


async def _quietly_delete(thread: discord.Thread) -> None:
    try:
        await thread.delete()
    except discord.HTTPException:
        log.debug("could not delete thread %s", thread.id)


def topic_choices(topics: Mapping[str, TopicInfo], current: str) -> list[app_commands.Choice[str]]:
    """Topic autocomplete: "Title (slug)" labels containing `current` (case-insensitive), at most 25."""
    needle = current.casefold()
    labels = {f"{info.title} ({slug})": slug for slug, info in sorted(topics.items())}
    return [
        app_commands.Choice(name=label[:100], value=slug)
        for label, slug in labels.items()
        if needle in label.casefold()
    ][:25]
