"""/privacy export reads every table as of one moment, also on PostgreSQL, whose default isolation (READ COMMITTED)
gives each SELECT a snapshot of its own: an answer stored mid-export showed in `attempts` without its grading job."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.attempts import SqlAttemptRepository
from bot.storage.privacy import SqlPrivacyRepository
from tests.storage._storage_helpers import FixedClock, submission


async def test_an_answer_stored_during_an_export_is_in_none_of_its_tables_or_all(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock()
    attempts = SqlAttemptRepository(engine, clock)
    first = await attempts.submit_answer(submission(answer="first"))
    execute = AsyncConnection.execute
    stored_meanwhile: list[object] = []

    async def execute_then_answer(self: AsyncConnection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await execute(self, statement, *args, **kwargs)
        if not stored_meanwhile and "FROM grading_jobs" in str(statement):  # the export, between two tables
            stored_meanwhile.append("storing")
            stored_meanwhile.append(await attempts.submit_answer(submission(answer="second, mid-export")))
        return result

    monkeypatch.setattr(AsyncConnection, "execute", execute_then_answer)
    export = await SqlPrivacyRepository(engine, clock).export_user(1)
    monkeypatch.undo()

    exported_attempts = {row["id"] for row in export["tables"]["attempts"]}
    exported_jobs = {row["attempt_id"] for row in export["tables"]["grading_jobs"]}
    assert len(stored_meanwhile) == 2  # the export read grading_jobs, then the second answer was stored
    assert exported_attempts == exported_jobs == {first.id}
    # The connection went back to the pool at the default level: the next transaction sees new rows.
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            level = await connection.scalar(text("SHOW transaction_isolation"))
            assert level == "read committed"
