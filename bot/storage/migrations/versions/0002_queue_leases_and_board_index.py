"""delivery leases on attempts, a covering leaderboard index, custom questions by author

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 20:10:00

Plain `op.add_column` / `op.drop_column` (no batch table rebuild): SQLite >= 3.35 alters in place, and a
rebuild of `attempts` would cascade-delete its grading jobs while foreign keys are on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("delivery_lease_owner", sa.String(length=64), nullable=True))
    op.add_column("attempts", sa.Column("delivery_lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("attempts", sa.Column("delivery_tries", sa.Integer(), server_default="0", nullable=False))
    op.drop_index("ix_attempts_guild_created", table_name="attempts")
    op.create_index(
        "ix_attempts_guild_board",
        "attempts",
        ["guild_id", "created_at", "status", "user_id", "question_id", "score"],
        unique=False,
    )
    op.create_index("ix_custom_questions_created_by", "custom_questions", ["created_by"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_custom_questions_created_by", table_name="custom_questions")
    op.drop_index("ix_attempts_guild_board", table_name="attempts")
    op.create_index("ix_attempts_guild_created", "attempts", ["guild_id", "created_at"], unique=False)
    op.drop_column("attempts", "delivery_tries")
    op.drop_column("attempts", "delivery_lease_expires_at")
    op.drop_column("attempts", "delivery_lease_owner")
