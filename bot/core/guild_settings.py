"""A study server's settings (`/settings`): allowed topics, default difficulty, public feedback, daily question, quotas.

Stored as JSON in `guilds.settings` (through `SqlAccountRepository.update_guild_settings`); `from_stored` is
tolerant (unknown keys ignored, a broken value falls back to its default) so a bad row never breaks a command.
"""

from __future__ import annotations

import re
from datetime import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.errors import UserFacingError
from bot.core.models import Difficulty

TIME_OF_DAY = re.compile(r"^(?P<hour>[01]?\d|2[0-3])[:.h](?P<minute>[0-5]\d)$")
MAX_QUOTA = 1000
MAX_GUILD_QUOTA = 1_000_000


class InvalidSettingError(UserFacingError):
    """A setting a moderator typed that can't be used; the message says what to type instead."""


def parse_time_of_day(text: str) -> wall_time:
    """'07:30', '7:30', '19h05' → a local wall-clock time; raise `InvalidSettingError` otherwise."""
    match = TIME_OF_DAY.fullmatch(text.strip())
    if match is None:
        raise InvalidSettingError(f"{text!r} is not a time of day. Use 24-hour HH:MM, e.g. 09:00 or 18:30.")
    return wall_time(int(match["hour"]), int(match["minute"]))


def check_timezone(name: str) -> str:
    """The canonical IANA key for `name`; raise `InvalidSettingError` for an unknown zone."""
    try:
        return ZoneInfo(name.strip()).key
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSettingError(
            f"{name!r} is not a timezone I know. Use an IANA name such as Europe/Berlin or America/New_York."
        ) from None


def _valid_zone(value: str) -> str:
    try:
        return check_timezone(value)
    except InvalidSettingError as error:
        raise ValueError(error.message) from None


class DailySettings(BaseModel):
    """Post one question a day in `channel_id` at `time` (HH:MM) local to `timezone`."""

    model_config = ConfigDict(frozen=True)

    channel_id: int
    time: str = "09:00"
    timezone: str = "UTC"
    topic: str | None = None  # only questions of this topic (default: the allowed topics)

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            return parse_time_of_day(value).strftime("%H:%M")
        except InvalidSettingError as error:
            raise ValueError(error.message) from None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _valid_zone(value)

    @property
    def local_time(self) -> wall_time:
        return parse_time_of_day(self.time)


class GuildSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    allowed_topics: list[str] = Field(default_factory=list)  # empty: every topic
    default_difficulty: Difficulty | None = None
    public_feedback: bool = False  # members may share their own feedback in the channel (/study share)
    daily: DailySettings | None = None
    llm_quota_per_member: int = Field(default=0, ge=0, le=MAX_QUOTA)  # AI-graded answers a day; 0 = bot default
    # AI-graded answers a day for the whole server, all members together (UTC days); 0 = no server-wide cap.
    llm_daily_guild_quota: int = Field(default=0, ge=0, le=MAX_GUILD_QUOTA)
    timezone: str = "UTC"  # the guild's timezone: leaderboard weeks and months start in it

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _valid_zone(value)

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> GuildSettings:
        """Settings from the stored JSON; a value that no longer validates falls back to its default."""
        data = dict(stored or {})
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            bad = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
            return cls.model_validate({k: v for k, v in data.items() if k not in bad})

    def to_stored(self) -> dict[str, Any]:
        """The JSON to merge into `guilds.settings` (a None value removes its key)."""
        return self.model_dump(mode="json")

    def topic_allowed(self, topic: str | None) -> bool:
        return topic is None or not self.allowed_topics or topic in self.allowed_topics

    def check_topic(self, topic: str | None) -> None:
        if not self.topic_allowed(topic):
            allowed = ", ".join(self.allowed_topics)
            raise InvalidSettingError(f"This server only studies these topics: {allowed}.")
