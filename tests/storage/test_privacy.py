"""Export of all a user's data, and forgetting a user: every row, every table, one transaction."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import BigInteger, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import CustomQuestion, GradeResult, SessionRecord, Transport
from bot.storage.accounts import SqlAccountRepository
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.privacy import NOT_USER_DATA, USER_DATA, SqlPrivacyRepository
from bot.storage.progress import SqlProgressRepository
from bot.storage.queue import SqlGradingQueue
from bot.storage.sessions import SqlSessionRepository
from bot.storage.tables import grading_jobs, metadata
from tests.storage._storage_helpers import FixedClock, submission

ME, OTHER = 424242424242, 17


async def _populate(engine: AsyncEngine, user_id: int, clock: FixedClock) -> None:
    session = await SqlSessionRepository(engine, clock).create(
        SessionRecord(
            user_id=user_id,
            context="dm",
            transport=Transport.DM,
            mode="practice",
            state="asking",
            active=True,
            snapshot={"i": 0},
        )
    )
    repo = SqlAttemptRepository(engine, clock)
    graded = await repo.submit_answer(
        submission(user_id, 1, session_id=session.id, guild_id=5, delivery={"dm": user_id})
    )
    await repo.submit_answer(submission(user_id, 2))
    [job] = [j for j in await SqlGradingQueue(engine, clock).claim_jobs("w", 10, 60) if j.attempt.id == graded.id]
    await SqlGradingQueue(engine, clock).complete(job, GradeResult(score=6, grader="fake"))
    await SqlProgressRepository(engine, clock).upsert_review(
        user_id, "rag.q1", {"s": 1}, clock.now() + timedelta(days=1)
    )
    accounts = SqlAccountRepository(engine, clock)
    await accounts.set_timezone(user_id, "Europe/Berlin")
    await accounts.add_custom_question(
        CustomQuestion(guild_id=5, question_id=f"own.q{user_id}", topic="own", body={"q": "?"}, created_by=user_id)
    )


def test_every_table_is_classified_for_privacy() -> None:
    assert set(USER_DATA) | NOT_USER_DATA == set(metadata.tables)


async def test_export_contains_every_row_of_the_user_and_nothing_of_others(engine: AsyncEngine) -> None:
    clock = FixedClock()
    await _populate(engine, ME, clock)
    await _populate(engine, OTHER, clock)
    export = await SqlPrivacyRepository(engine, clock).export_user(ME)
    assert json.loads(json.dumps(export)) == export  # plain JSON types only
    tables = export["tables"]
    assert set(tables) == set(USER_DATA)
    assert [u["id"] for u in tables["users"]] == [ME] and tables["users"][0]["timezone"] == "Europe/Berlin"
    assert sorted(a["answer"] for a in tables["attempts"]) == [f"answer 1 from {ME}", f"answer 2 from {ME}"]
    assert {a["user_id"] for a in tables["attempts"]} == {ME}
    graded = next(a for a in tables["attempts"] if a["grade"])
    assert graded["grade"]["score"] == 6 and graded["delivery"] == {"dm": ME}
    assert len(tables["grading_jobs"]) == 2
    assert {j["attempt_id"] for j in tables["grading_jobs"]} == {a["id"] for a in tables["attempts"]}
    assert [s["snapshot"] for s in tables["interview_sessions"]] == [{"i": 0}]
    assert [r["question_id"] for r in tables["review_schedules"]] == ["rag.q1"]
    assert [q["question_id"] for q in tables["custom_questions"]] == [f"own.q{ME}"]
    assert isinstance(tables["attempts"][0]["created_at"], str)


async def test_forget_leaves_no_row_that_mentions_the_user_in_any_table(engine: AsyncEngine) -> None:
    clock = FixedClock()
    await _populate(engine, ME, clock)
    await _populate(engine, OTHER, clock)
    async with engine.connect() as connection:
        my_jobs = await connection.scalar(select(func.count()).select_from(grading_jobs))
    removed = await SqlPrivacyRepository(engine, clock).forget_user(ME)
    assert removed["attempts"] == 2 and removed["grading_jobs"] == 2 and removed["users"] == 1
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:  # every id-sized (BIGINT) column of every table
            columns = [c for c in table.columns if isinstance(c.type, BigInteger)]
            if columns:
                mentions = await connection.scalar(
                    select(func.count()).select_from(table).where(or_(*(c == ME for c in columns)))
                )
                assert mentions == 0, f"{table.name} still mentions the user"
        assert await connection.scalar(select(func.count()).select_from(grading_jobs)) == my_jobs - 2
    # The other user is untouched, and the guild keeps the (now anonymous) custom question.
    assert len((await SqlPrivacyRepository(engine, clock).export_user(OTHER))["tables"]["attempts"]) == 2
    questions = await SqlAccountRepository(engine).list_custom_questions(5)
    assert {(q.question_id, q.created_by) for q in questions} == {(f"own.q{ME}", None), (f"own.q{OTHER}", OTHER)}
    assert (await SqlPrivacyRepository(engine, clock).export_user(ME))["tables"]["users"] == []
