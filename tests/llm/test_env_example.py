"""`.env.example` lists every setting (STYLE.md), with secrets left empty, and is itself a valid `.env`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
SECRETS = {"DISCORD_TOKEN", "OPENAI_API_KEY"}


def variable_names(text: str) -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else f"MOCKINTERVIEW_{field.upper()}"


@pytest.fixture(scope="module")
def example() -> str:
    if not ENV_EXAMPLE.is_file():
        pytest.skip(".env.example is not part of an installed package")
    return ENV_EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_listed(example, field):
    assert env_name(field) in variable_names(example)


def test_secrets_are_empty(example):
    for name in SECRETS:
        assert re.search(rf"^{name}=$", example, re.M), f"{name} must be present and empty"


def test_the_example_loads_as_a_dotenv_file_unchanged(example, tmp_path):
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")  # the autouse fixture runs tests in tmp_path
    settings = Settings()
    assert settings.effective_grader() == "offline"  # empty secrets count as unset
