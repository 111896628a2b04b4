"""The account extension: history, progress, topics, privacy and help."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.discord_app.exts.account._cog import AccountCog

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot


async def setup(bot: InterviewBot) -> None:
    await bot.add_cog(AccountCog(bot))
