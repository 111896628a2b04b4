"""Users (timezone, settings), guilds (settings) and each guild's custom questions."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.errors import UserFacingError
from bot.core.models import CustomQuestion, UserProfile
from bot.core.ports import Clock, SystemClock
from bot.storage.attempts import ensure_user
from bot.storage.engine import dialect_insert, write_transaction
from bot.storage.tables import custom_questions, guilds, users


class UnknownTimezoneError(UserFacingError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is not a timezone I know. Use an IANA name such as Europe/Berlin.")
        self.name = name


class CustomQuestionExistsError(UserFacingError):
    def __init__(self, question_id: str) -> None:
        super().__init__(f"This server already has a question with id {question_id!r}.")
        self.question_id = question_id


async def _ensure_guild(connection: AsyncConnection, guild_id: int, clock: Clock) -> None:
    values = {"id": guild_id, "settings": {}, "created_at": clock.now()}
    await connection.execute(
        dialect_insert(connection, guilds).values(values).on_conflict_do_nothing(index_elements=["id"])
    )


def custom_question_from_row(row: Row[Any]) -> CustomQuestion:
    return CustomQuestion(
        guild_id=row.guild_id,
        question_id=row.question_id,
        topic=row.topic,
        body=row.body,
        created_by=row.created_by,
        created_at=row.created_at,
    )


class SqlAccountRepository:
    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    # --- users

    async def get_user(self, user_id: int) -> UserProfile:
        """The user's profile; defaults (UTC, no settings) for a user never seen."""
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(users).where(users.c.id == user_id))).first()
        if row is None:
            return UserProfile(user_id=user_id)
        return UserProfile(user_id=row.id, timezone=row.timezone, settings=row.settings or {})

    async def set_timezone(self, user_id: int, timezone: str) -> UserProfile:
        try:
            key = ZoneInfo(timezone).key
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise UnknownTimezoneError(timezone) from error
        async with write_transaction(self.engine) as connection:
            await ensure_user(connection, user_id, self.clock.now())
            await connection.execute(update(users).where(users.c.id == user_id).values(timezone=key))
        return await self.get_user(user_id)

    async def update_user_settings(self, user_id: int, changes: dict[str, Any]) -> UserProfile:
        """Merge `changes` into the user's settings (a key set to None is removed)."""
        async with write_transaction(self.engine) as connection:
            await ensure_user(connection, user_id, self.clock.now())
            current = await connection.scalar(select(users.c.settings).where(users.c.id == user_id))
            merged = _merge(current, changes)
            await connection.execute(update(users).where(users.c.id == user_id).values(settings=merged))
        return await self.get_user(user_id)

    # --- guilds

    async def guild_settings(self, guild_id: int) -> dict[str, Any]:
        async with self.engine.connect() as connection:
            settings = await connection.scalar(select(guilds.c.settings).where(guilds.c.id == guild_id))
        return dict(settings) if isinstance(settings, dict) else {}

    async def update_guild_settings(self, guild_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the guild's settings (a key set to None is removed)."""
        async with write_transaction(self.engine) as connection:
            await _ensure_guild(connection, guild_id, self.clock)
            current = await connection.scalar(select(guilds.c.settings).where(guilds.c.id == guild_id))
            merged = _merge(current, changes)
            await connection.execute(update(guilds).where(guilds.c.id == guild_id).values(settings=merged))
        return merged

    # --- custom questions

    async def add_custom_question(self, question: CustomQuestion) -> CustomQuestion:
        now = self.clock.now()
        try:
            async with write_transaction(self.engine) as connection:
                await _ensure_guild(connection, question.guild_id, self.clock)
                await connection.execute(
                    insert(custom_questions).values(
                        guild_id=question.guild_id,
                        question_id=question.question_id,
                        topic=question.topic,
                        body=question.body,
                        created_by=question.created_by,
                        created_at=now,
                    )
                )
        except IntegrityError as error:
            raise CustomQuestionExistsError(question.question_id) from error
        return question.model_copy(update={"created_at": now})

    async def list_custom_questions(self, guild_id: int, *, topic: str | None = None) -> list[CustomQuestion]:
        query = select(custom_questions).where(custom_questions.c.guild_id == guild_id)
        if topic is not None:
            query = query.where(custom_questions.c.topic == topic)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(custom_questions.c.question_id))).all()
        return [custom_question_from_row(row) for row in rows]

    async def remove_custom_question(self, guild_id: int, question_id: str) -> bool:
        async with write_transaction(self.engine) as connection:
            result = await connection.execute(
                delete(custom_questions)
                .where(custom_questions.c.guild_id == guild_id, custom_questions.c.question_id == question_id)
                .returning(custom_questions.c.question_id)
            )
            return result.first() is not None


def _merge(current: object, changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current) if isinstance(current, dict) else {}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
