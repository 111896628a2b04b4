"""study servers: live study rounds and their answers, the daily question's schedule, posts and answers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 20:05:00

`daily_posts` has UNIQUE (guild_id, local_date): claiming a day is an insert, so two processes (or a process and
its restarted self) can never both post the same day's question. `study_rounds` allows one live round per channel
(a partial unique index, as `uq_sessions_one_active` does for interviews).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "study_rounds",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("host_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_rounds")),
    )
    op.create_index("ix_study_rounds_state_due", "study_rounds", ["state", "due_at"], unique=False)
    op.create_index("ix_study_rounds_guild_created", "study_rounds", ["guild_id", "created_at"], unique=False)
    op.create_index(
        "uq_study_rounds_one_live",
        "study_rounds",
        ["channel_id"],
        unique=True,
        sqlite_where=sa.text("state <> 'ended'"),
        postgresql_where=sa.text("state <> 'ended'"),
    )
    op.create_table(
        "study_round_answers",
        sa.Column("round_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt_id", Id, nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_study_round_answers_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["study_rounds.id"],
            name=op.f("fk_study_round_answers_round_id_study_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "position", "user_id", name=op.f("pk_study_round_answers")),
    )
    op.create_index("ix_study_round_answers_attempt", "study_round_answers", ["attempt_id"], unique=False)
    op.create_index("ix_study_round_answers_user", "study_round_answers", ["user_id"], unique=False)
    op.create_table(
        "daily_schedules",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=True),
        sa.Column("next_post_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_daily_schedules")),
    )
    op.create_index("ix_daily_schedules_next_post_at", "daily_schedules", ["next_post_at"], unique=False)
    op.create_table(
        "daily_posts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("question_id", sa.String(length=100), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_posts")),
        sa.UniqueConstraint("guild_id", "local_date", name=op.f("uq_daily_posts_guild_id_local_date")),
    )
    op.create_table(
        "daily_answers",
        sa.Column("post_id", Id, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt_id", Id, nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_daily_answers_attempt_id_attempts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["daily_posts.id"], name=op.f("fk_daily_answers_post_id_daily_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_daily_answers")),
    )
    op.create_index("ix_daily_answers_attempt", "daily_answers", ["attempt_id"], unique=False)
    op.create_index("ix_daily_answers_user", "daily_answers", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_daily_answers_user", table_name="daily_answers")
    op.drop_index("ix_daily_answers_attempt", table_name="daily_answers")
    op.drop_table("daily_answers")
    op.drop_table("daily_posts")
    op.drop_index("ix_daily_schedules_next_post_at", table_name="daily_schedules")
    op.drop_table("daily_schedules")
    op.drop_index("ix_study_round_answers_user", table_name="study_round_answers")
    op.drop_index("ix_study_round_answers_attempt", table_name="study_round_answers")
    op.drop_table("study_round_answers")
    op.drop_index(
        "uq_study_rounds_one_live",
        table_name="study_rounds",
        sqlite_where=sa.text("state <> 'ended'"),
        postgresql_where=sa.text("state <> 'ended'"),
    )
    op.drop_index("ix_study_rounds_guild_created", table_name="study_rounds")
    op.drop_index("ix_study_rounds_state_due", table_name="study_rounds")
    op.drop_table("study_rounds")
