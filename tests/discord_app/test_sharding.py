"""Gateway sharding: a bot started with MOCKINTERVIEW_SHARD_ID/COUNT identifies as that shard (the loopback Discord
records every IDENTIFY), and impossible combinations stop `mockinterview run` with a settings error."""

from __future__ import annotations

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.helpers import run_cli


def identifies(fake: FakeDiscord) -> list[dict]:
    return [data for event, data in fake.gateway_log if event == "identify"]


async def test_a_bot_with_shard_settings_identifies_as_that_shard(fake: FakeDiscord, launch) -> None:
    async with launch(shard_id=2, shard_count=3) as bot:
        assert identifies(fake)[-1]["shard"] == [2, 3]
        assert (bot.shard_id, bot.shard_count) == (2, 3)
        # It still serves commands on its shard.
        reply = await fake.slash("topics", user=fake.make_user("sharded"), guild=fake.guild)
        assert (await reply.wait_callback()).json["type"] in (4, 5)


async def test_a_bot_without_shard_settings_runs_unsharded(fake: FakeDiscord, launch) -> None:
    async with launch() as bot:
        assert "shard" not in identifies(fake)[-1]
        assert bot.shard_id is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MOCKINTERVIEW_SHARD_ID": "3", "MOCKINTERVIEW_SHARD_COUNT": "2"}, "MOCKINTERVIEW_SHARD_ID (3) must be below"),
        ({"MOCKINTERVIEW_SHARD_ID": "0"}, "set both MOCKINTERVIEW_SHARD_ID and MOCKINTERVIEW_SHARD_COUNT"),
        ({"MOCKINTERVIEW_SHARD_COUNT": "4"}, "set both MOCKINTERVIEW_SHARD_ID and MOCKINTERVIEW_SHARD_COUNT"),
        (
            {"MOCKINTERVIEW_SHARD_ID": "0", "MOCKINTERVIEW_SHARD_COUNT": "0"},
            "MOCKINTERVIEW_SHARD_COUNT: Input should be greater than or equal to 1",
        ),
        (
            {"MOCKINTERVIEW_SHARD_ID": "-1", "MOCKINTERVIEW_SHARD_COUNT": "2"},
            "MOCKINTERVIEW_SHARD_ID: Input should be greater than or equal to 0",
        ),
    ],
    ids=["id-not-below-count", "id-without-count", "count-without-id", "zero-shards", "negative-id"],
)
def test_run_with_impossible_shard_settings_stops_with_a_settings_error(
    cli_env: dict[str, str], env: dict[str, str], message: str
) -> None:
    result = run_cli(["run"], {**cli_env, "DISCORD_TOKEN": "never-used", **env}, timeout=60)
    assert result.returncode == 2
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "Invalid configuration" in said and message in said, said
    assert "Traceback" not in result.stderr
