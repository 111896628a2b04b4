"""`mockinterview sync`: publish the slash commands globally (takes a while to reach every client)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._app import app, friendly_errors, load_settings
from bot.cli.run import require_token

if TYPE_CHECKING:
    from bot.settings import Settings


async def _sync(settings: Settings, token: str, guild_id: int | None) -> int:
    import discord

    from bot.discord_app.client import InterviewBot
    from bot.discord_app.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        bot = InterviewBot(runtime, background=False)
        try:
            await bot.login(token)  # REST only: no gateway connection is needed to sync
            if guild_id is None:
                return len(await bot.tree.sync())
            guild = discord.Object(id=guild_id)
            bot.tree.copy_global_to(guild=guild)
            return len(await bot.tree.sync(guild=guild))
        finally:
            await bot.close()


@app.command("sync")
@friendly_errors
def sync(
    guild: Annotated[
        int | None, typer.Option(help="Sync to this guild only (instant) instead of globally (up to an hour).")
    ] = None,
) -> None:
    """Register the bot's slash commands with Discord (globally, or to one guild)."""
    settings = load_settings()
    token = require_token(settings)
    count = asyncio.run(_sync(settings, token, guild))
    where = f"guild {guild}" if guild else "all servers and DMs (global)"
    typer.echo(f"Synced {count} commands to {where}.")
