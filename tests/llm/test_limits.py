"""The per-minute token bucket, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from bot.llm.limits import TokenRateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


def limiter(fake_time: FakeTime, per_minute: int = 6_000) -> TokenRateLimiter:
    return TokenRateLimiter(per_minute, clock=fake_time.clock, sleep=fake_time.sleep)


async def test_requests_within_a_minutes_budget_do_not_wait(fake_time):
    bucket = limiter(fake_time)
    for _ in range(6):
        assert await bucket.acquire(1_000) == 0.0
    assert fake_time.sleeps == []


async def test_a_request_beyond_the_budget_waits_for_the_refill(fake_time):
    bucket = limiter(fake_time)  # 6,000 per minute refills 100 tokens per second
    await bucket.acquire(6_000)
    waited = await bucket.acquire(500)
    assert waited == pytest.approx(5.0)


async def test_elapsed_time_refills_the_bucket(fake_time):
    bucket = limiter(fake_time)
    await bucket.acquire(6_000)
    fake_time.now += 30  # half a minute: half the budget is back
    assert await bucket.acquire(3_000) == 0.0
    assert await bucket.acquire(100) == pytest.approx(1.0)


async def test_a_request_larger_than_the_bucket_waits_for_a_full_bucket_not_forever(fake_time):
    bucket = limiter(fake_time)
    await bucket.acquire(6_000)
    assert await bucket.acquire(50_000) == pytest.approx(60.0)


async def test_waiting_requests_are_served_in_order(fake_time):
    bucket = limiter(fake_time)
    await bucket.acquire(6_000)
    order: list[int] = []

    async def take(tag: int, tokens: int) -> None:
        await bucket.acquire(tokens)
        order.append(tag)

    await asyncio.gather(take(1, 3_000), take(2, 100))
    assert order == [1, 2]


async def test_one_sleep_suffices_whatever_the_rounding_of_the_refill(fake_time):
    # At 1,000 tokens a minute, sleeping the computed delay for 1,000 after 588 refills 999.9999999999999 tokens.
    bucket = limiter(fake_time, per_minute=1_000)
    await bucket.acquire(588)
    waited = await bucket.acquire(1_000)
    assert fake_time.sleeps == [pytest.approx(35.28)]
    assert waited == fake_time.sleeps[0]
    assert await bucket.acquire(1) > 0  # the bucket was emptied, not left with a rounding error's credit
