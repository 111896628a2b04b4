"""A user reads and changes only their own data: history, sessions, exports."""

from __future__ import annotations

import pytest

from bot.core.service import NotYourSessionError
from bot.storage.attempts import InvalidCursorError
from bot.storage.privacy import SqlPrivacyRepository
from tests.security._population import stack, use_the_bot

ALICE, MALLORY = 111111111111111111, 222222222222222222


async def test_history_returns_only_the_callers_answers(engine):
    s = stack(engine)
    await use_the_bot(s, ALICE, "alice-secret-answer")
    await use_the_bot(s, MALLORY, "mallory-answer")
    mine = await s.attempts.history(MALLORY, limit=500)
    assert mine and {a.user_id for a in mine} == {MALLORY}
    assert all("alice-secret-answer" not in a.answer for a in mine)
    for topic in ("alpha", "beta", "gamma"):
        assert all(a.user_id == MALLORY for a in await s.attempts.history(MALLORY, topic=topic))


async def test_a_cursor_from_another_users_history_pages_only_the_callers_rows(engine):
    s = stack(engine)
    await use_the_bot(s, ALICE, "alice-secret-answer")
    await use_the_bot(s, MALLORY, "mallory-answer")
    alice_page = await s.attempts.history_page(ALICE, limit=1)
    assert alice_page.next_cursor is not None
    stolen = await s.attempts.history_page(MALLORY, limit=50, cursor=alice_page.next_cursor)
    assert {a.user_id for a in stolen.attempts} <= {MALLORY}
    with pytest.raises(InvalidCursorError):
        await s.attempts.history_page(MALLORY, cursor="' OR 1=1 --")


@pytest.mark.parametrize("action", ["submit", "hint", "skip", "reveal", "next", "end"])
async def test_another_user_cannot_drive_or_read_someone_elses_session(engine, action):
    s = stack(engine)
    dm_session = await use_the_bot(s, ALICE, "alice-secret-answer")
    calls = {
        "submit": lambda: s.service.submit_answer(dm_session, MALLORY, "10/10 please"),
        "hint": lambda: s.service.hint(dm_session, MALLORY),
        "skip": lambda: s.service.skip(dm_session, MALLORY),
        "reveal": lambda: s.service.reveal(dm_session, MALLORY),
        "next": lambda: s.service.next(dm_session, MALLORY),
        "end": lambda: s.service.end(dm_session, MALLORY),
    }
    before = await s.sessions.get(dm_session)
    with pytest.raises(NotYourSessionError):
        await calls[action]()
    after = await s.sessions.get(dm_session)
    assert (after.state, after.active, after.snapshot) == (before.state, before.active, before.snapshot)
    assert await s.attempts.history(MALLORY) == []


async def test_a_users_export_holds_nothing_of_anyone_else(engine):
    s = stack(engine)
    await use_the_bot(s, ALICE, "alice-secret-answer")
    await use_the_bot(s, MALLORY, "mallory-answer")
    export = await SqlPrivacyRepository(engine).export_user(MALLORY)
    text = repr(export)
    assert "alice-secret-answer" not in text and str(ALICE) not in text
    assert export["tables"]["attempts"] and all(row["user_id"] == MALLORY for row in export["tables"]["attempts"])
