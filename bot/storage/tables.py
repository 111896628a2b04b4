"""The schema, as SQLAlchemy Core tables. Alembic migrations in `migrations/` create and evolve it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive text and would drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ANN401
        if value is None:
            return None
        aware: datetime = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware


# Autoincrement ids: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _now_column(name: str) -> Column[object]:
    return Column(name, UtcDateTime(), nullable=False)


users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # Discord snowflake; 0 = terminal user
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("settings", JSON, nullable=False, default=dict),
    _now_column("created_at"),
)

guilds = Table(
    "guilds",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("settings", JSON, nullable=False, default=dict),
    _now_column("created_at"),
)

interview_sessions = Table(
    "interview_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("guild_id", BigInteger, nullable=True),
    Column("context", String(64), nullable=False),  # "terminal", "dm", "guild:<id>": one active session each
    Column("transport", String(16), nullable=False),  # terminal | dm | thread | channel
    Column("channel_id", BigInteger, nullable=True),
    Column("thread_id", BigInteger, nullable=True),
    Column("message_id", BigInteger, nullable=True),
    Column("mode", String(16), nullable=False),  # practice | interview | review | study
    Column("state", String(24), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("snapshot", JSON, nullable=False),  # the engine's serialised session
    _now_column("created_at"),
    _now_column("updated_at"),
    Column("finished_at", UtcDateTime(), nullable=True),
    # Bumped by every save, which applies only if the row is still at the version it read (0004): optimistic locking.
    Column("version", Integer, nullable=False, server_default="0"),
    Index("ix_sessions_user_created", "user_id", "created_at"),
    # One active session per user per context, enforced by the database.
    Index(
        "uq_sessions_one_active",
        "user_id",
        "context",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", Id, ForeignKey("interview_sessions.id", ondelete="SET NULL"), nullable=True),
    Column("guild_id", BigInteger, nullable=True),
    Column("question_id", String(100), nullable=False),
    Column("topic", String(60), nullable=False),
    Column("kind", String(16), nullable=False, server_default="answer"),  # answer | follow_up | retry | study
    Column("answer", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | graded | failed
    Column("score", Float, nullable=True),  # 0-10, copied out of grade for indexes and aggregates
    Column("grade", JSON, nullable=True),
    Column("grader", String(32), nullable=True),
    Column("model", String(100), nullable=True),
    Column("prompt_version", String(32), nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("cached_tokens", Integer, nullable=True),
    Column("cost_usd", Float, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Column("hints_used", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=True),
    Column("delivery", JSON(none_as_null=True), nullable=True),  # where to deliver feedback (adapter-specific)
    Column("delivery_status", String(16), nullable=False, server_default="none"),  # none | pending | delivered
    _now_column("created_at"),
    Column("graded_at", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    # Delivery lease (0002): a notifier holds an attempt's delivery while it sends, so two don't both send.
    Column("delivery_lease_owner", String(64), nullable=True),
    Column("delivery_lease_expires_at", UtcDateTime(), nullable=True),
    Column("delivery_tries", Integer, nullable=False, server_default="0"),
    # When its review card was rescheduled (0005): at most once per attempt, whoever records the grade.
    Column("reviewed_at", UtcDateTime(), nullable=True),
    Index("ix_attempts_user_created", "user_id", "created_at"),
    Index("ix_attempts_user_topic_created", "user_id", "topic", "created_at"),
    # Covers guild leaderboards (0002, 0006): a window of one guild is read from the index alone.
    Index(
        "ix_attempts_guild_board",
        "guild_id",
        "created_at",
        "status",
        "user_id",
        "question_id",
        "score",
        "kind",
        "hints_used",
    ),
    Index("ix_attempts_session", "session_id"),
    Index("ix_attempts_delivery_status", "delivery_status"),
)

grading_jobs = Table(
    "grading_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("attempt_id", Id, ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # queued | leased | done | failed
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", UtcDateTime(), nullable=True),
    _now_column("available_at"),
    Column("last_error", Text, nullable=True),
    _now_column("created_at"),
    _now_column("updated_at"),
    UniqueConstraint("attempt_id"),
    Index("ix_grading_jobs_status_available", "status", "available_at"),
)

review_schedules = Table(
    "review_schedules",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("question_id", String(100), primary_key=True),
    Column("card", JSON, nullable=False),  # fsrs Card.to_dict()
    Column("due_at", UtcDateTime(), nullable=False),
    Column("last_score", Float, nullable=True),
    _now_column("updated_at"),
    Index("ix_review_schedules_user_due", "user_id", "due_at"),
)

custom_questions = Table(
    "custom_questions",
    metadata,
    Column("guild_id", BigInteger, primary_key=True),
    Column("question_id", String(100), primary_key=True),
    Column("topic", String(60), nullable=False),
    Column("body", JSON, nullable=False),  # the validated bank-format question
    Column("created_by", BigInteger, nullable=True),
    _now_column("created_at"),
    Index("ix_custom_questions_created_by", "created_by"),
)

# --- Study servers (issue 7, migration 0003): live rounds, the daily question, and who answered them.

study_rounds = Table(
    "study_rounds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("host_id", BigInteger, nullable=False),  # 0 once the host asked to be forgotten
    Column("state", String(16), nullable=False),  # open | collecting | revealing | paused | ended
    Column("due_at", UtcDateTime(), nullable=True),  # when the scheduler must next look at it
    Column("snapshot", JSON, nullable=False),  # the engine's StudyRound, without the routing columns above
    _now_column("created_at"),
    _now_column("updated_at"),
    Index("ix_study_rounds_state_due", "state", "due_at"),
    Index("ix_study_rounds_guild_created", "guild_id", "created_at"),
    # One live round per channel, enforced by the database.
    Index(
        "uq_study_rounds_one_live",
        "channel_id",
        unique=True,
        sqlite_where=text("state <> 'ended'"),
        postgresql_where=text("state <> 'ended'"),
    ),
)

study_round_answers = Table(
    "study_round_answers",
    metadata,
    Column("round_id", Id, ForeignKey("study_rounds.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("attempt_id", Id, ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    Column("elapsed_s", Float, nullable=False),
    _now_column("submitted_at"),
    Index("ix_study_round_answers_attempt", "attempt_id"),
    Index("ix_study_round_answers_user", "user_id"),
)

daily_schedules = Table(
    "daily_schedules",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("local_time", String(5), nullable=False),  # HH:MM on the guild's wall clock
    Column("timezone", String(64), nullable=False),  # IANA name
    Column("topic", String(60), nullable=True),
    Column("next_post_at", UtcDateTime(), nullable=False),
    _now_column("updated_at"),
    Index("ix_daily_schedules_next_post_at", "next_post_at"),
)

daily_posts = Table(
    "daily_posts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("local_date", Date, nullable=False),  # the guild's local day this post belongs to
    Column("question_id", String(100), nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("thread_id", BigInteger, nullable=True),
    Column("message_id", BigInteger, nullable=True),
    Column("status", String(16), nullable=False),  # claimed | posted | failed
    Column("claimed_by", String(64), nullable=False),
    _now_column("claimed_at"),
    Column("posted_at", UtcDateTime(), nullable=True),
    Column("summary_posted_at", UtcDateTime(), nullable=True),
    # A day is posted at most once per guild, across restarts and processes: the claim is this insert.
    UniqueConstraint("guild_id", "local_date"),
)

daily_answers = Table(
    "daily_answers",
    metadata,
    Column("post_id", Id, ForeignKey("daily_posts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("attempt_id", Id, ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    Column("elapsed_s", Float, nullable=False),
    _now_column("submitted_at"),
    Index("ix_daily_answers_attempt", "attempt_id"),
    Index("ix_daily_answers_user", "user_id"),
)
