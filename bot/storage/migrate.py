"""Apply Alembic migrations programmatically (`mockinterview db upgrade`, and at start when enabled).

Alembic takes ~0.3 s to import, and every command that opens the database upgrades it to head first; nearly always
there is nothing to do. So `upgrade_async` to head first compares the database's revision with the newest migration
file's (one query, no Alembic) and imports Alembic only when the database is behind, new, or in any doubt.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.storage.engine import create_engine, ensure_sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# `revision = "0004"` and `down_revision = "0003"` (or None) at the start of a line, as script.py.mako writes them.
_REVISION_LINE = re.compile(r"""^(revision|down_revision) = (?:"([^"]+)"|'([^']+)'|None)$""", re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` (blocking; runs its own event loop inside Alembic's env.py)."""
    from alembic import command

    ensure_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Upgrade from inside a running event loop: Alembic's env.py needs a loop of its own, so use a thread.

    A database already at head is left alone, without importing Alembic."""
    if revision == "head" and await is_at_head(url):
        return
    await asyncio.to_thread(upgrade, url, revision)


async def is_at_head(url: str) -> bool:
    """Whether the database records exactly the newest migration; False when it doesn't or either is unclear."""
    head = head_revision()
    if head is None:
        return False
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:  # no such table (a new database), or no database: Alembic creates it or says why it can't
        return False
    finally:
        await engine.dispose()
    return rows == [head]


def head_revision(versions: Path = VERSIONS_DIR) -> str | None:
    """The newest migration's id, read from the version files without importing Alembic.

    None unless every file states its revision and parent in the template's form and they make one line of
    revisions with one newest; then Alembic itself decides what to apply."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        assignments = _REVISION_LINE.findall(path.read_text(encoding="utf-8"))
        names = [name for name, _, _ in assignments]
        if sorted(names) != ["down_revision", "revision"]:
            return None
        values = {name: double or single for name, double, single in assignments}
        revisions.add(values["revision"])
        if values["down_revision"]:
            parents.add(values["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None
