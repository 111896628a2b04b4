"""when an attempt's spaced-repetition review was applied, so it is applied once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:10:00

A graded answer reschedules its review card once. The card used to change wherever the grade was recorded, so a
redelivered study or daily answer reviewed its card again, and a grade that arrived after its interview ended (or
a regrade) reviewed it never. Now the review claims the attempt (`reviewed_at IS NULL`) in the transaction that
changes the card. Attempts graded before this revision count as reviewed. Plain `op.add_column`, as in 0002.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE attempts SET reviewed_at = graded_at WHERE status = 'graded'")


def downgrade() -> None:
    op.drop_column("attempts", "reviewed_at")
