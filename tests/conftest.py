"""Shared fixtures. Engineers append fixtures for their areas below; keep each one documented."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

# Settings every test starts from: no keys, offline grader, nothing read from a developer's .env.
_ISOLATED_ENV = (
    "DISCORD_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "MOCKINTERVIEW_GRADER",
    "MOCKINTERVIEW_MODEL",
    "MOCKINTERVIEW_DATABASE_URL",
    "MOCKINTERVIEW_BANK_DIRS",
    "MOCKINTERVIEW_DEV_GUILD_ID",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOCKINTERVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    monkeypatch.chdir(tmp_path)  # so no developer .env file is picked up, and the CLI runs from anywhere


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """Environment for running `mockinterview` in a subprocess: isolated, offline, a fresh database."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env["MOCKINTERVIEW_DATABASE_URL"] = database_url
    env["COLUMNS"] = "80"
    env["NO_COLOR"] = "1"
    return env


# --- LLM grading (issue 3) ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def builtin_bank():
    """The shipped question bank, parsed once per test session (~0.6 s of YAML each time); read it, don't change it."""
    from bot.core.question_bank import load_bank
    from bot.resources import builtin_bank_dir

    return load_bank(builtin_bank_dir())


@pytest.fixture(scope="session")
def offline_grader():
    """One real offline grader per test session: its model loads in ~0.4 s and caches key-point embeddings."""
    from bot.grading.offline import OfflineGrader

    return OfflineGrader()
