"""Slower work waits while other interactions still await their first response (`InteractionMeter`)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.discord_app.observe import ACK_DEADLINE_S, InteractionMeter
from bot.ops.metrics import Metrics

DISCORD_EPOCH_MS = 1_420_070_400_000


def _interaction(received_at: float, sequence: int) -> Any:
    snowflake = (int(received_at * 1000) - DISCORD_EPOCH_MS) << 22 | sequence
    return SimpleNamespace(
        id=snowflake, type=discord.InteractionType.modal_submit, data={"custom_id": "iv:answer-modal"}
    )


async def _finishes(awaitable: Any, within: float) -> bool:
    try:
        await asyncio.wait_for(asyncio.shield(awaitable), within)
    except TimeoutError:
        return False
    return True


@pytest.fixture
def meter() -> InteractionMeter:
    return InteractionMeter(Metrics())


async def test_nothing_outstanding_means_no_wait(meter: InteractionMeter) -> None:
    assert await _finishes(meter.acknowledgements_first(), within=2)


async def test_waits_until_every_received_interaction_is_acknowledged(meter: InteractionMeter) -> None:
    first, second = _interaction(time.time(), 1), _interaction(time.time(), 2)
    meter.received(first, None)
    meter.received(second, None)
    waiting = asyncio.ensure_future(meter.acknowledgements_first(limit=5))
    meter.acknowledged(first.id)
    assert not await _finishes(waiting, within=0.1)  # the second still waits for its acknowledgement
    meter.acknowledged(second.id)
    assert await _finishes(waiting, within=2)
    assert meter.outstanding == 0


async def test_a_never_acknowledged_interaction_holds_work_back_only_up_to_the_limit(meter: InteractionMeter) -> None:
    meter.received(_interaction(time.time(), 1), None)  # e.g. its handler failed before replying
    started = time.monotonic()
    await meter.acknowledgements_first(limit=0.2)
    assert 0.15 <= time.monotonic() - started < 2.5  # short of the 3 s after which the deadline ends it


async def test_interactions_past_discords_deadline_no_longer_count(meter: InteractionMeter) -> None:
    meter.received(_interaction(time.time() - ACK_DEADLINE_S - 1, 1), None)  # Discord has given up on it
    assert meter.outstanding == 0
    assert await _finishes(meter.acknowledgements_first(limit=5), within=2)
    fresh = _interaction(time.time(), 2)
    meter.received(fresh, None)
    assert meter.outstanding == 1
