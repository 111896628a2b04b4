"""The interview engine's reads and writes per answer, and its guarantees under concurrent actions, on both engines.

An answer costs one session read and one write transaction (the attempt, its grading job and the session's move
to GRADING); recording its grade one read and one write transaction (the session and the review card). Session
saves are version-checked (migration 0004), so two actions decided on the same state never both land: a
double-submitted answer is stored once, a double-clicked Skip skips one question, and a grade never reopens an
interview that was ended meanwhile.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import UserFacingError
from bot.core.models import Attempt, GradeResult, Transport
from bot.core.question_bank import load_bank
from bot.core.service import InterviewService, MovedOnError, NotYourSessionError, SessionView, Where
from bot.core.session import ItemOutcome, Mode, SessionState
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import not_a_database_outage, write_transaction
from bot.storage.progress import SqlProgressRepository
from bot.storage.sessions import SqlSessionRepository
from bot.storage.tables import attempts, grading_jobs, review_schedules
from tests.storage._storage_helpers import FixedClock, submission

FIXTURE_BANK = Path(__file__).resolve().parent.parent / "data" / "bank"
USER = 42
DM = Where(context="dm", transport=Transport.DM)


class Statements:
    """The SQL statements and transactions an engine runs. BEGIN is left out of `sql`: SQLite's goes through the
    cursor, PostgreSQL's doesn't; `transactions` counts both the same way. PostgreSQL's wake-ups for other processes
    (`SELECT pg_notify`, bot/storage/wakeups.py) are listed apart, in `notified`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.sql: list[str] = []
        self.notified: list[str] = []
        self.transactions = 0
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begin)

    def _statement(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SELECT pg_notify("):
            self.notified.append(statement.split("'")[1])
        elif not statement.lstrip().upper().startswith("BEGIN"):
            self.sql.append(" ".join(statement.split()[:3]))

    def _begin(self, _connection: Any) -> None:
        self.transactions += 1

    def reset(self) -> None:
        self.sql.clear()
        self.notified.clear()
        self.transactions = 0

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "begin", self._begin)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[Statements]:
    counter = Statements(engine)
    yield counter
    counter.close()


@pytest.fixture
def service(engine: AsyncEngine) -> InterviewService:
    clock = FixedClock()
    return InterviewService(
        load_bank(FIXTURE_BANK),
        SqlSessionRepository(engine, clock),
        SqlAttemptRepository(engine, clock),
        SqlProgressRepository(engine, clock),
        clock=clock,
        rng_factory=lambda: random.Random(1),
    )


async def _start(service: InterviewService, count: int = 3) -> int:
    view = await service.start(USER, DM, Mode.INTERVIEW, count=count)
    assert view.record.id is not None
    return view.record.id


async def _graded(service: InterviewService, attempt: Attempt, score: float = 7.0) -> Attempt:
    return await service.attempts.save_grade(attempt.id, GradeResult(score=score, grader="test"))  # type: ignore[attr-defined]


async def _stored_attempts(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(attempts.c.id).order_by(attempts.c.id))).scalars())


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


# --- round trips


async def test_an_answer_is_one_write_transaction_that_reads_the_session(
    service: InterviewService, statements: Statements
) -> None:
    session_id = await _start(service)
    statements.reset()
    attempt = await service.submit_answer(session_id, USER, "my answer")
    assert statements.sql == [
        "SELECT interview_sessions.id, interview_sessions.user_id,",
        "INSERT INTO attempts",
        "INSERT INTO grading_jobs",
        "UPDATE interview_sessions SET",
    ]
    # One write transaction: the session is read where no other write can land, and the answer can't be saved
    # without the session's move to GRADING.
    assert statements.transactions == 1
    # In it, on PostgreSQL, the NOTIFY that wakes the grading workers of every process when it commits.
    postgres = statements.engine.dialect.name == "postgresql"
    assert statements.notified == (["mockinterview_jobs_queued"] if postgres else [])
    view = await service.get(session_id)
    assert (view.session.state, view.session.pending_attempt_id) == (SessionState.GRADING, attempt.id)


async def test_a_caller_that_read_the_session_submits_with_no_second_read(
    service: InterviewService, statements: Statements
) -> None:
    session_id = await _start(service)
    view = await service.get(session_id)
    statements.reset()
    await service.submit_to(view, "my answer")
    assert [s.split()[0] for s in statements.sql] == ["INSERT", "INSERT", "UPDATE"]
    assert statements.transactions == 1


async def test_recording_a_grade_is_one_write_transaction_and_only_once(
    engine: AsyncEngine, service: InterviewService, statements: Statements
) -> None:
    session_id = await _start(service)
    graded = await _graded(service, await service.submit_answer(session_id, USER, "my answer"))
    statements.reset()
    view = await service.record_grade(graded)
    assert view is not None and view.session.state == SessionState.FEEDBACK
    assert statements.sql == [
        "SELECT interview_sessions.id, interview_sessions.user_id,",
        "UPDATE interview_sessions SET",
        "UPDATE attempts SET",  # the answer's review claimed: it is applied once
        "SELECT review_schedules.card FROM",
        "INSERT INTO review_schedules",
    ]
    assert statements.transactions == 1  # the session is read where no other write can land before its save
    async with engine.connect() as connection:
        card = await connection.scalar(select(review_schedules.c.card))

    statements.reset()
    assert await service.record_grade(graded) is None  # a redelivered notification records nothing twice
    assert [s.split()[0] for s in statements.sql] == ["SELECT"]
    async with engine.connect() as connection:
        assert await connection.scalar(select(review_schedules.c.card)) == card
    again = await service.feedback_view(graded)  # what a redelivery shows: the session as it stands
    assert again is not None and again.record.version == view.record.version


async def test_a_skip_saves_the_session_and_schedules_the_review_in_one_transaction(
    engine: AsyncEngine, service: InterviewService, statements: Statements
) -> None:
    session_id = await _start(service)
    statements.reset()
    view = await service.skip(session_id, USER)
    assert view.prompt is not None and view.prompt.number == 2
    assert [s.split()[0] for s in statements.sql] == ["SELECT", "UPDATE", "SELECT", "INSERT"]
    assert statements.transactions == 2
    assert await _count(engine, review_schedules) == 1


# --- concurrent actions


async def test_a_double_submitted_answer_is_stored_once(engine: AsyncEngine, service: InterviewService) -> None:
    session_id = await _start(service)
    results = await asyncio.gather(
        service.submit_answer(session_id, USER, "first click"),
        service.submit_answer(session_id, USER, "second click"),
        return_exceptions=True,
    )
    stored = [r for r in results if isinstance(r, Attempt)]
    refused = [r for r in results if isinstance(r, UserFacingError)]
    assert len(stored) == 1 and len(refused) == 1, results
    assert "no question waiting" in refused[0].message
    assert await _stored_attempts(engine) == [stored[0].id]
    assert await _count(engine, grading_jobs) == 1
    view = await service.get(session_id)
    assert (view.session.state, view.session.pending_attempt_id) == (SessionState.GRADING, stored[0].id)


async def _started_by(service: InterviewService, user_id: int) -> int:
    view = await service.start(user_id, DM, Mode.INTERVIEW, count=3)
    assert view.record.id is not None
    return view.record.id


async def test_answers_submitted_together_are_stored_together_each_on_its_own_session(
    engine: AsyncEngine, service: InterviewService, statements: Statements
) -> None:
    users = range(100, 110)
    sessions = {user: await _started_by(service, user) for user in users}
    statements.reset()
    stored = await asyncio.gather(*(service.submit_answer(sessions[u], u, f"answer of {u}") for u in users))
    # One write transaction for the burst, with multi-row statements (a group commit), not one per answer.
    assert statements.transactions == 1
    verbs = [s.split()[0] for s in statements.sql]
    # One read of the sessions and one (executemany) UPDATE; the INSERTs are multi-row on PostgreSQL, while SQLite
    # takes the attempts row by row to return their ids in order.
    assert (verbs[0], verbs[-1], verbs.count("SELECT"), verbs.count("UPDATE")) == ("SELECT", "UPDATE", 1, 1)
    for user, attempt in zip(users, stored, strict=True):
        assert (attempt.user_id, attempt.session_id, attempt.answer) == (user, sessions[user], f"answer of {user}")
        view = await service.get(sessions[user])
        assert (view.session.state, view.session.pending_attempt_id) == (SessionState.GRADING, attempt.id)
    assert await _count(engine, grading_jobs) == len(users)


async def test_in_a_batch_a_refused_answer_refuses_only_itself_and_a_double_submit_stores_once(
    engine: AsyncEngine, service: InterviewService
) -> None:
    alone, doubled = await _started_by(service, 201), await _started_by(service, 202)
    first, click, second_click, intruder = await asyncio.gather(
        service.submit_answer(alone, 201, "an answer"),
        service.submit_answer(doubled, 202, "first click"),
        service.submit_answer(doubled, 202, "second click"),  # in the same batch as the first click
        service.submit_answer(doubled, 999, "not my session"),
        return_exceptions=True,
    )
    assert isinstance(first, Attempt) and isinstance(click, Attempt), (first, click)
    assert isinstance(second_click, UserFacingError) and "no question waiting" in second_click.message
    assert isinstance(intruder, NotYourSessionError)
    assert await _stored_attempts(engine) == sorted([first.id, click.id])
    view = await service.get(doubled)
    assert (view.session.state, view.session.pending_attempt_id) == (SessionState.GRADING, click.id)


async def test_in_a_batch_an_answer_that_cannot_be_stored_fails_only_itself(
    engine: AsyncEngine, service: InterviewService
) -> None:
    sessions = {user: await _started_by(service, user) for user in (401, 402, 403)}

    def unstorable(_record: Any) -> dict[str, object]:  # an adapter's bug: a delivery target that isn't JSON
        return {"adapter": "test", "channel": object()}

    kept, failed, kept_too = await asyncio.gather(
        service.submit_answer(sessions[401], 401, "kept"),
        service.submit_answer(sessions[402], 402, "its target can't be stored", delivery=unstorable),
        service.submit_answer(sessions[403], 403, "kept too"),
        return_exceptions=True,
    )
    # The batch's transaction failed on the one bad row; the other answers were then stored one by one.
    assert isinstance(kept, Attempt) and isinstance(kept_too, Attempt), (kept, kept_too)
    assert isinstance(failed, StatementError) and "JSON serializable" in str(failed)
    assert await _stored_attempts(engine) == sorted([kept.id, kept_too.id])
    assert (await service.get(sessions[402])).session.state == SessionState.AWAITING_ANSWER  # still answerable
    for user, attempt in ((401, kept), (403, kept_too)):
        assert (await service.get(sessions[user])).session.pending_attempt_id == attempt.id


def test_only_errors_that_may_be_one_rows_own_are_retried_row_by_row() -> None:
    locked = OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
    assert not any(map(not_a_database_outage, (locked, ConnectionRefusedError(), TimeoutError())))
    duplicate = IntegrityError("INSERT INTO attempts", {}, Exception("UNIQUE constraint failed"))
    assert all(map(not_a_database_outage, (duplicate, StatementError("not JSON", None, {}, TypeError()))))


async def test_postgresql_going_away_counts_as_an_outage_not_as_one_rows_fault(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite reports a database in trouble as OperationalError (the test above)")
    errors: list[Exception] = []
    for statements in (
        ["SELECT pg_terminate_backend(pg_backend_pid())"],  # what a restart or a failover does to a connection
        ["SET LOCAL statement_timeout = 10", "SELECT pg_sleep(1)"],
    ):
        try:
            async with write_transaction(engine) as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        except Exception as error:
            errors.append(error)
    assert len(errors) == 2 and not any(map(not_a_database_outage, errors)), errors


async def test_grades_recorded_together_share_one_write_transaction_and_a_redelivery_records_nothing(
    engine: AsyncEngine, service: InterviewService, statements: Statements
) -> None:
    users = range(300, 306)
    sessions = {user: await _started_by(service, user) for user in users}
    graded = [
        await _graded(service, await service.submit_answer(sessions[u], u, f"answer of {u}"), score=8.0) for u in users
    ]
    statements.reset()
    # Each grade twice, as a redelivery alongside its first delivery: the second finds it recorded.
    views = await asyncio.gather(*(service.record_grade(a) for a in graded + graded))
    assert statements.transactions == 1
    verbs = [s.split()[0] for s in statements.sql]
    # The sessions (one read, one executemany), then per answer its review claim and its card.
    assert (verbs.count("SELECT") - len(users), verbs.count("UPDATE") - len(users)) == (1, 1)
    firsts, seconds = views[: len(users)], views[len(users) :]
    assert all(v is not None and v.session.state == SessionState.FEEDBACK for v in firsts)
    assert seconds == [None] * len(users)
    for user, attempt in zip(users, graded, strict=True):
        view = await service.get(sessions[user])
        assert view.session.state == SessionState.FEEDBACK and view.session.results[-1].attempt_id == attempt.id
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(review_schedules)) == len(users)


async def test_two_submits_decided_on_the_same_read_store_one_answer(
    engine: AsyncEngine, service: InterviewService
) -> None:
    session_id = await _start(service)
    first, second = [await service.get(session_id) for _ in range(2)]
    results = await asyncio.gather(
        service.submit_to(first, "first"), service.submit_to(second, "second"), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["Attempt", "UserFacingError"], results
    assert len(await _stored_attempts(engine)) == 1
    assert await _count(engine, grading_jobs) == 1


async def test_an_answer_to_a_question_skipped_meanwhile_is_not_stored(
    engine: AsyncEngine, service: InterviewService
) -> None:
    session_id = await _start(service)
    typed_for_the_first: SessionView = await service.get(session_id)
    moved_on = await service.skip(session_id, USER)
    with pytest.raises(MovedOnError):
        await service.submit_to(typed_for_the_first, "meant for question 1")
    assert await _stored_attempts(engine) == []
    view = await service.get(session_id)
    assert view.session.state == SessionState.AWAITING_ANSWER and view.session.current == moved_on.session.current
    assert [r.outcome for r in view.session.results] == [ItemOutcome.SKIPPED]


async def test_a_submit_racing_a_skip_applies_exactly_one_of_them(
    engine: AsyncEngine, service: InterviewService
) -> None:
    session_id = await _start(service)
    view = await service.get(session_id)
    answer, skip = await asyncio.gather(
        service.submit_to(view, "my answer"), service.skip(session_id, USER), return_exceptions=True
    )
    final = (await service.get(session_id)).session
    if isinstance(answer, Attempt):  # the answer won: the skip found nothing waiting
        assert isinstance(skip, UserFacingError)
        assert (final.state, final.pending_attempt_id, final.results) == (SessionState.GRADING, answer.id, [])
        assert await _stored_attempts(engine) == [answer.id]
    else:  # the skip won: the answer was not stored, and not moved onto the next question either
        assert isinstance(answer, MovedOnError) and isinstance(skip, SessionView)
        assert [r.outcome for r in final.results] == [ItemOutcome.SKIPPED] and final.position == 1
        assert await _stored_attempts(engine) == []


async def test_two_skips_decided_on_the_same_state_skip_one_question(
    service: InterviewService, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = await _start(service)
    sessions = service.sessions
    save = sessions.save
    second: list[SessionView] = []

    async def other_skip_first(record: Any, **options: Any) -> Any:
        monkeypatch.setattr(sessions, "save", save)
        second.append(await service.skip(session_id, USER))  # read the same state, saved first
        return await save(record, **options)

    monkeypatch.setattr(sessions, "save", other_skip_first)
    with pytest.raises(MovedOnError):  # re-read: question 2 is up now, and this click was for question 1
        await service.skip(session_id, USER)
    final = (await service.get(session_id)).session
    assert (final.position, len(final.results)) == (1, 1)
    assert final.current == second[0].session.current


async def test_a_hint_saved_between_the_read_and_the_save_of_an_answer_is_kept_and_counted(
    service: InterviewService,
) -> None:
    session_id = await _start(service)
    view = await service.get(session_id)  # the answer is decided on this read...
    await service.hint(session_id, USER)  # ...then a hint lands first
    attempt = await service.submit_to(view, "my answer")  # re-decided on the fresh read: same question
    assert attempt.hints_used == 1
    final = (await service.get(session_id)).session
    assert (final.state, final.pending_attempt_id) == (SessionState.GRADING, attempt.id)


async def test_a_grade_arriving_after_the_interview_ended_joins_its_results_and_never_reopens_it(
    service: InterviewService,
) -> None:
    session_id = await _start(service)
    graded = await _graded(service, await service.submit_answer(session_id, USER, "my answer"))
    await service.end(session_id, USER)
    late = await service.record_grade(graded)  # the answer the ended interview waited on joins its results
    assert late is not None and (late.session.state, late.record.active) == (SessionState.FINISHED, False)
    assert [r.attempt_id for r in late.session.results] == [graded.id]
    assert await service.record_grade(graded) is None  # a redelivery records nothing twice
    view = await service.feedback_view(graded)  # what the feedback shows: the ended interview
    assert view is not None and (view.session.state, view.record.active) == (SessionState.FINISHED, False)
    final = await service.get(session_id)
    assert (final.session.state, final.record.active) == (SessionState.FINISHED, False)


async def test_a_grade_and_an_end_at_once_leave_the_interview_ended(service: InterviewService) -> None:
    session_id = await _start(service)
    graded = await _graded(service, await service.submit_answer(session_id, USER, "my answer"))
    await asyncio.gather(service.record_grade(graded), service.end(session_id, USER))
    final = await service.get(session_id)
    assert (final.session.state, final.record.active) == (SessionState.FINISHED, False)


async def test_a_grade_outside_a_session_schedules_its_review_in_one_write_transaction(
    engine: AsyncEngine, service: InterviewService, statements: Statements
) -> None:
    repo: SqlAttemptRepository = service.attempts  # type: ignore[assignment]
    answer = await repo.submit_answer(submission(USER, question_id="alpha.q1"))
    graded = await _graded(service, answer, score=9.0)
    statements.reset()
    assert await service.record_grade(graded) is None
    # The answer's review claimed (its row holds its user, so no user insert), the card read, the card stored.
    assert [s.split()[0] for s in statements.sql] == ["UPDATE", "SELECT", "INSERT"]
    assert statements.transactions == 1
    async with engine.connect() as connection:
        row = (await connection.execute(select(review_schedules))).one()
    assert (row.user_id, row.question_id, row.last_score) == (USER, "alpha.q1", 9.0)
