"""When the daily question is posted (local time, DST), which day it is for, and which question."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.core.daily import choose_daily_question, is_stale, next_post_at, post_day


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        # New York springs forward on 2026-03-08 (02:00 EST -> 03:00 EDT): 09:00 is 14:00 UTC before, 13:00 after.
        ("America/New_York", datetime(2026, 3, 7, 15, 0, tzinfo=UTC), datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 6, 15, 0, tzinfo=UTC), datetime(2026, 3, 7, 14, 0, tzinfo=UTC)),
        # ... and falls back on 2026-11-01: 09:00 EST is 14:00 UTC.
        ("America/New_York", datetime(2026, 10, 31, 14, 0, tzinfo=UTC), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
        # Berlin springs forward on 2026-03-29 (CET +1 -> CEST +2) and falls back on 2026-10-25.
        ("Europe/Berlin", datetime(2026, 3, 28, 9, 0, tzinfo=UTC), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 10, 24, 8, 0, tzinfo=UTC), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
        # Strictly after: at the very instant, the next one is tomorrow.
        ("Europe/Berlin", datetime(2026, 6, 1, 7, 0, tzinfo=UTC), datetime(2026, 6, 2, 7, 0, tzinfo=UTC)),
    ],
    ids=["ny-spring-forward", "ny-before", "ny-fall-back", "berlin-spring-forward", "berlin-fall-back", "strict"],
)
def test_next_post_is_nine_local_across_dst(zone: str, after: datetime, expected: datetime) -> None:
    assert next_post_at(time(9, 0), zone, after) == expected
    assert post_day(expected, zone) == expected.date()


def test_a_time_inside_the_spring_forward_gap_posts_that_day_shifted_by_the_gap() -> None:
    # 02:30 doesn't exist in New York on 2026-03-08: it posts at 03:30 EDT (07:30 UTC), still on the 8th.
    due = next_post_at(time(2, 30), "America/New_York", datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert due == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert post_day(due, "America/New_York") == date(2026, 3, 8)


def test_a_repeated_fall_back_time_posts_at_its_first_occurrence_only() -> None:
    # 01:30 happens twice in New York on 2026-11-01 (05:30 and 06:30 UTC).
    first = next_post_at(time(1, 30), "America/New_York", datetime(2026, 11, 1, 4, 0, tzinfo=UTC))
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    again = next_post_at(time(1, 30), "America/New_York", first)
    assert post_day(again, "America/New_York") == date(2026, 11, 2)


def test_the_local_day_key_differs_from_the_utc_date_late_in_the_evening() -> None:
    instant = datetime(2026, 5, 2, 2, 0, tzinfo=UTC)  # 22:00 on May 1st in New York
    assert post_day(instant, "America/New_York") == date(2026, 5, 1)


def test_a_post_missed_by_a_day_is_stale_but_a_few_minutes_late_is_not() -> None:
    due = datetime(2026, 5, 1, 13, 0, tzinfo=UTC)
    assert not is_stale(due, datetime(2026, 5, 1, 13, 5, tzinfo=UTC), "America/New_York")
    assert is_stale(due, datetime(2026, 5, 2, 13, 5, tzinfo=UTC), "America/New_York")


def test_the_daily_question_is_deterministic_per_guild_and_day_and_avoids_recent_ones() -> None:
    pool = [f"rag.q{i}" for i in range(20)]
    day = date(2026, 5, 1)
    first = choose_daily_question(pool, 7, day)
    assert choose_daily_question(list(reversed(pool)), 7, day) == first
    picks = {choose_daily_question(pool, 7, date(2026, 5, d)) for d in range(1, 29)}
    assert len(picks) > 5  # the choice moves with the day
    recent = set(pool) - {"rag.q3", "rag.q4"}
    assert choose_daily_question(pool, 7, day, recent) in {"rag.q3", "rag.q4"}
    assert choose_daily_question(pool, 7, day, set(pool)) in pool  # everything recent: repeats are allowed


def test_an_empty_pool_raises() -> None:
    with pytest.raises(ValueError, match="no question"):
        choose_daily_question([], 1, date(2026, 1, 1))
