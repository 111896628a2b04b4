"""`mockinterview run`: the Discord bot (needs DISCORD_TOKEN)."""

from __future__ import annotations

import asyncio

import discord
import typer

from bot.cli._app import app, err_console, friendly_errors, load_settings
from bot.settings import Settings


def require_token(settings: Settings) -> str:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        err_console.print(
            "DISCORD_TOKEN is not set. Create a bot in the Discord Developer Portal, copy its token, and set "
            "DISCORD_TOKEN in the environment or a .env file. See docs/discord.md.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)
    return token


async def _run(settings: Settings, token: str) -> None:
    from bot.discord_app.client import InterviewBot
    from bot.discord_app.runtime import open_runtime

    async with open_runtime(settings) as runtime, InterviewBot(runtime) as bot:
        await bot.start(token)


@app.command("run")
@friendly_errors
def run() -> None:
    """Run the Discord bot (grading and feedback delivery run inside it)."""
    settings = load_settings()
    token = require_token(settings)
    try:
        asyncio.run(_run(settings, token))
    except discord.LoginFailure:
        err_console.print("Discord rejected DISCORD_TOKEN (401). Copy the bot token again.", markup=False)
        raise typer.Exit(2) from None
    except discord.PrivilegedIntentsRequired:
        err_console.print(
            "MOCKINTERVIEW_DISCORD_MESSAGE_CONTENT is on, but the Message Content intent is not enabled for the\n"
            "application. Enable it in the Developer Portal (Bot → Privileged Gateway Intents), or turn it off.",
            markup=False,
        )
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass
