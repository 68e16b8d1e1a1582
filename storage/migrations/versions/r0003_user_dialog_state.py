"""Users: ``abandon_pending_id`` (an unanswered "abandon this screening?") and
``telegram_language`` (the language of the user's Telegram client, last seen).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("abandon_pending_id", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("telegram_language", sa.String(), nullable=True))


def downgrade() -> None:
    # Batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("users") as batch:
        batch.drop_column("telegram_language")
        batch.drop_column("abandon_pending_id")
