"""`mockinterview run` as a user runs it: a subprocess that logs in to the loopback Discord and serves a command."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.helpers import mockinterview_command, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def bot_env(cli_env: dict[str, str], fake: FakeDiscord) -> dict[str, str]:
    return {
        **cli_env,
        "DISCORD_TOKEN": fake.token,
        "MOCKINTERVIEW_DISCORD_API_BASE": fake.api_base,
        "MOCKINTERVIEW_DEV_GUILD_ID": str(fake.guild["id"]),
        "MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S": "0.1",
    }


async def test_run_logs_in_syncs_to_the_dev_guild_and_answers(fake: FakeDiscord, bot_env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *mockinterview_command(), "run", env=bot_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        await fake.wait_until(lambda: fake.identify_count, 60, "the bot to IDENTIFY")
        await fake.wait_ready()
        gateway = fake.find_calls("GET", r"^/gateway/bot$")
        assert gateway, "the gateway URL comes from the configured API base"
        await fake.wait_until(lambda: fake.guild_commands.get(int(fake.guild["id"])), 30, "dev guild sync")
        assert not fake.global_commands  # global sync is only ever `mockinterview sync`

        user = fake.make_user("smoke")
        interaction = await fake.slash("practice", {"topic": "gans"}, user=user, guild=fake.guild)
        assert (await interaction.wait_callback(timeout=10)).json["type"] == 5
        question = await interaction.wait_webhook("POST", timeout=20)
        assert question.json["embeds"][0]["title"] == "Question 1 of 1"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(Exception):
            _, stderr = await asyncio.wait_for(process.communicate(), 5)
            assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-3000:]
    assert process.returncode == 0


def test_run_without_a_token_explains_what_to_do(cli_env: dict[str, str]) -> None:
    result = run_cli(["run"], cli_env, timeout=60)
    assert result.returncode == 2
    assert "DISCORD_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


async def test_run_with_a_rejected_token_says_so(fake: FakeDiscord, bot_env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *mockinterview_command(),
        "run",
        env={**bot_env, "DISCORD_TOKEN": "not-the-token"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert b"rejected DISCORD_TOKEN" in stderr
    assert b"not-the-token" not in stderr


async def test_sync_registers_global_commands(fake: FakeDiscord, bot_env: dict[str, str]) -> None:
    env = {k: v for k, v in bot_env.items() if k != "MOCKINTERVIEW_DEV_GUILD_ID"}
    process = await asyncio.create_subprocess_exec(
        *mockinterview_command(), "sync", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode(errors="replace")
    assert b"Synced 12 commands" in stdout
    assert {c["name"] for c in fake.global_commands} >= {"interview", "practice", "privacy"}
    assert fake.identify_count == 0  # REST only, no gateway session
