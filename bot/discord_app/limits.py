"""Per-user rate limits for commands and buttons, and the daily LLM-grading quotas (per user, member and server)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.core.errors import UserFacingError
from bot.core.guild_settings import GuildSettings

if TYPE_CHECKING:
    from bot.discord_app.runtime import Runtime


class SlowDownError(UserFacingError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"You're going a little fast. Try again in {max(1, round(retry_after))} s.")
        self.retry_after = retry_after


def _resets(resets_in: timedelta) -> str:
    hours, rest = divmod(int(resets_in.total_seconds()), 3600)
    return f"It resets at midnight UTC (in {hours} h {rest // 60} min)"


class QuotaExceededError(UserFacingError):
    """A daily LLM-grading cap is reached: the answer is refused (not saved, not queued) with this message."""

    def __init__(self, quota: int, resets_in: timedelta, scope: str = "user") -> None:
        if scope == "guild":
            text = (
                f"This server has had {quota} answers graded by AI today, which is its daily limit (set by its "
                f"moderators). {_resets(resets_in)}. This answer wasn't kept; your earlier progress is saved "
                "(see /history), and you can keep practising in a DM with me."
            )
        elif scope == "member":
            text = (
                f"You've had {quota} answers graded by AI in this server today, which is this server's daily limit "
                f"per member. {_resets(resets_in)}. This answer wasn't kept; your earlier progress is saved "
                "(see /history)."
            )
        else:
            text = (
                f"You've had {quota} answers graded today, which is the daily limit for AI grading. "
                f"{_resets(resets_in)}. Your progress is saved; see /history."
            )
        super().__init__(text)
        self.quota = quota
        self.scope = scope


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


def check_daily_quota(quota: int, answers_today: int, now: datetime, scope: str = "user") -> None:
    """Raise `QuotaExceededError` when `answers_today` has reached `quota` (0 means unlimited)."""
    if quota and answers_today >= quota:
        raise QuotaExceededError(quota, start_of_day(now) + timedelta(days=1) - now, scope)


class LlmQuota:
    """The daily caps on LLM grading, checked before an answer is saved and queued; an answer over a cap is
    refused with a friendly message (nothing is saved, so nothing is ever graded or billed behind the user's back).

    * per user, everywhere: `MOCKINTERVIEW_DAILY_LLM_QUOTA` (0 = unlimited);
    * per member in a server: the server's `llm_quota_per_member` (0 = only the bot-wide cap);
    * per server, all members together: the server's `llm_daily_guild_quota` (0 = no server cap).

    Days are UTC days. Counts come from the database (`SqlAttemptRepository.quota_reading` and `guild_llm_counts`:
    today's answers that the LLM grades or graded), so the caps hold across restarts and across bot processes
    sharing PostgreSQL. Two answers checked at the same instant in different processes can both pass, so a cap can
    be exceeded by the number of answers in flight at that moment, never more. The offline grader costs nothing: no
    cap applies when it is the grader.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def applies(self) -> bool:
        return self.runtime.settings.effective_grader() == "llm"

    async def check(self, user_id: int, guild_id: int | None = None, settings: GuildSettings | None = None) -> None:
        """Raise `QuotaExceededError` when one more LLM-graded answer by `user_id` (in `guild_id`) is over a cap.

        At most two statements: the user's count with the guild's settings (unless given), then, only when the
        guild has a cap, the member's and the guild's counts together. No cap to check, no query."""
        if not self.applies:
            return
        attempts = self.runtime.attempts
        now = self.runtime.clock.now()
        since = start_of_day(now)
        per_user = self.runtime.settings.daily_llm_quota
        reading = await attempts.quota_reading(
            since, user_id, count_user=bool(per_user), guild_id=guild_id if settings is None else None
        )
        if per_user:
            check_daily_quota(per_user, reading.user_today or 0, now)
        if guild_id is None:
            return
        settings = settings or GuildSettings.from_stored(reading.guild_settings or {})
        per_member, per_guild = settings.llm_quota_per_member, settings.llm_daily_guild_quota
        if not (per_member or per_guild):
            return
        member_today, guild_today = await attempts.guild_llm_counts(since, guild_id, user_id)
        if per_member:
            check_daily_quota(per_member, member_today, now, "member")
        if per_guild:
            check_daily_quota(per_guild, guild_today, now, "guild")
