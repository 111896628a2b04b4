"""The study-server extension: study rounds, the daily question, leaderboards, guild settings and custom banks.

Loading it puts a per-guild view of the bank (`GuildBank`) in place of the runtime's bank, for the interview
service too, so a guild's own questions can be practised and graded there (and only there)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.core.custom_bank import GuildBank
from bot.discord_app.exts.study._cog import StudyCog
from bot.discord_app.exts.study._engine import StudyStores, load_custom_questions
from bot.discord_app.exts.study._views import StudyButton
from bot.storage.accounts import SqlAccountRepository
from bot.storage.study import SqlCustomBankRepository, SqlDailyRepository, SqlStudyRepository

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot

log = logging.getLogger(__name__)


async def setup(bot: InterviewBot) -> None:
    runtime = bot.runtime
    engine = runtime.attempts.engine  # the one database; the cog sees repositories only
    clock = runtime.clock
    bank = runtime.bank if isinstance(runtime.bank, GuildBank) else GuildBank(runtime.bank)
    runtime.bank = bank
    runtime.service.bank = bank
    stores = StudyStores(
        rounds=SqlStudyRepository(engine, clock),
        daily=SqlDailyRepository(engine, clock),
        custom=SqlCustomBankRepository(engine, clock),
        accounts=SqlAccountRepository(engine, clock),
    )
    loaded = await load_custom_questions(bank, stores.custom)
    if loaded:
        log.info("loaded %d custom questions of servers", loaded)
    bot.add_dynamic_items(StudyButton)
    await bot.add_cog(StudyCog(bot, stores, bank))
