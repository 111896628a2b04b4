"""A per-minute token limit: a token bucket charged with each request's estimated prompt tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

_ROUNDING_TOKENS = 1e-6


class TokenRateLimiter:
    """Allows bursts up to one minute's budget, then paces requests to `tokens_per_minute`."""

    def __init__(
        self,
        tokens_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.capacity = float(tokens_per_minute)
        self._rate_per_s = tokens_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._available = self.capacity
        self._updated = clock()
        self._lock = asyncio.Lock()  # first come, first served: a big request isn't starved by small ones

    async def acquire(self, tokens: int) -> float:
        """Wait until `tokens` fit in the budget, take them, and return how long we waited (seconds)."""
        needed = min(float(tokens), self.capacity)  # a request bigger than the bucket waits for a full one
        waited = 0.0
        async with self._lock:
            while True:
                self._refill()
                # Within rounding: after sleeping exactly the computed delay, the refill can come out 1e-13
                # tokens short, and a second, zero-length sleep would follow.
                if self._available >= needed - _ROUNDING_TOKENS:
                    self._available = max(0.0, self._available - needed)
                    return waited
                delay = (needed - self._available) / self._rate_per_s
                await self._sleep(delay)
                waited += delay

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.capacity, self._available + (now - self._updated) * self._rate_per_s)
        self._updated = now
