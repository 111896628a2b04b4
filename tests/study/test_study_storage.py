"""Study storage on SQLite and PostgreSQL: rounds, answers, the daily claim, custom topics, leaderboard, streaks."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import AnswerSubmission, CustomQuestion, GradeResult, LeaderboardPeriod
from bot.core.study import AlreadyAnsweredError, RoundState, StudyRound
from bot.storage.accounts import SqlAccountRepository
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.privacy import SqlPrivacyRepository
from bot.storage.progress import SqlProgressRepository
from bot.storage.study import (
    RoundAlreadyRunningError,
    SqlCustomBankRepository,
    SqlDailyRepository,
    SqlStudyRepository,
)
from bot.storage.tables import attempts, study_round_answers
from tests.storage._storage_helpers import FixedClock

GUILD = 900
T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def _round(channel: int = 5, host: int = 1) -> StudyRound:
    return StudyRound(
        guild_id=GUILD, channel_id=channel, host_id=host, question_ids=["rag.a", "rag.b"], seconds=60, created_at=T0
    )


def _submission(user: int, question: str = "rag.a", guild: int | None = GUILD) -> AnswerSubmission:
    return AnswerSubmission(
        user_id=user, question_id=question, topic="rag", answer=f"answer of {user}", guild_id=guild, kind="study"
    )


async def test_rounds_are_stored_with_their_timer_and_one_live_round_per_channel(engine: AsyncEngine) -> None:
    clock = FixedClock(T0)
    repo = SqlStudyRepository(engine, clock)
    stored = await repo.create(_round())
    assert stored.id is not None
    with pytest.raises(RoundAlreadyRunningError):
        await repo.create(_round())
    other = await repo.create(_round(channel=6))  # another channel is fine

    stored.start(T0)
    await repo.save(stored)
    assert await repo.next_due() == T0 + timedelta(seconds=60)
    assert await repo.timed(T0) == []
    due = await repo.timed(T0 + timedelta(seconds=60))
    assert [r.id for r in due] == [stored.id] and due[0].state == RoundState.COLLECTING
    assert (await repo.get(stored.id)).model_dump() == stored.model_dump()

    stored.end(T0)
    await repo.save(stored)
    assert await repo.live_in_channel(5) is None
    assert (await repo.create(_round())).id != stored.id  # the channel is free again
    assert other.id is not None


async def test_one_answer_per_member_and_question_stored_with_its_job_atomically(engine: AsyncEngine) -> None:
    clock = FixedClock(T0)
    repo = SqlStudyRepository(engine, clock)
    round_ = await repo.create(_round())
    round_.start(T0)
    await repo.save(round_)
    first = await repo.submit_answer(round_, _submission(7), elapsed_s=12.5)
    with pytest.raises(AlreadyAnsweredError):
        await repo.submit_answer(round_, _submission(7), elapsed_s=13)
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(attempts)) == 1  # no orphan attempt
    await SqlAttemptRepository(engine, clock).save_grade(first.id, GradeResult(score=8, grader="test"))
    await repo.submit_answer(round_, _submission(8), elapsed_s=3)
    answers = await repo.answers(round_.id or 0, 0)
    assert [(a.user_id, a.score, a.elapsed_s) for a in answers] == [(7, 8.0, 12.5), (8, None, 3.0)]


async def test_exactly_one_of_many_concurrent_claims_wins_the_day(db_url: str) -> None:
    engines = [create_engine(db_url) for _ in range(4)]  # four "processes"
    try:
        repos = [SqlDailyRepository(e, FixedClock(T0)) for e in engines]
        claims = await asyncio.gather(
            *(
                r.claim(GUILD, date(2026, 3, 4), question_id="rag.a", channel_id=5, owner=f"p{i}")
                for i, r in enumerate(repos)
            )
        )
        assert sum(c.won for c in claims) == 1
        # A restarted process (a new engine) can't claim it again; the next day is free.
        restarted = SqlDailyRepository(create_engine(db_url), FixedClock(T0))
        try:
            again = await restarted.claim(GUILD, date(2026, 3, 4), question_id="rag.b", channel_id=5, owner="p9")
            assert not again.won
            assert (await restarted.claim(GUILD, date(2026, 3, 5), question_id="rag.b", channel_id=5, owner="p9")).won
        finally:
            await restarted.engine.dispose()
    finally:
        for e in engines:
            await e.dispose()


async def test_schedules_move_on_by_compare_and_set_and_summaries_are_claimed_once(engine: AsyncEngine) -> None:
    clock = FixedClock(T0)
    repo = SqlDailyRepository(engine, clock)
    await repo.set_schedule(
        GUILD, channel_id=5, local_time="09:00", timezone="Europe/Berlin", topic=None, next_post_at=T0
    )
    assert [s.guild_id for s in await repo.due_schedules(T0)] == [GUILD]
    assert await repo.reschedule(GUILD, T0, T0 + timedelta(days=1))
    assert not await repo.reschedule(GUILD, T0, T0 + timedelta(days=2))  # someone already moved it
    assert await repo.due_schedules(T0) == [] and await repo.next_due() == T0 + timedelta(days=1)

    claim = await repo.claim(GUILD, date(2026, 3, 3), question_id="rag.a", channel_id=5, owner="me")
    assert claim.post is not None
    await repo.mark_posted(claim.post.id, thread_id=77, message_id=78)
    post = await repo.get_post(claim.post.id)
    assert (post.status, post.thread_id, post.posted_at) == ("posted", 77, T0)
    answer = await repo.submit_answer(post, _submission(7))
    with pytest.raises(AlreadyAnsweredError):
        await repo.submit_answer(post, _submission(7))
    assert [a.attempt_id for a in await repo.answers(post.id)] == [answer.id]
    assert [p.id for p in await repo.unsummarised(GUILD, date(2026, 3, 4))] == [post.id]
    assert await repo.mark_summarised(post.id)
    assert not await repo.mark_summarised(post.id)
    assert await repo.unsummarised(GUILD, date(2026, 3, 4)) == []


async def test_importing_a_topic_replaces_it_whole_and_guilds_stay_apart(engine: AsyncEngine) -> None:
    repo = SqlCustomBankRepository(engine, FixedClock(T0))

    def questions(guild: int, names: list[str]) -> list[CustomQuestion]:
        return [
            CustomQuestion(guild_id=guild, question_id=f"g{guild}-t.{n}", topic=f"g{guild}-t", body={"id": f"t.{n}"})
            for n in names
        ]

    assert await repo.replace_topic(GUILD, f"g{GUILD}-t", questions(GUILD, ["a", "b"])) == (0, 2)
    assert await repo.replace_topic(GUILD + 1, f"g{GUILD + 1}-t", questions(GUILD + 1, ["a"])) == (0, 1)
    assert await repo.replace_topic(GUILD, f"g{GUILD}-t", questions(GUILD, ["c"])) == (2, 1)
    assert [q.question_id for q in await repo.list(GUILD)] == [f"g{GUILD}-t.c"]
    assert await repo.count(GUILD) == {f"g{GUILD}-t": 1}
    assert await repo.remove(GUILD, question_id=f"g{GUILD + 1}-t.a") == []  # another guild's id: untouched
    assert await repo.remove(GUILD + 1, topic=f"g{GUILD + 1}-t") == [f"g{GUILD + 1}-t.a"]
    assert len(await repo.list()) == 1


async def test_leaderboard_points_from_study_answers_count_the_best_score_per_question_once(
    engine: AsyncEngine,
) -> None:
    clock = FixedClock(T0)
    attempts_repo = SqlAttemptRepository(engine, clock)
    scores = {  # user: [(question, score), ...]
        1: [("rag.a", 6), ("rag.a", 9), ("rag.a", 2), ("rag.b", 5)],  # 2 questions: 2 + 9 + 5 = 16
        2: [("rag.a", 10)] * 5,  # spam of one question: 1 + 10 = 11
        3: [("rag.c", 4)],  # 1 + 4 = 5
    }
    for user, answers in scores.items():
        for question, score in answers:
            attempt = await attempts_repo.submit_answer(_submission(user, question))
            await attempts_repo.save_grade(attempt.id, GradeResult(score=score, grader="test"))
    other = await attempts_repo.submit_answer(_submission(4, guild=GUILD + 1))  # another guild
    await attempts_repo.save_grade(other.id, GradeResult(score=10, grader="test"))
    board = await SqlProgressRepository(engine, clock).leaderboard(GUILD, LeaderboardPeriod.ALL)
    assert [(e.rank, e.user_id, e.points, e.questions) for e in board] == [
        (1, 1, 16.0, 2),
        (2, 2, 11.0, 1),
        (3, 3, 5.0, 1),
    ]


@pytest.mark.parametrize(
    ("timezone", "stamps"),
    [
        # 23:30 in New York every evening across the spring-forward night of 7-8 March 2026 (EST -> EDT).
        ("America/New_York", ["2026-03-07T04:30Z", "2026-03-08T04:30Z", "2026-03-09T03:30Z", "2026-03-10T03:30Z"]),
        # 00:30 in Berlin every night across the fall-back night of 24-25 October 2026 (CEST -> CET).
        ("Europe/Berlin", ["2026-10-23T22:30Z", "2026-10-24T22:30Z", "2026-10-25T23:30Z", "2026-10-26T23:30Z"]),
    ],
    ids=["new-york-spring-forward", "berlin-fall-back"],
)
async def test_streaks_count_local_days_across_dst_changes(
    engine: AsyncEngine, timezone: str, stamps: list[str]
) -> None:
    clock = FixedClock(T0)
    attempts_repo = SqlAttemptRepository(engine, clock)
    await SqlAccountRepository(engine, clock).set_timezone(7, timezone)
    for stamp in stamps:
        clock.current = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        await attempts_repo.submit_answer(_submission(7))
    streak = await SqlProgressRepository(engine, clock).streak(7, now=clock.current)
    assert (streak.current, streak.longest, streak.practised_today) == (4, 4, True)
    utc = await SqlProgressRepository(engine, clock).streak(8, now=clock.current)
    assert utc.current == 0


async def test_forgetting_a_member_removes_their_study_answers_and_anonymises_rounds_they_hosted(
    engine: AsyncEngine,
) -> None:
    clock = FixedClock(T0)
    repo = SqlStudyRepository(engine, clock)
    round_ = await repo.create(_round(host=7))
    round_.start(T0)
    await repo.submit_answer(round_, _submission(7), elapsed_s=1)
    await repo.submit_answer(round_, _submission(8), elapsed_s=2)
    export = await SqlPrivacyRepository(engine, clock).export_user(7)
    assert [a["user_id"] for a in export["tables"]["study_round_answers"]] == [7]
    assert [r["host_id"] for r in export["tables"]["study_rounds"]] == [7]
    await SqlPrivacyRepository(engine, clock).forget_user(7)
    assert (await repo.get(round_.id or 0)).host_id == 0
    async with engine.connect() as connection:
        users = (await connection.execute(select(study_round_answers.c.user_id))).scalars().all()
    assert users == [8]
