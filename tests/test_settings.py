"""Settings parse exactly the DESIGN.md environment variables, with secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import DEFAULT_MODEL, Settings, default_database_url


def test_defaults_need_no_configuration():
    settings = Settings(_env_file=None)
    assert settings.grader == "auto"
    assert settings.effective_grader() == "offline"
    assert settings.model == DEFAULT_MODEL
    assert settings.discord_token is None
    assert settings.bank_dirs == []


def test_default_database_is_a_sqlite_file_in_the_user_data_dir(monkeypatch):
    monkeypatch.delenv("MOCKINTERVIEW_DATABASE_URL")
    url = Settings(_env_file=None).database_url
    assert url == default_database_url()
    assert url.startswith("sqlite+aiosqlite:///") and url.endswith("interview.db")


def test_conventional_names_are_read_without_prefix(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = Settings(_env_file=None)
    assert settings.discord_token is not None and settings.discord_token.get_secret_value() == "discord-secret"
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == "sk-secret"
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


def test_secrets_never_show_in_repr(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    text = repr(Settings(_env_file=None)) + str(Settings(_env_file=None).model_dump())
    assert "discord-secret" not in text
    assert "sk-secret" not in text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "offline"),
        ({"OPENAI_API_KEY": "sk-x"}, "llm"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, "llm"),
        ({"OPENAI_API_KEY": "sk-x", "MOCKINTERVIEW_GRADER": "offline"}, "offline"),
        ({"MOCKINTERVIEW_GRADER": "llm"}, "llm"),
    ],
    ids=["nothing", "key", "base-url", "forced-offline", "forced-llm"],
)
def test_auto_grader_choice(monkeypatch, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).effective_grader() == expected


def test_bank_dirs_are_colon_separated(monkeypatch):
    monkeypatch.setenv("MOCKINTERVIEW_BANK_DIRS", "/a/bank:/b/bank:")
    assert Settings(_env_file=None).bank_dirs == [Path("/a/bank"), Path("/b/bank")]


def test_prefixed_values_are_validated(monkeypatch):
    monkeypatch.setenv("MOCKINTERVIEW_DEV_GUILD_ID", "not-a-number")
    with pytest.raises(ValidationError, match="dev_guild_id"):
        Settings(_env_file=None)


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("MOCKINTERVIEW_MODEL=local-model\nMOCKINTERVIEW_DEV_GUILD_ID=42\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.model == "local-model"
    assert settings.dev_guild_id == 42


def test_blank_base_url_means_unset(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "  ")
    assert Settings(_env_file=None).openai_base_url is None


# --- MOCKINTERVIEW_DATABASE_URL: the plain forms mean the async drivers; anything else is a clear error ----------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://mi:pw@db:5432/mi", "postgresql+asyncpg://mi:pw@db:5432/mi"),  # what hosting providers hand out
        ("postgres://mi:pw@db/mi?sslmode=require", "postgresql+asyncpg://mi:pw@db/mi?sslmode=require"),
        ("postgresql+asyncpg://mi@db/mi", "postgresql+asyncpg://mi@db/mi"),
        ("sqlite:////data/interview.db", "sqlite+aiosqlite:////data/interview.db"),
        ("sqlite:///relative.db", "sqlite+aiosqlite:///relative.db"),
        ("sqlite+aiosqlite://", "sqlite+aiosqlite://"),
        ("  sqlite+aiosqlite:///x.db\n", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_url_plain_forms_use_the_async_drivers(monkeypatch, url, expected):
    monkeypatch.setenv("MOCKINTERVIEW_DATABASE_URL", url)
    assert Settings(_env_file=None).database_url == expected


@pytest.mark.parametrize(
    "url",
    [
        "mysql://mi:hunter2@db/mi",
        "postgresql+psycopg2://mi:hunter2@db/mi",
        "sqlite+pysqlite:///hunter2.db",
        "mi:hunter2@db/mi",
        "hunter2",
    ],
)
def test_an_unusable_database_url_is_a_clear_error_without_the_password(monkeypatch, url):
    monkeypatch.setenv("MOCKINTERVIEW_DATABASE_URL", url)
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)
    (error,) = info.value.errors(include_url=False)
    assert error["loc"] == ("database_url",)
    assert "postgresql+asyncpg://" in error["msg"] and "sqlite+aiosqlite://" in error["msg"]
    assert "hunter2" not in error["msg"] and "hunter2" not in str(info.value)


def test_env_example_shows_the_defaults_except_where_it_says_example():
    """.env.example: a commented `# NAME=value` is the default unless its description says "(example" (or
    "example)"): a value to adapt, for a setting that is unset by default."""
    import re

    example = Path(__file__).resolve().parents[1] / ".env.example"
    if not example.is_file():
        pytest.skip(".env.example is not part of an installed package")
    setting = re.compile(r"^# (MOCKINTERVIEW_[A-Z_]+|OPENAI_[A-Z_]+|DISCORD_[A-Z_]+)=(.*)$")
    description: list[str] = []  # the comment lines above a setting (or above the group it ends)
    after_setting = False
    wrong = []
    for line in example.read_text(encoding="utf-8").splitlines():
        match = setting.match(line)
        if match is None:
            if not line.startswith("#"):  # a blank line, or a secret to fill in
                description, after_setting = [], False
                continue
            if after_setting:
                description, after_setting = [], False
            description.append(line)
            continue
        after_setting = True
        name, value = match.groups()
        if "example" in " ".join(description):
            continue
        field = Settings.model_fields[name.removeprefix("MOCKINTERVIEW_").lower()]
        default = field.get_default(call_default_factory=True)  # not the test environment's values
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        if not (shown == value or (isinstance(default, int | float) and float(value) == default)):
            wrong.append(f"{name}={value} (the default is {default!r})")
    assert not wrong, wrong
