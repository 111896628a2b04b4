"""a version counter on interview sessions, for optimistic locking of their transitions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00

Every session save is `UPDATE ... WHERE id = :id AND version = :read_version` and bumps the version, so two
actions that read the same state (a double-clicked submit, a submit racing a skip) can't both apply: the second
finds the row changed, writes nothing, and re-decides on the fresh state. Existing rows start at 0. Plain
`op.add_column` (no batch rebuild), as in 0002.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("interview_sessions", sa.Column("version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("interview_sessions", "version")
