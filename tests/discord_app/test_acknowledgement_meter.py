"""The acknowledgement meter hears of every first response Discord accepts (through discord.py's webhook adapter,
`AcknowledgementAdapter`), and of no refused one."""

from __future__ import annotations

import asyncio

from bot.discord_app.observe import snowflake_seconds
from tests.discord_app.test_bot_metrics import sample
from tests.fakes.discord_server import FakeDiscord

CALLBACK = r"^/interactions/\d+/[^/]+/callback$"


async def test_an_accepted_first_response_is_timed_once_and_no_longer_outstanding(fake: FakeDiscord, launch) -> None:
    async with launch() as bot:
        acked = sample("mockinterview_ack_latency_seconds_count", kind="command")
        end = await fake.slash("interview end", user=fake.make_user("timed"), guild=fake.guild)
        await end.wait_callback()
        await end.wait_webhook("POST")
        assert sample("mockinterview_ack_latency_seconds_count", kind="command") == acked + 1
        assert bot.meter.outstanding == 0


async def test_a_refused_first_response_is_not_counted_as_acknowledged(fake: FakeDiscord, launch) -> None:
    async with launch() as bot:
        acked = sample("mockinterview_ack_latency_seconds_count", kind="command")
        # The handler's response, then its error report's: both refused.
        fake.fail_next("POST", CALLBACK, status=400, body={"message": "Invalid Form Body", "code": 50035}, times=2)
        end = await fake.slash("interview end", user=fake.make_user("refused"), guild=fake.guild)
        await fake.wait_until(lambda: len(callbacks(fake, end.id)) == 2, 10, "both tries")
        await asyncio.sleep(0.2)
        assert [c.status for c in callbacks(fake, end.id)] == [400, 400]
        assert sample("mockinterview_ack_latency_seconds_count", kind="command") == acked
        # Read the meter 1 s into Discord's 3 s, however long this machine took to get here.
        bot.meter.wall_clock = lambda: snowflake_seconds(end.id) + 1
        assert bot.meter.outstanding == 1  # still waiting for a first response, until Discord's 3 s are up
        bot.meter.wall_clock = lambda: snowflake_seconds(end.id) + 3.5
        assert bot.meter.outstanding == 0  # Discord's 3 s are up: it can't be answered any more


def callbacks(fake: FakeDiscord, interaction_id: int) -> list:
    return [c for c in fake.calls if c.path.startswith(f"/interactions/{interaction_id}/")]
