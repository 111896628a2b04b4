"""Where and how the SQLite database file is made: the path as the user wrote it, private to its owner."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.errors import UserFacingError
from bot.settings import Settings
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.tables import attempts
from bot.wiring import open_storage
from tests.storage._storage_helpers import submission


async def test_a_tilde_in_the_sqlite_path_is_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    url = "sqlite+aiosqlite:///~/mi/interview.db"

    await upgrade_async(url)  # the migration's engine
    engine = create_engine(url)  # and the app's: the same file
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(select(func.count()).select_from(attempts)) == 0
    finally:
        await engine.dispose()

    assert (home / "mi" / "interview.db").is_file()
    assert not (cwd / "~").exists()  # sqlite3 opened "~/mi/interview.db" relative to the working directory


@pytest.fixture
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most systems use: new files 0644, new folders 0755
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
async def test_a_new_database_and_the_folders_made_for_it_are_private_to_the_owner(tmp_path: Path) -> None:
    database = tmp_path / "data" / "mockinterview" / "interview.db"
    url = f"sqlite+aiosqlite:///{database}"

    await upgrade_async(url)
    engine = create_engine(url)
    try:
        await SqlAttemptRepository(engine).submit_answer(submission())
        wal = database.with_name("interview.db-wal")
        assert wal.exists() and _mode(wal) == 0o600  # SQLite gives it the database's mode
    finally:
        await engine.dispose()

    modes = {path.name: oct(_mode(path)) for path in (tmp_path / "data", database.parent, database)}
    assert modes == {"data": "0o700", "mockinterview": "0o700", "interview.db": "0o600"}


@pytest.mark.usefixtures("usual_umask")
async def test_an_existing_database_and_folder_keep_the_modes_their_owner_gave_them(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    database = folder / "interview.db"
    database.touch(mode=0o640)  # an empty file is an empty database

    await upgrade_async(f"sqlite+aiosqlite:///{database}")

    assert (oct(_mode(folder)), oct(_mode(database))) == ("0o750", "0o640")


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///file::memory:?uri=true"]
)
async def test_an_in_memory_database_is_refused_with_what_to_use_instead(url: str) -> None:
    # The migrations ran on an engine of their own, so the app's engine had an empty database: "no such table".
    settings = Settings(_env_file=None, database_url=url)
    with pytest.raises(UserFacingError) as refused:
        async with open_storage(settings):
            pass
    assert "in-memory" in refused.value.message and "sqlite+aiosqlite:///" in refused.value.message
    with pytest.raises(UserFacingError):
        create_engine(url)
