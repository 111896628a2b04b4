"""Settings from the environment (and a `.env` file), exactly as DESIGN.md lists them.

There is no module-level instance: `cli.py` builds one and passes it down, and tests build their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

GraderChoice = Literal["auto", "llm", "offline"]
DEFAULT_MODEL = "gpt-5-mini"


def default_database_url() -> str:
    """An SQLite file in the user's data directory (`/data` in the Docker image via the env variable)."""
    data_dir = Path(platformdirs.user_data_dir("mockinterview", appauthor=False))
    return f"sqlite+aiosqlite:///{data_dir / 'interview.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MOCKINTERVIEW_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # Conventional names without our prefix.
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "discord_token")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )

    grader: GraderChoice = "auto"
    model: str = DEFAULT_MODEL
    database_url: str = Field(default_factory=default_database_url)
    bank_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    dev_guild_id: int | None = None

    # Database upkeep.
    auto_migrate: bool = True

    # LLM grading limits (used by the LLM grader).
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    llm_concurrency: int = Field(default=8, ge=1)
    llm_tokens_per_minute: int = Field(default=200_000, ge=1_000)
    answer_token_budget: int = Field(default=1_200, ge=50)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("bank_dirs", mode="before")
    @classmethod
    def _split_bank_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part).expanduser() for part in value.split(":") if part.strip()]
        return value

    @field_validator("openai_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def effective_grader(self) -> Literal["llm", "offline"]:
        """`auto` means the LLM grader when a key or a base URL is configured, else the offline grader."""
        if self.grader == "auto":
            return "llm" if (self.openai_api_key or self.openai_base_url) else "offline"
        return self.grader
