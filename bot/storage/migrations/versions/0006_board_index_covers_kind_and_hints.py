"""the guild leaderboard's index covers the answer's kind and hints too

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 06:30:00

The board now leaves follow-ups out and takes the hint penalty off each score, so it reads `kind` and `hints_used`
as well; with them in `ix_attempts_guild_board` a window of one guild is still read from the index alone (the
storage benchmark's board went from ~50 to ~120 ms on SQLite without them).
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BEFORE = ["guild_id", "created_at", "status", "user_id", "question_id", "score"]


def upgrade() -> None:
    op.drop_index("ix_attempts_guild_board", table_name="attempts")
    op.create_index("ix_attempts_guild_board", "attempts", [*BEFORE, "kind", "hints_used"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attempts_guild_board", table_name="attempts")
    op.create_index("ix_attempts_guild_board", "attempts", BEFORE, unique=False)
