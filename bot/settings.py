"""Settings from the environment (and a `.env` file), exactly as DESIGN.md lists them.

There is no module-level instance: `cli.py` builds one and passes it down, and tests build their own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

GraderChoice = Literal["auto", "llm", "offline"]
DEFAULT_MODEL = "gpt-5-mini"
StructuredOutputMode = Literal["auto", "json_schema", "json_object"]
ReasoningEffort = Literal["minimal", "low", "medium", "high"]


class ModelPrice(BaseModel):
    """USD per 1M tokens; cached input is the discounted rate for prompt-cache hits."""

    model_config = ConfigDict(frozen=True)

    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    output: float = Field(ge=0)


# Public list prices (USD per 1M tokens) when this was written; MOCKINTERVIEW_PRICES overrides or extends them.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-5-mini": ModelPrice(input=0.25, cached_input=0.025, output=2.00),
    "gpt-5-nano": ModelPrice(input=0.05, cached_input=0.005, output=0.40),
    "gpt-5": ModelPrice(input=1.25, cached_input=0.125, output=10.00),
    "gpt-4.1-mini": ModelPrice(input=0.40, cached_input=0.10, output=1.60),
    "gpt-4o-mini": ModelPrice(input=0.15, cached_input=0.075, output=0.60),
}


def default_database_url() -> str:
    """An SQLite file in the user's data directory (`/data` in the Docker image via the env variable)."""
    data_dir = Path(platformdirs.user_data_dir("mockinterview", appauthor=False))
    return f"sqlite+aiosqlite:///{data_dir / 'interview.db'}"


# The database drivers the project ships (pyproject.toml): a URL that names only the database means its async driver,
# so the usual `postgresql://...` a hosting provider hands out works as it is. Parsed by hand, not by SQLAlchemy's
# make_url: importing SQLAlchemy would make every command pay for it at start (tests/test_cli.py).
_ASYNC_DRIVERS = {"postgresql": "asyncpg", "postgres": "asyncpg", "sqlite": "aiosqlite"}
_URL_SCHEME = re.compile(r"(?P<dialect>[A-Za-z][A-Za-z0-9_]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://")
DATABASE_URL_FORMS = (
    "postgresql+asyncpg://user:password@host:5432/db (postgresql:// and postgres:// mean the same) "
    "or sqlite+aiosqlite:///path/to/file.db (sqlite:/// too)"
)


def async_database_url(url: str) -> str:
    """`url` with the async driver this project ships; ValueError naming only the scheme (never the password)."""
    url = url.strip()
    match = _URL_SCHEME.match(url)
    if match is None:
        raise ValueError(f"not a database URL; use {DATABASE_URL_FORMS}")
    dialect, driver = match["dialect"].lower(), match["driver"]
    wanted = _ASYNC_DRIVERS.get(dialect)
    if wanted is None:
        raise ValueError(f"{dialect}:// is not a supported database; use {DATABASE_URL_FORMS}")
    if driver is not None and driver.lower() != wanted:
        raise ValueError(
            f"{dialect}+{driver}:// names a driver this project doesn't ship (it has {wanted}, async); "
            f"use {DATABASE_URL_FORMS}"
        )
    return f"{'postgresql' if dialect == 'postgres' else dialect}+{wanted}://{url[match.end() :]}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MOCKINTERVIEW_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # A ValidationError's text would repeat the bad value: a database URL's password, a token.
        hide_input_in_errors=True,
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
    llm_max_output_tokens: int = Field(default=4_000, ge=256)  # reasoning models spend part of it thinking
    llm_reasoning_effort: ReasoningEffort | None = None  # sent only when set: not every server accepts it
    llm_structured_output: StructuredOutputMode = "auto"  # auto: json_schema, JSON mode if the server rejects it
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("bank_dirs", mode="before")
    @classmethod
    def _split_bank_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part).expanduser() for part in value.split(":") if part.strip()]
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("prices", mode="after")
    @classmethod
    def _prices_extend_defaults(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        # An override names only the models it changes; the defaults stay for the rest.
        return {**DEFAULT_PRICES, **value}

    @field_validator("openai_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def effective_grader(self) -> Literal["llm", "offline"]:
        """`auto` means the LLM grader when a key or a base URL is configured, else the offline grader."""
        if self.grader == "auto":
            return "llm" if (self.openai_api_key or self.openai_base_url) else "offline"
        return self.grader

    # --- Discord adapter (issue 6) -------------------------------------------------------------------------------
    # For tests and self-hosted gateways only: the REST base URL (e.g. http://127.0.0.1:8080/api/v10). The gateway
    # URL is then taken from that server's /gateway/bot. Leave unset for real Discord.
    discord_api_base: str | None = None
    # Read plain messages as answers in guild interview threads (needs the privileged Message Content intent to be
    # enabled for the application in the Developer Portal). DMs work without it.
    discord_message_content: bool = False
    # Run guild interviews in a private thread per candidate (falls back to ephemeral replies when not allowed).
    discord_use_threads: bool = True
    # Per-user rate limit on commands and buttons: at most `rate` uses per `per_s` seconds.
    discord_cooldown_rate: int = Field(default=6, ge=1)
    discord_cooldown_per_s: float = Field(default=20.0, gt=0)
    # Answers a user may have graded by the LLM per UTC day (0 = unlimited). The offline grader has no quota.
    daily_llm_quota: int = Field(default=40, ge=0)
    # Background grading in the bot process: concurrent grading jobs and how often idle loops poll the queue.
    grading_concurrency: int = Field(default=4, ge=1)
    queue_poll_interval_s: float = Field(default=1.0, gt=0)
    # Whether `mockinterview run` grades too. False: only `mockinterview worker` processes grade (at least one must
    # run), and the bot's event loop is left to Discord and feedback delivery.
    bot_grading: bool = True

    # --- Operations (issue 9) --------------------------------------------------------------------------------------
    # Prometheus /metrics and /healthz on this TCP port (0 = off). Bind address: keep it private (127.0.0.1, or the
    # container's network) — the endpoints carry no secrets but should not face the internet.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Gateway sharding across processes: this process runs shard `shard_id` of `shard_count` (unset = discord.py
    # decides, one process). Every process shares the same database and grading queue.
    shard_id: int | None = Field(default=None, ge=0)
    shard_count: int | None = Field(default=None, ge=1)
    # On SIGTERM: stop taking work, let in-flight grading finish for at most this long, then release the leases.
    shutdown_timeout_s: float = Field(default=20.0, gt=0)
    # How long a grading worker holds a job before another process may take it over (must exceed the grader's
    # worst case: LLM timeout x (retries + 1)).
    grading_lease_s: float = Field(default=300.0, gt=0)

    @field_validator("shard_id", "shard_count", mode="before")
    @classmethod
    def _blank_shard_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _shards_consistent(self) -> Settings:
        if (self.shard_id is None) != (self.shard_count is None):
            raise ValueError("set both MOCKINTERVIEW_SHARD_ID and MOCKINTERVIEW_SHARD_COUNT, or neither")
        if self.shard_id is not None and self.shard_count is not None and self.shard_id >= self.shard_count:
            raise ValueError(f"MOCKINTERVIEW_SHARD_ID ({self.shard_id}) must be below SHARD_COUNT ({self.shard_count})")
        return self

    def shard_ids(self) -> list[int] | None:
        """The shards this process runs (pass to discord.py's `AutoShardedBot(shard_ids=..., shard_count=...)`)."""
        return None if self.shard_id is None else [self.shard_id]

    def secret_values(self) -> list[str]:
        """The configured secrets' plain values, for the log redaction filter (never log these)."""
        return [s.get_secret_value() for s in (self.discord_token, self.openai_api_key) if s and s.get_secret_value()]
