"""Access events: who was granted, changed or revoked access to the bot, when, by whom.

Why: ``users`` holds only who may screen now.  A trial inspector asks who could screen
patients on a past date and who granted it; without this table nothing recorded it.
Append-only like answers and events: the history must be the history that happened.
It starts with this revision: users added earlier have no rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "access_events"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('added', 'role_changed', 'renamed', 'deactivated', 'activated')",
            name="ck_access_events_action",
        ),
        sa.ForeignKeyConstraint(["telegram_id"], ["users.telegram_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_events_telegram_id", _TABLE, ["telegram_id"])
    _install_append_only_guard()


def _install_append_only_guard() -> None:
    """As r0001's guards: the database refuses UPDATE and DELETE, not only our code.

    On PostgreSQL the trigger function r0001 created is reused; it names the table.
    """
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {_TABLE}_no_{action.lower()} BEFORE {action} ON {_TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{_TABLE} is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE TRIGGER {_TABLE}_append_only BEFORE UPDATE OR DELETE ON {_TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION screenbot_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {_TABLE}_no_truncate BEFORE TRUNCATE ON {_TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION screenbot_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_no_delete")
    elif dialect == "postgresql":
        # screenbot_append_only() stays: r0001 owns it, answers and events still use it.
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_append_only ON {_TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_no_truncate ON {_TABLE}")
    op.drop_index("ix_access_events_telegram_id", table_name=_TABLE)
    op.drop_table(_TABLE)
