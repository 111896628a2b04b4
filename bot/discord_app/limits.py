"""Per-user rate limits for commands and buttons, and the daily LLM-grading quota."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.core.errors import UserFacingError


class SlowDownError(UserFacingError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"You're going a little fast. Try again in {max(1, round(retry_after))} s.")
        self.retry_after = retry_after


class QuotaExceededError(UserFacingError):
    def __init__(self, quota: int, resets_in: timedelta) -> None:
        hours, rest = divmod(int(resets_in.total_seconds()), 3600)
        minutes = rest // 60
        super().__init__(
            f"You've had {quota} answers graded today, which is the daily limit for AI grading. "
            f"It resets at midnight UTC (in {hours} h {minutes} min). Your progress is saved; see /history."
        )


class UserRateLimiter:
    """At most `rate` uses per `per` seconds for each user (a sliding window; memory is pruned as it goes)."""

    def __init__(self, rate: int, per: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.per = per
        self.monotonic = monotonic
        self._uses: dict[int, deque[float]] = {}

    def hit(self, user_id: int) -> None:
        """Count one use; raise `SlowDownError` (and don't count it) when the user is over the limit."""
        now = self.monotonic()
        uses = self._uses.setdefault(user_id, deque())
        while uses and now - uses[0] >= self.per:
            uses.popleft()
        if len(uses) >= self.rate:
            raise SlowDownError(self.per - (now - uses[0]))
        uses.append(now)
        if len(self._uses) > 10_000:  # forget idle users
            for key in [k for k, v in self._uses.items() if not v or now - v[-1] >= self.per]:
                del self._uses[key]


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def check_daily_quota(quota: int, answers_today: int, now: datetime) -> None:
    """Raise `QuotaExceededError` when `answers_today` has reached `quota` (0 means unlimited)."""
    if quota and answers_today >= quota:
        raise QuotaExceededError(quota, start_of_day(now) + timedelta(days=1) - now)
