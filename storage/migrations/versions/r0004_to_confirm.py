"""Screenings: ``to_confirm``, answered questions the dialog asks again with a Keep button
(the question a screening was reopened at; the lab values of a changed lab date); and the
investigator's open screenings indexed in the order "touched last" reads them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("screenings", sa.Column("to_confirm", sa.JSON(none_as_null=True), nullable=True))
    op.create_index(
        "ix_screenings_investigator_open",
        "screenings",
        ["investigator_id", "status", "updated_at"],
    )
    op.drop_index("ix_screenings_investigator_status", table_name="screenings")


def downgrade() -> None:
    op.create_index(
        "ix_screenings_investigator_status", "screenings", ["investigator_id", "status"]
    )
    op.drop_index("ix_screenings_investigator_open", table_name="screenings")
    # Batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("screenings") as batch:
        batch.drop_column("to_confirm")
