"""`upgrade_async` at start: Alembic runs only when the database isn't at head, and every such database still gets
there (a new one, an older one), on both engines. That no command imports Alembic for a database already at head
is checked in tests/test_cli.py."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect, text

from bot.storage.engine import create_engine
from bot.storage.migrate import VERSIONS_DIR, alembic_config, head_revision, is_at_head, upgrade, upgrade_async
from bot.storage.tables import metadata


def _alembic_revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_the_head_read_from_the_version_files_is_alembics() -> None:
    assert head_revision() == _alembic_revisions()[-1]


def test_a_new_database_is_migrated_to_head(empty_db_url: str) -> None:
    assert not asyncio.run(is_at_head(empty_db_url))
    asyncio.run(upgrade_async(empty_db_url))
    assert asyncio.run(is_at_head(empty_db_url))
    assert _tables(empty_db_url) == set(metadata.tables) | {"alembic_version"}


def test_an_older_database_is_upgraded_to_head(empty_db_url: str) -> None:
    upgrade(empty_db_url, _alembic_revisions()[-2])
    assert not asyncio.run(is_at_head(empty_db_url))
    asyncio.run(upgrade_async(empty_db_url))
    assert asyncio.run(is_at_head(empty_db_url))


def test_a_database_from_newer_code_is_still_refused_by_alembic(db_url: str) -> None:
    async def stamp_unknown_revision() -> None:
        engine = create_engine(db_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
        finally:
            await engine.dispose()

    asyncio.run(stamp_unknown_revision())
    with pytest.raises(CommandError, match="from-the-future"):
        asyncio.run(upgrade_async(db_url))


def _versions_copy(tmp_path: Path, extra: str) -> Path:
    versions = tmp_path / "versions"
    shutil.copytree(VERSIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    (versions / "9999_extra.py").write_text(extra, encoding="utf-8")
    return versions


@pytest.mark.parametrize(
    "extra",
    [
        f'revision = "branch"\ndown_revision = "{_alembic_revisions()[-2]}"\n',  # two heads
        'revision: str = "0099"\ndown_revision: str | None = "0004"\n',  # not the template's form
        'revision = "0099"\ndown_revision = ("0003", "0004")\n',  # a merge
        '"""no revision at all"""\n',
    ],
    ids=["branch", "annotated", "merge", "empty"],
)
def test_version_files_it_cannot_read_with_certainty_leave_the_decision_to_alembic(tmp_path: Path, extra: str) -> None:
    assert head_revision(_versions_copy(tmp_path, extra)) is None


def test_a_new_migration_in_the_template_form_is_the_new_head(tmp_path: Path) -> None:
    head = _alembic_revisions()[-1]
    assert head_revision(_versions_copy(tmp_path, f"revision = '0099'\ndown_revision = '{head}'\n")) == "0099"
