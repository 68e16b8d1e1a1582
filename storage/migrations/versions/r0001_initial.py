"""Initial schema: users, screenings, append-only answers and events, processed updates.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = ("answers", "events")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(), nullable=True),
        _ts("created_at"),
        sa.CheckConstraint(
            "role IN ('investigator', 'coordinator', 'admin')", name="ck_users_role"
        ),
        sa.PrimaryKeyConstraint("telegram_id"),
    )
    op.create_table(
        "screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_code", sa.String(), nullable=False),
        sa.Column("protocol_id", sa.String(), nullable=False),
        sa.Column("protocol_version", sa.String(), nullable=False),
        sa.Column("protocol_sha256", sa.String(), nullable=False),
        sa.Column("investigator_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("current_state", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("verdict", sa.String(), nullable=True),
        sa.Column("criteria_json", sa.JSON(), nullable=True),
        sa.Column("answer_count", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("completed_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('in_progress', 'completed', 'abandoned')", name="ck_screenings_status"
        ),
        sa.ForeignKeyConstraint(["investigator_id"], ["users.telegram_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_screenings_open_patient_code",
        "screenings",
        ["protocol_id", "patient_code"],
        unique=True,
        sqlite_where=sa.text("status = 'in_progress'"),
        postgresql_where=sa.text("status = 'in_progress'"),
    )
    op.create_index(
        "ix_screenings_investigator_status", "screenings", ["investigator_id", "status"]
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("value_json", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        _ts("created_at"),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["screening_id"], ["screenings.id"]),
        sa.ForeignKeyConstraint(["supersedes_id"], ["answers.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.telegram_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("screening_id", "seq", name="uq_answers_screening_seq"),
    )
    op.create_index("ix_answers_screening_question", "answers", ["screening_id", "question_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["screening_id"], ["screenings.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.telegram_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_screening", "events", ["screening_id"])
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        _ts("processed_at"),
        sa.Column("screening_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["screening_id"], ["screenings.id"]),
        sa.PrimaryKeyConstraint("update_id"),
    )
    _install_append_only_guards()


def _install_append_only_guards() -> None:
    """The audit trail refuses UPDATE and DELETE at the database, not only in our code."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in _APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {name}_no_{action.lower()} BEFORE {action} ON {name} "
                    f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION screenbot_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for name in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
                "FOR EACH ROW EXECUTE FUNCTION screenbot_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
                "FOR EACH STATEMENT EXECUTE FUNCTION screenbot_append_only()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in _APPEND_ONLY:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_delete")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_truncate ON {name}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS screenbot_append_only()")
    op.drop_table("processed_updates")
    op.drop_index("ix_events_screening", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_answers_screening_question", table_name="answers")
    op.drop_table("answers")
    op.drop_index("ix_screenings_investigator_status", table_name="screenings")
    op.drop_index("uq_screenings_open_patient_code", table_name="screenings")
    op.drop_table("screenings")
    op.drop_table("users")
