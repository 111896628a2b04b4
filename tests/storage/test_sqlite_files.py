"""Where and how the SQLite database file is made: the path as the user wrote it, private to its owner."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.tables import attempts


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
