"""The daily question: when to post it (local wall-clock time in an IANA zone, correct across DST), which local day a
post belongs to (the key that makes a day post at most once), and which question a guild gets on a given day.

DST rules (PEP 495, what `zoneinfo` does with `fold=0`):
* a local time that doesn't exist on a spring-forward day (02:30 in New York on the second Sunday of March) is
  read with the offset before the change, so the post goes out at 03:30 local — the same elapsed time after
  midnight, never skipped and never a day late;
* a local time that happens twice on a fall-back day (01:30 in New York on the first Sunday of November) posts
  at its first occurrence; the second occurrence is the same local day, so it can't post again.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

RECENT_DAYS = 30  # a guild doesn't see the same daily question twice within this many posts (pool permitting)
STALE_AFTER = timedelta(hours=6)  # a post missed by more than this (bot down) is skipped, not sent late


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant when the wall clock in `tz` shows `at` on `day` (first occurrence; gaps shift forward)."""
    wall = datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=tz, fold=0)
    return wall.astimezone(UTC)


def next_post_at(at: time, timezone: str, after: datetime) -> datetime:
    """The first post instant strictly after `after` (aware), in UTC."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    tz = ZoneInfo(timezone)
    start = after.astimezone(tz).date() - timedelta(days=1)
    for offset in range(4):
        candidate = local_instant(start + timedelta(days=offset), at, tz)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a local time recurs every day")  # pragma: no cover


def post_day(instant: datetime, timezone: str) -> date:
    """The local date a post at `instant` belongs to: the key that is posted at most once per guild."""
    return instant.astimezone(ZoneInfo(timezone)).date()


def is_stale(due: datetime, now: datetime, timezone: str) -> bool:
    """A due post is skipped when its local day is over or it is more than `STALE_AFTER` late."""
    return now - due > STALE_AFTER or post_day(now, timezone) != post_day(due, timezone)


def _seeded(guild_id: int, day: date) -> random.Random:
    digest = hashlib.sha256(f"daily:{guild_id}:{day.isoformat()}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def choose_daily_question(pool: Sequence[str], guild_id: int, day: date, recent: Collection[str] = ()) -> str:
    """The day's question id: the same for the same guild, day and history; never one of `recent` while the pool
    has others. Raises ValueError for an empty pool."""
    if not pool:
        raise ValueError("no question to choose from")
    fresh = sorted(set(pool) - set(recent))
    candidates = fresh or sorted(set(pool))
    return _seeded(guild_id, day).choice(candidates)
