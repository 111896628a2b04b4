"""Apply Alembic migrations programmatically (`mockinterview db upgrade`, and at start when enabled)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.storage.engine import ensure_sqlite_parent

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` (blocking; runs its own event loop inside Alembic's env.py)."""
    ensure_sqlite_parent(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Upgrade from inside a running event loop: Alembic's env.py needs a loop of its own, so use a thread."""
    await asyncio.to_thread(upgrade, url, revision)
