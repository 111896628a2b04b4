"""The loopback Discord itself: unmodified discord.py logs in, syncs, answers interactions and survives gateway faults.

These tests use a bare `commands.Bot`, so a failure here points at the fake, not at our bot.
"""

from __future__ import annotations

import asyncio
import zlib

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord_server import FakeDiscord


@pytest.fixture
async def fake():
    async with FakeDiscord() as server:
        server.patch_discord()
        yield server


@pytest.fixture
async def bare_bot(fake: FakeDiscord):
    bot = commands.Bot(command_prefix=commands.when_mentioned, intents=discord.Intents.default(), guild_ready_timeout=0)

    @bot.tree.command(description="Answer with a deferred reply, a file followup and an edit.")
    @app_commands.describe(n="Any number.")
    async def ping(interaction: discord.Interaction, n: app_commands.Range[int, 1, 5] = 1) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(f"pong {n}", file=discord.File(__file__, filename="proof.py"), ephemeral=True)
        await interaction.edit_original_response(content="edited")

    async def setup_hook() -> None:
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    task = asyncio.create_task(bot.start(fake.token))
    await fake.wait_ready()
    yield bot
    await bot.close()
    await asyncio.wait_for(task, 10)


async def test_discord_py_logs_in_with_zlib_stream_and_syncs(fake: FakeDiscord, bare_bot: commands.Bot) -> None:
    assert fake.find_calls("GET", "^/users/@me$")
    assert fake.identify_count == 1
    assert fake.gateway_log[0] == ("connect", {"path": "/gateway", "compress": "zlib-stream"})
    assert [c["name"] for c in fake.global_commands] == ["ping"]
    assert bare_bot.is_ready() or await asyncio.wait_for(bare_bot.wait_until_ready(), 5) is None
    assert not fake.unhandled


async def test_deferred_reply_followup_with_file_and_edit_are_recorded(
    fake: FakeDiscord, bare_bot: commands.Bot
) -> None:
    user = fake.make_user("alice")
    interaction = await fake.slash("ping", {"n": 3}, user=user, guild=fake.guild)

    callback = await interaction.wait_callback()
    assert callback.query == {"with_response": "1"}
    assert callback.json == {"type": 5, "data": {"flags": 64}}
    followup = await interaction.wait_webhook("POST")
    assert [f.filename for f in followup.files] == ["proof.py"]
    edit = await interaction.wait_webhook("PATCH", "/messages/@original")
    assert edit.status == 200
    assert interaction.original_message is not None
    assert interaction.original_message["content"] == "edited"


async def test_a_second_callback_is_rejected_like_discord(fake: FakeDiscord, bare_bot: commands.Bot) -> None:
    user = fake.make_user("bob")
    interaction = await fake.slash("ping", user=user)
    await interaction.wait_callback()
    session = bare_bot.http._HTTPClient__session  # type: ignore[attr-defined]
    async with session.post(
        f"{fake.api_base}{interaction.path_prefix}", json={"type": 4, "data": {"content": "x"}}
    ) as r:
        assert r.status == 400
        assert r.headers["Content-Type"] == "application/json"
        assert (await r.json())["code"] == 40060


async def test_unregistered_commands_and_bad_options_are_refused_by_the_driver(fake: FakeDiscord, bare_bot) -> None:
    user = fake.make_user("carol")
    with pytest.raises(AssertionError, match="not registered"):
        await fake.slash("nope", user=user)
    with pytest.raises(AssertionError, match="above max_value"):
        await fake.slash("ping", {"n": 6}, user=user)


@pytest.mark.parametrize("fault", ["reconnect", "drop", "invalidate"])
async def test_bot_recovers_from_gateway_faults_and_keeps_answering(fake: FakeDiscord, bare_bot, fault: str) -> None:
    if fault == "reconnect":
        await fake.gateway_reconnect()
    elif fault == "drop":
        await fake.gateway_drop(4000)
    else:
        await fake.gateway_invalidate()
    await fake.wait_ready()
    if fault == "invalidate":
        assert fake.identify_count == 2
    else:
        assert fake.resume_count == 1
        assert fake.identify_count == 1
    interaction = await fake.slash("ping", user=fake.make_user("dana"))
    assert (await interaction.wait_callback(timeout=10)).status == 200


async def test_events_sent_while_disconnected_are_replayed_on_resume(fake: FakeDiscord, bare_bot) -> None:
    await fake.gateway_drop(4000)
    assert not fake._live.is_set()
    interaction = await fake.slash("ping", user=fake.make_user("erin"), wait=False)  # buffered, not sent

    assert (await interaction.wait_callback(timeout=15)).status == 200
    assert fake.resume_count == 1


async def test_429_with_via_is_retried_by_discord_py(fake: FakeDiscord, bare_bot) -> None:
    fake.fail_next("POST", r"^/webhooks/", status=429, retry_after=0.05)
    interaction = await fake.slash("ping", user=fake.make_user("finn"))
    followups = await fake.wait_until(lambda: [c for c in interaction.webhook_calls() if c.method == "POST"][1:], 10)
    assert [c.status for c in interaction.webhook_calls() if c.method == "POST"] == [429, 200]
    assert followups[0].status == 200


def test_zlib_stream_frames_end_with_sync_flush() -> None:
    compressor = zlib.compressobj()
    frame = compressor.compress(b'{"op":10}') + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert frame.endswith(b"\x00\x00\xff\xff")
