"""Outbox deliveries: the Telegram message ids each delivered outbox row became.

Why: an investigator answers a coordinator's query the natural Telegram way, by replying
to the query message.  The bot recognises such a reply only by the id of the message it
replies to; without this table the reply was read as an answer to the investigator's
current question, possibly on another patient.  A row may have been sent in several
pieces (Telegram's length limit), so each piece has its own row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_deliveries",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("chat_id", "message_id"),
    )


def downgrade() -> None:
    op.drop_table("outbox_deliveries")
