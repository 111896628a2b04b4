"""The interview extension: sessions, buttons, the answer modal and typed answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.discord_app.exts.interview._cog import InterviewCog

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot


async def setup(bot: InterviewBot) -> None:
    await bot.add_cog(InterviewCog(bot))
