"""Guild settings: validation of what moderators type, tolerant loading of what is stored."""

from __future__ import annotations

from datetime import time

import pytest

from bot.core.guild_settings import DailySettings, GuildSettings, InvalidSettingError, parse_time_of_day


@pytest.mark.parametrize(("text", "expected"), [("9:00", time(9)), ("18:30", time(18, 30)), ("07h05", time(7, 5))])
def test_times_of_day_are_24_hour(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["25:00", "9", "noon", "12:60"])
def test_bad_times_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidSettingError, match="HH:MM"):
        parse_time_of_day(text)


def test_daily_settings_normalise_time_and_zone() -> None:
    daily = DailySettings(channel_id=1, time="7:05", timezone="Europe/Berlin")
    assert (daily.time, daily.timezone, daily.local_time) == ("07:05", "Europe/Berlin", time(7, 5))
    with pytest.raises(ValueError, match="not a timezone"):
        DailySettings(channel_id=1, time="07:00", timezone="Mars/Olympus")


def test_stored_settings_round_trip_and_broken_values_fall_back_to_defaults() -> None:
    settings = GuildSettings(
        allowed_topics=["rag"], default_difficulty="advanced", public_feedback=True, llm_quota_per_member=5
    )
    assert GuildSettings.from_stored(settings.to_stored()) == settings
    broken = {**settings.to_stored(), "llm_quota_per_member": -3, "timezone": "Nowhere/Land", "unknown": 1}
    loaded = GuildSettings.from_stored(broken)
    assert (loaded.llm_quota_per_member, loaded.timezone, loaded.allowed_topics) == (0, "UTC", ["rag"])


def test_allowed_topics_restrict_choices() -> None:
    settings = GuildSettings(allowed_topics=["rag", "llms"])
    settings.check_topic("rag")
    settings.check_topic(None)
    with pytest.raises(InvalidSettingError, match="rag, llms"):
        settings.check_topic("gans")
