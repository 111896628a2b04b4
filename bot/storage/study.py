"""Study servers' storage: live rounds and their answers, the daily question (schedule, claimed posts, answers) and
each guild's custom bank as whole topics (imported all-or-nothing).

An answer to a round or a daily post is an ordinary attempt (so it is graded by the durable queue, counts on the
leaderboard and shows in /history), linked to its round question or post in the same transaction that stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.errors import InterviewError, UserFacingError
from bot.core.models import AnswerSubmission, Attempt, AttemptStatus, CustomQuestion, GradeResult
from bot.core.ports import Clock, SystemClock
from bot.core.study import AlreadyAnsweredError, RoundAnswer, RoundState, StudyRound
from bot.storage.accounts import custom_question_from_row
from bot.storage.attempts import _attempt_values, _new_attempt, ensure_users
from bot.storage.engine import dialect_insert, write_transaction
from bot.storage.tables import (
    attempts,
    custom_questions,
    daily_answers,
    daily_posts,
    daily_schedules,
    grading_jobs,
    guilds,
    study_round_answers,
    study_rounds,
)
from bot.storage.wakeups import notify_jobs_queued

_ROUTING = {"id", "guild_id", "channel_id", "host_id"}  # columns, not repeated in the snapshot


class RoundAlreadyRunningError(UserFacingError):
    def __init__(self) -> None:
        super().__init__("A study round is already running in this channel. End it first (its host or a moderator).")


class RoundNotFoundError(UserFacingError):
    def __init__(self) -> None:
        super().__init__("That study round doesn't exist any more.")


class DailyPostNotFoundError(InterviewError):
    pass


async def _submit(connection: AsyncConnection, submission: AnswerSubmission, now: datetime) -> Attempt:
    """Insert an attempt and its grading job on `connection` (the caller's transaction)."""
    await ensure_users(connection, [submission.user_id], now)
    attempt_id = await connection.scalar(insert(attempts).returning(attempts.c.id), _attempt_values(submission, now))
    if attempt_id is None:  # pragma: no cover - INSERT ... RETURNING always returns the id
        raise RuntimeError("the attempt insert returned no id")
    await connection.execute(
        insert(grading_jobs).values(
            attempt_id=attempt_id, status="queued", available_at=now, created_at=now, updated_at=now
        )
    )
    await notify_jobs_queued(connection)  # wakes the workers of every process at commit (PostgreSQL)
    return _new_attempt(int(attempt_id), submission, now)


def _answer_from(row: Any) -> RoundAnswer:  # noqa: ANN401 - a Row of the answer queries
    grade = GradeResult.model_validate(row.grade) if row.grade and row.status == AttemptStatus.GRADED.value else None
    return RoundAnswer(
        user_id=row.user_id,
        attempt_id=row.attempt_id,
        position=getattr(row, "position", 0),
        elapsed_s=float(row.elapsed_s),
        submitted_at=row.submitted_at,
        grade=grade,
        failed=row.status == AttemptStatus.FAILED.value,
    )


class SqlStudyRepository:
    """Study rounds: the round's state (a snapshot + the columns the scheduler queries) and its answers."""

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    @staticmethod
    def _values(round_: StudyRound) -> dict[str, Any]:
        return {
            "state": round_.state.value,
            "due_at": round_.due_at(),
            "snapshot": round_.model_dump(mode="json", exclude=_ROUTING),
        }

    @staticmethod
    def _from_row(row: Row[Any]) -> StudyRound:
        return StudyRound.model_validate(
            {
                **row.snapshot,
                "id": row.id,
                "guild_id": row.guild_id,
                "channel_id": row.channel_id,
                "host_id": row.host_id,
            }
        )

    async def create(self, round_: StudyRound) -> StudyRound:
        """Store a new round; raise `RoundAlreadyRunningError` when its channel has a live one."""
        now = self.clock.now()
        try:
            async with write_transaction(self.engine) as connection:
                round_id = await connection.scalar(
                    insert(study_rounds).returning(study_rounds.c.id),
                    {
                        "guild_id": round_.guild_id,
                        "channel_id": round_.channel_id,
                        "host_id": round_.host_id,
                        "created_at": now,
                        "updated_at": now,
                        **self._values(round_),
                    },
                )
        except IntegrityError as error:
            raise RoundAlreadyRunningError from error
        return round_.model_copy(update={"id": int(round_id or 0)})

    async def save(self, round_: StudyRound) -> StudyRound:
        if round_.id is None:
            raise ValueError("save() needs a stored round")
        async with write_transaction(self.engine) as connection:
            await connection.execute(
                update(study_rounds)
                .where(study_rounds.c.id == round_.id)
                .values(updated_at=self.clock.now(), **self._values(round_))
            )
        return round_

    async def get(self, round_id: int) -> StudyRound:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(study_rounds).where(study_rounds.c.id == round_id))).first()
        if row is None:
            raise RoundNotFoundError
        return self._from_row(row)

    async def live_in_channel(self, channel_id: int) -> StudyRound | None:
        query = select(study_rounds).where(
            study_rounds.c.channel_id == channel_id, study_rounds.c.state != RoundState.ENDED.value
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return self._from_row(row) if row is not None else None

    async def timed(self, now: datetime, limit: int = 100) -> list[StudyRound]:
        """Rounds the scheduler must look at now: due ones, and revealing ones waiting for grades."""
        waiting = and_(study_rounds.c.state == RoundState.REVEALING.value)
        due = and_(study_rounds.c.due_at.is_not(None), study_rounds.c.due_at <= now)
        query = (
            select(study_rounds)
            .where(study_rounds.c.state.in_([RoundState.COLLECTING.value, RoundState.REVEALING.value]))
            .where(due | waiting)
            .order_by(study_rounds.c.due_at, study_rounds.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [self._from_row(row) for row in rows]

    async def next_due(self) -> datetime | None:
        """The earliest timer of any live round (the scheduler sleeps until then)."""
        query = select(func.min(study_rounds.c.due_at)).where(
            study_rounds.c.state.in_([RoundState.COLLECTING.value, RoundState.REVEALING.value])
        )
        async with self.engine.connect() as connection:
            value: datetime | None = await connection.scalar(query)
        return value

    async def submit_answer(self, round_: StudyRound, submission: AnswerSubmission, *, elapsed_s: float) -> Attempt:
        """Store a member's answer to the round's current question, with its grading job, in one transaction.

        Raises `AlreadyAnsweredError` if they answered this question before (the first answer counts)."""
        if round_.id is None:
            raise ValueError("submit_answer() needs a stored round")
        now = self.clock.now()
        try:
            async with write_transaction(self.engine) as connection:
                attempt = await _submit(connection, submission, now)
                await connection.execute(
                    insert(study_round_answers).values(
                        round_id=round_.id,
                        position=round_.position,
                        user_id=submission.user_id,
                        attempt_id=attempt.id,
                        elapsed_s=elapsed_s,
                        submitted_at=now,
                    )
                )
        except IntegrityError as error:
            raise AlreadyAnsweredError from error
        return attempt

    async def answers(self, round_id: int, position: int | None = None) -> list[RoundAnswer]:
        """A round's answers (of one question, or all), with their grades as far as they are in."""
        query = (
            select(
                study_round_answers.c.user_id,
                study_round_answers.c.attempt_id,
                study_round_answers.c.position,
                study_round_answers.c.elapsed_s,
                study_round_answers.c.submitted_at,
                attempts.c.status,
                attempts.c.grade,
            )
            .join(attempts, attempts.c.id == study_round_answers.c.attempt_id)
            .where(study_round_answers.c.round_id == round_id)
            .order_by(study_round_answers.c.position, study_round_answers.c.submitted_at, study_round_answers.c.user_id)
        )
        if position is not None:
            query = query.where(study_round_answers.c.position == position)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_answer_from(row) for row in rows]


class DailySchedule(BaseModel):
    model_config = ConfigDict(frozen=True)

    guild_id: int
    channel_id: int
    local_time: str
    timezone: str
    topic: str | None
    next_post_at: datetime


class DailyPost(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    guild_id: int
    local_date: date
    question_id: str
    channel_id: int
    thread_id: int | None = None
    message_id: int | None = None
    status: str
    claimed_by: str
    claimed_at: datetime
    posted_at: datetime | None = None
    summary_posted_at: datetime | None = None


def _post_from(row: Row[Any]) -> DailyPost:
    return DailyPost.model_validate(dict(row._mapping))


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a day: the post when this caller won it, else None."""

    post: DailyPost | None

    @property
    def won(self) -> bool:
        return self.post is not None


class SqlDailyRepository:
    """The daily question: schedules (one per guild), claimed posts (one per guild and local day), answers."""

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    # -- schedules

    async def set_schedule(
        self,
        guild_id: int,
        *,
        channel_id: int,
        local_time: str,
        timezone: str,
        topic: str | None,
        next_post_at: datetime,
    ) -> DailySchedule:
        values = {
            "guild_id": guild_id,
            "channel_id": channel_id,
            "local_time": local_time,
            "timezone": timezone,
            "topic": topic,
            "next_post_at": next_post_at,
            "updated_at": self.clock.now(),
        }
        changes = {k: v for k, v in values.items() if k != "guild_id"}
        async with write_transaction(self.engine) as connection:
            await connection.execute(
                dialect_insert(connection, daily_schedules)
                .values(values)
                .on_conflict_do_update(index_elements=["guild_id"], set_=changes)
            )
        return DailySchedule.model_validate(values)

    async def remove_schedule(self, guild_id: int) -> bool:
        async with write_transaction(self.engine) as connection:
            result = await connection.execute(
                delete(daily_schedules)
                .where(daily_schedules.c.guild_id == guild_id)
                .returning(daily_schedules.c.guild_id)
            )
            return result.first() is not None

    async def schedule(self, guild_id: int) -> DailySchedule | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(select(daily_schedules).where(daily_schedules.c.guild_id == guild_id))
            ).first()
        return DailySchedule.model_validate(dict(row._mapping)) if row else None

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[DailySchedule]:
        query = (
            select(daily_schedules)
            .where(daily_schedules.c.next_post_at <= now)
            .order_by(daily_schedules.c.next_post_at)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [DailySchedule.model_validate(dict(row._mapping)) for row in rows]

    async def next_due(self) -> datetime | None:
        async with self.engine.connect() as connection:
            value: datetime | None = await connection.scalar(select(func.min(daily_schedules.c.next_post_at)))
        return value

    async def reschedule(self, guild_id: int, expected: datetime, next_post_at: datetime) -> bool:
        """Move a schedule on, only if nobody else did (compare-and-set on `next_post_at`)."""
        async with write_transaction(self.engine) as connection:
            result = await connection.execute(
                update(daily_schedules)
                .where(daily_schedules.c.guild_id == guild_id, daily_schedules.c.next_post_at == expected)
                .values(next_post_at=next_post_at, updated_at=self.clock.now())
                .returning(daily_schedules.c.guild_id)
            )
            return result.first() is not None

    # -- posts

    async def claim(self, guild_id: int, local_date: date, *, question_id: str, channel_id: int, owner: str) -> Claim:
        """Atomically claim the guild's post for `local_date` (an insert into a UNIQUE key): exactly one caller wins,
        whatever the number of processes or restarts. The loser gets `Claim(None)` and must not post."""
        now = self.clock.now()
        values = {
            "guild_id": guild_id,
            "local_date": local_date,
            "question_id": question_id,
            "channel_id": channel_id,
            "status": "claimed",
            "claimed_by": owner[:64],
            "claimed_at": now,
        }
        async with write_transaction(self.engine) as connection:
            statement: Any = dialect_insert(connection, daily_posts)
            result = await connection.execute(
                statement.values(values)
                .on_conflict_do_nothing(index_elements=["guild_id", "local_date"])
                .returning(daily_posts.c.id)
            )
            post_id = result.scalar()
        if post_id is None:
            return Claim(None)
        return Claim(DailyPost(id=int(post_id), **values))

    async def mark_posted(self, post_id: int, *, thread_id: int | None, message_id: int | None) -> None:
        async with write_transaction(self.engine) as connection:
            await connection.execute(
                update(daily_posts)
                .where(daily_posts.c.id == post_id)
                .values(status="posted", thread_id=thread_id, message_id=message_id, posted_at=self.clock.now())
            )

    async def mark_failed(self, post_id: int) -> None:
        async with write_transaction(self.engine) as connection:
            await connection.execute(update(daily_posts).where(daily_posts.c.id == post_id).values(status="failed"))

    async def get_post(self, post_id: int) -> DailyPost:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(daily_posts).where(daily_posts.c.id == post_id))).first()
        if row is None:
            raise DailyPostNotFoundError(post_id)
        return _post_from(row)

    async def has_post(self, guild_id: int, local_date: date) -> bool:
        """Whether the guild's post for `local_date` was claimed (posted, failed or in hand): that day can't post."""
        query = select(daily_posts.c.id).where(
            daily_posts.c.guild_id == guild_id, daily_posts.c.local_date == local_date
        )
        async with self.engine.connect() as connection:
            return await connection.scalar(query.limit(1)) is not None

    async def posts(self, guild_id: int, *, limit: int = 30) -> list[DailyPost]:
        """The guild's posts, newest day first."""
        query = (
            select(daily_posts)
            .where(daily_posts.c.guild_id == guild_id)
            .order_by(daily_posts.c.local_date.desc())
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_post_from(row) for row in rows]

    async def unsummarised(self, guild_id: int, before: date) -> list[DailyPost]:
        """Posted days before `before` whose summary is still to be posted (oldest first)."""
        query = (
            select(daily_posts)
            .where(
                daily_posts.c.guild_id == guild_id,
                daily_posts.c.status == "posted",
                daily_posts.c.summary_posted_at.is_(None),
                daily_posts.c.local_date < before,
            )
            .order_by(daily_posts.c.local_date)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_post_from(row) for row in rows]

    async def mark_summarised(self, post_id: int) -> bool:
        """Claim the post's summary (compare-and-set), so it is posted once."""
        async with write_transaction(self.engine) as connection:
            result = await connection.execute(
                update(daily_posts)
                .where(daily_posts.c.id == post_id, daily_posts.c.summary_posted_at.is_(None))
                .values(summary_posted_at=self.clock.now())
                .returning(daily_posts.c.id)
            )
            return result.first() is not None

    # -- answers

    async def submit_answer(self, post: DailyPost, submission: AnswerSubmission) -> Attempt:
        """Store a member's answer to the day's question with its grading job; one answer per member and day."""
        now = self.clock.now()
        started = post.posted_at or post.claimed_at
        try:
            async with write_transaction(self.engine) as connection:
                attempt = await _submit(connection, submission, now)
                await connection.execute(
                    insert(daily_answers).values(
                        post_id=post.id,
                        user_id=submission.user_id,
                        attempt_id=attempt.id,
                        elapsed_s=max(0.0, (now - started).total_seconds()),
                        submitted_at=now,
                    )
                )
        except IntegrityError as error:
            raise AlreadyAnsweredError from error
        return attempt

    async def answers(self, post_id: int) -> list[RoundAnswer]:
        query = (
            select(
                daily_answers.c.user_id,
                daily_answers.c.attempt_id,
                daily_answers.c.elapsed_s,
                daily_answers.c.submitted_at,
                attempts.c.status,
                attempts.c.grade,
            )
            .join(attempts, attempts.c.id == daily_answers.c.attempt_id)
            .where(daily_answers.c.post_id == post_id)
            .order_by(daily_answers.c.submitted_at, daily_answers.c.user_id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_answer_from(row) for row in rows]


class SqlCustomBankRepository:
    """A guild's custom questions, a topic at a time: an import replaces the topic in one transaction."""

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    async def replace_topic(self, guild_id: int, topic: str, questions: Sequence[CustomQuestion]) -> tuple[int, int]:
        """Delete the guild's questions of `topic` (namespaced) and insert `questions`, atomically.

        Returns (removed, added)."""
        now = self.clock.now()
        async with write_transaction(self.engine) as connection:
            statement: Any = dialect_insert(connection, guilds)
            await connection.execute(
                statement.values(id=guild_id, settings={}, created_at=now).on_conflict_do_nothing(index_elements=["id"])
            )
            removed = await connection.execute(
                delete(custom_questions).where(
                    custom_questions.c.guild_id == guild_id, custom_questions.c.topic == topic
                )
            )
            if questions:
                await connection.execute(
                    insert(custom_questions),
                    [
                        {
                            "guild_id": guild_id,
                            "question_id": q.question_id,
                            "topic": q.topic,
                            "body": q.body,
                            "created_by": q.created_by,
                            "created_at": now,
                        }
                        for q in questions
                    ],
                )
        return removed.rowcount, len(questions)

    async def remove(self, guild_id: int, *, topic: str | None = None, question_id: str | None = None) -> list[str]:
        """Remove one question or a whole topic (namespaced); returns the removed ids."""
        if (topic is None) == (question_id is None):
            raise ValueError("remove() takes a topic or a question id")
        condition = (
            custom_questions.c.topic == topic if topic is not None else custom_questions.c.question_id == question_id
        )
        async with write_transaction(self.engine) as connection:
            result = await connection.execute(
                delete(custom_questions)
                .where(custom_questions.c.guild_id == guild_id, condition)
                .returning(custom_questions.c.question_id)
            )
            return sorted(str(value) for value in result.scalars())

    async def list(self, guild_id: int | None = None) -> list[CustomQuestion]:
        """Every guild's questions (to load the bank view at start), or one guild's."""
        query = select(custom_questions).order_by(custom_questions.c.guild_id, custom_questions.c.question_id)
        if guild_id is not None:
            query = query.where(custom_questions.c.guild_id == guild_id)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [custom_question_from_row(row) for row in rows]

    async def count(self, guild_id: int) -> dict[str, int]:
        """Questions per (namespaced) topic."""
        query = (
            select(custom_questions.c.topic, func.count())
            .where(custom_questions.c.guild_id == guild_id)
            .group_by(custom_questions.c.topic)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {str(row[0]): int(row[1]) for row in rows}
