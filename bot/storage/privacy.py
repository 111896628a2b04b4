"""A user's data: export all of it (JSON-ready) or forget all of it (one transaction).

`USER_DATA` says, for every table, which rows belong to a user; a test fails when a table is added to
the schema without being listed here (or in `NOT_USER_DATA`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.ports import Clock, SystemClock
from bot.storage.engine import write_transaction
from bot.storage.tables import (
    attempts,
    custom_questions,
    daily_answers,
    daily_posts,
    daily_schedules,
    grading_jobs,
    guilds,
    interview_sessions,
    review_schedules,
    study_round_answers,
    study_rounds,
    users,
)

EXPORT_VERSION = 1


def _own_attempts(user_id: int) -> ColumnElement[bool]:
    return grading_jobs.c.attempt_id.in_(select(attempts.c.id).where(attempts.c.user_id == user_id))


# Which rows of each table are the user's. Deleted children first (the order `forget_user` uses).
USER_DATA: dict[str, tuple[Table, Callable[[int], ColumnElement[bool]]]] = {
    # Study servers (issue 7): who answered which round question / daily post (the answers are attempts).
    "study_round_answers": (study_round_answers, lambda user_id: study_round_answers.c.user_id == user_id),
    "daily_answers": (daily_answers, lambda user_id: daily_answers.c.user_id == user_id),
    # A round belongs to its guild; forgetting its host removes their id from it.
    "study_rounds": (study_rounds, lambda user_id: study_rounds.c.host_id == user_id),
    "grading_jobs": (grading_jobs, _own_attempts),
    "attempts": (attempts, lambda user_id: attempts.c.user_id == user_id),
    "review_schedules": (review_schedules, lambda user_id: review_schedules.c.user_id == user_id),
    "interview_sessions": (interview_sessions, lambda user_id: interview_sessions.c.user_id == user_id),
    # Custom questions belong to their guild; forgetting the author removes their name from them.
    "custom_questions": (custom_questions, lambda user_id: custom_questions.c.created_by == user_id),
    "users": (users, lambda user_id: users.c.id == user_id),
}
KEEP_ROWS_ANONYMISED: dict[str, dict[str, object]] = {
    "custom_questions": {"created_by": None},
    "study_rounds": {"host_id": 0},
}
# Server-wide settings and schedules; no user's personal data.
NOT_USER_DATA = {guilds.name, daily_schedules.name, daily_posts.name}


def _jsonable(value: Any) -> Any:  # noqa: ANN401 - any column value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


class SqlPrivacyRepository:
    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    async def export_user(self, user_id: int) -> dict[str, Any]:
        """Every row of the user's, table by table, as plain JSON types (one consistent snapshot)."""
        export: dict[str, Any] = {
            "format": "mockinterview-user-export",
            "version": EXPORT_VERSION,
            "user_id": user_id,
            "exported_at": self.clock.now().isoformat(),
            "tables": {},
        }
        async with self.engine.connect() as connection:
            # One transaction that sees one snapshot: SQLite's read transactions do; PostgreSQL's default READ
            # COMMITTED gives every SELECT its own, so an answer stored meanwhile would show in `attempts` without
            # its grading job. REPEATABLE READ reads every table as of the first SELECT (the pool resets the level).
            if connection.dialect.name == "postgresql":
                await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                for name, (table, owned) in USER_DATA.items():
                    primary = list(table.primary_key.columns)
                    rows = (await connection.execute(select(table).where(owned(user_id)).order_by(*primary))).all()
                    export["tables"][name] = [
                        {key: _jsonable(value) for key, value in row._mapping.items()} for row in rows
                    ]
        return export

    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Delete every row of the user's in every table, in one transaction; returns rows per table."""
        removed: dict[str, int] = {}
        async with write_transaction(self.engine) as connection:
            for name, (table, owned) in USER_DATA.items():
                if name in KEEP_ROWS_ANONYMISED:
                    result = await connection.execute(
                        update(table).where(owned(user_id)).values(KEEP_ROWS_ANONYMISED[name])
                    )
                else:
                    result = await connection.execute(delete(table).where(owned(user_id)))
                removed[name] = result.rowcount
        return removed
