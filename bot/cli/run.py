"""`mockinterview run`: the Discord bot (needs DISCORD_TOKEN), with /metrics and /healthz when
`MOCKINTERVIEW_METRICS_PORT` is set (the same `serve_ops` as `mockinterview worker`).

With `MOCKINTERVIEW_BOT_GRADING=false` it runs no grading loop (`mockinterview worker` processes grade; it still
delivers their feedback, expires idle sessions and serves the ops endpoints).

SIGTERM (or SIGINT) shuts it down gracefully: the grading loop (if any) stops claiming answers, the answers it is
grading get up to `MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S` to finish, whatever is still grading then is handed back to the
queue (the next process grades it at once instead of after the lease), the feedback of the grades that did finish is
delivered while the connection is still open, and the process exits 0. Answers that arrive meanwhile are saved
and queued as always; nothing is lost when the process is killed instead, it only waits for the lease to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import typer

from bot.cli._app import app, err_console, friendly_errors, load_settings
from bot.cli._loop import run_event_loop
from bot.logging_setup import log_context

if TYPE_CHECKING:
    from bot.discord_app.client import InterviewBot
    from bot.ops.server import HealthCheck
    from bot.ops.shutdown import ShutdownSignal
    from bot.settings import Settings

log = logging.getLogger(__name__)

DELIVERY_GRACE_S = 5.0  # after grading drains: at most this long to deliver the feedback that is ready
CLOSE_TIMEOUT_S = 15.0  # and this long for discord.py to close the gateway and the HTTP session


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


async def drain(bot: InterviewBot, timeout_s: float) -> dict[str, int]:
    """Stop grading (finish or release what is in hand within `timeout_s`; nothing to do for a bot that doesn't
    grade), then deliver what is ready."""
    from bot.ops.shutdown import drain_workers, release_leases

    released: dict[str, int] = {}
    if bot.worker_task is not None:
        engine = bot.runtime.queue.engine
        released = await drain_workers(
            [(bot.worker, bot.worker_task)], timeout_s, release=lambda worker_id: release_leases(engine, worker_id)
        )
    if bot.notifier_task is not None:
        bot.notifier.stop()
        try:
            async with asyncio.timeout(DELIVERY_GRACE_S):
                await asyncio.wait({bot.notifier_task})
                while await bot.notifier.run_once():  # the grades that finished while draining
                    pass
        except TimeoutError:
            log.warning("feedback still undelivered after %.0fs; it is delivered after the restart", DELIVERY_GRACE_S)
        except Exception:
            log.exception("delivering the last feedback failed; it is delivered after the restart")
    return released


async def serve(bot: InterviewBot, token: str, stop: ShutdownSignal, timeout_s: float) -> None:
    """Run the bot until it ends by itself (its errors propagate) or `stop` is set; then shut down gracefully."""
    client = asyncio.create_task(bot.start(token), name="discord-client")
    signalled = asyncio.create_task(stop.wait(), name="shutdown-signal")
    try:
        await asyncio.wait({client, signalled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        signalled.cancel()
    if not client.done():
        log.info("shutting down: no new grading; up to %.0fs for the answers being graded", timeout_s)
        released = await drain(bot, timeout_s)
        await bot.close()
        try:
            await asyncio.wait_for(asyncio.shield(client), CLOSE_TIMEOUT_S)
        except TimeoutError:
            client.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client
            return
        log.info("stopped: %d unfinished grading jobs handed back to the queue", sum(released.values()))
    client.result()


def health_check(bot: InterviewBot) -> HealthCheck:
    """`/healthz` of the bot: the database answers (200, else 503), the queue's depth, and this process's facts."""
    from bot.ops.server import HealthCheck

    runtime = bot.runtime

    def facts() -> dict[str, Any]:
        return {
            "role": "bot",
            "gateway": "ready" if bot.is_ready() else "starting",  # READY received at least once
            **bot.shard_info,
            "grader": runtime.grader.name,
            "bot_grading": bot.grades,  # false: workers grade, this process delivers
        }

    return HealthCheck(runtime.queue.engine, runtime.queue.counts, extra=facts)


async def _run(settings: Settings, token: str) -> None:
    # Every log record of a sharded process carries its shard_id (the tasks discord.py starts inherit the context).
    with log_context(shard_id=settings.shard_id):
        await _serve_with_ops(settings, token)


async def _serve_with_ops(settings: Settings, token: str) -> None:
    from bot.discord_app.client import InterviewBot
    from bot.discord_app.runtime import open_runtime
    from bot.ops.server import serve_ops
    from bot.ops.shutdown import ShutdownSignal

    # /metrics and /healthz (MOCKINTERVIEW_METRICS_PORT; 0 = off) from before the login to after the drain.
    async with (
        ShutdownSignal() as stop,
        open_runtime(settings) as runtime,
        InterviewBot(runtime) as bot,
        serve_ops(settings.metrics_port, health_check(bot), host=settings.metrics_host),
    ):
        await serve(bot, token, stop, settings.shutdown_timeout_s)


@app.command("run")
@friendly_errors
def run() -> None:
    """Run the Discord bot (feedback delivery runs inside it, and grading unless MOCKINTERVIEW_BOT_GRADING=false)."""
    import aiohttp
    import discord

    settings = load_settings()
    token = require_token(settings)
    try:
        run_event_loop(_run(settings, token))
    except discord.LoginFailure:
        err_console.print("Discord rejected DISCORD_TOKEN (401). Copy the bot token again.", markup=False)
        raise typer.Exit(2) from None
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound) as exc:
        # At the login (GET /users/@me) or the gateway lookup; once connected, discord.py reconnects by itself. The
        # reason names the host and the socket error, never the token.
        reason = str(exc) or type(exc).__name__
        err_console.print(f"Can't reach Discord: {reason}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except discord.PrivilegedIntentsRequired:
        err_console.print(
            "MOCKINTERVIEW_DISCORD_MESSAGE_CONTENT is on, but the Message Content intent is not enabled for the\n"
            "application. Enable it in the Developer Portal (Bot → Privileged Gateway Intents), or turn it off.",
            markup=False,
        )
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass
