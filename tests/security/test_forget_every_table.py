"""`/privacy forget` → `forget_user`: afterwards no row of any table mentions the user, on both engines.

The scan is generic: every table in `bot.storage.tables.metadata` (including tables added after this test was
written), every column, every value (JSON and text included) is searched for the user's id and for a marker
that only that user's answers and settings contain.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.privacy import SqlPrivacyRepository
from bot.storage.tables import attempts, grading_jobs, metadata
from tests.security._population import stack, use_the_bot

FORGOTTEN, KEPT = 918273645546372819, 123456789012345678
MARKER, OTHER_MARKER = "zq-forget-me-marker", "kept-user-marker"


def _text(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


async def mentions(engine: AsyncEngine, *needles: str) -> dict[str, int]:
    """Rows per table in which any column's value contains any needle."""
    found: dict[str, int] = {}
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            hits = sum(1 for row in rows if any(n in _text(v) for v in row for n in needles))
            if hits:
                found[table.name] = hits
    return found


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {t.name: len((await connection.execute(select(t))).all()) for t in metadata.sorted_tables}


async def test_forget_leaves_zero_rows_mentioning_the_user_in_every_table(engine):
    s = stack(engine)
    await use_the_bot(s, FORGOTTEN, MARKER)
    await use_the_bot(s, KEPT, OTHER_MARKER)
    before = await mentions(engine, str(FORGOTTEN), MARKER)
    assert {"users", "attempts", "interview_sessions", "review_schedules"} <= set(before), before

    removed = await SqlPrivacyRepository(engine).forget_user(FORGOTTEN)

    assert await mentions(engine, str(FORGOTTEN), MARKER) == {}
    assert removed["attempts"] == 2 and removed["users"] == 1
    # Nothing dangling: every grading job still belongs to an existing attempt.
    async with engine.connect() as connection:
        job_attempts = set((await connection.execute(select(grading_jobs.c.attempt_id))).scalars())
        attempt_ids = set((await connection.execute(select(attempts.c.id))).scalars())
    assert job_attempts <= attempt_ids


async def test_forget_keeps_every_row_of_the_other_user(engine):
    s = stack(engine)
    await use_the_bot(s, FORGOTTEN, MARKER)
    await use_the_bot(s, KEPT, OTHER_MARKER)
    kept_before = await mentions(engine, str(KEPT), OTHER_MARKER)
    export_before = await SqlPrivacyRepository(engine).export_user(KEPT)
    await SqlPrivacyRepository(engine).forget_user(FORGOTTEN)
    assert await mentions(engine, str(KEPT), OTHER_MARKER) == kept_before
    export_after = await SqlPrivacyRepository(engine).export_user(KEPT)
    assert export_after["tables"] == export_before["tables"]


async def test_forgetting_twice_or_an_unknown_user_is_harmless(engine):
    s = stack(engine)
    await use_the_bot(s, KEPT, OTHER_MARKER)
    counts = await row_counts(engine)
    privacy = SqlPrivacyRepository(engine)
    assert set((await privacy.forget_user(FORGOTTEN)).values()) == {0}
    assert await row_counts(engine) == counts
