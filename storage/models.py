"""Tables of the audit trail.

Screenings and users are the only rows that change; answers, events and access events
are append-only (the migrations also install triggers refusing UPDATE/DELETE on them) so
the history an inspector reads is the history that happened.  Keep this file and
``storage/migrations/versions`` in step: ``tests/storage/test_migrations.py`` fails when
they drift.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class Role(StrEnum):
    INVESTIGATOR = "investigator"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Status(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class AccessAction(StrEnum):
    """What a row of ``access_events`` records: the changes that decide who may screen.

    A language is a preference the user sets themselves (/lang): not an access change.
    """

    ADDED = "added"
    ROLE_CHANGED = "role_changed"
    RENAMED = "renamed"
    DEACTIVATED = "deactivated"
    ACTIVATED = "activated"


LANGUAGES: frozenset[str] = frozenset({"en", "fr"})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on both backends.

    SQLite has no time zone type and hands back naive values; normalising here means a
    timestamp compares and prints the same whichever database produced it.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; pass an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint(_in("role", Role), name="ck_users_role"),)

    telegram_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    display_name: str = Field(default="", sa_type=sa.String)
    role: str = Field(sa_type=sa.String)
    active: bool = Field(default=True)
    language: str | None = Field(default=None, sa_type=sa.String)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set while the user was asked for a patient code and has not given one: kept here,
    # not in a worker's memory, so another worker or a restarted one takes the next
    # message as the code.
    awaiting_code_since: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The screening the user was asked "abandon it?" about, until they press a button or
    # do anything else: an answer typed meanwhile ("oui") is not taken as a clinical one.
    abandon_pending_id: int | None = Field(default=None, sa_type=sa.Integer)
    # The language of the user's Telegram client as last seen (``language`` is the one
    # chosen with /lang): messages pushed to them later (summaries, notices) use it.
    telegram_language: str | None = Field(default=None, sa_type=sa.String)


class AccessEvent(SQLModel, table=True):
    """One change of a user's access, so "who could screen on 12 March, and who granted
    it?" has an answer: ``users`` holds only the state now.  Append-only."""

    __tablename__ = "access_events"
    __table_args__ = (
        sa.CheckConstraint(_in("action", AccessAction), name="ck_access_events_action"),
        sa.Index("ix_access_events_telegram_id", "telegram_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.telegram_id"), nullable=False)
    )
    action: str = Field(sa_type=sa.String)
    # added: {"role", "name", "active"}; role_changed and renamed: {"from", "to"}.
    detail: Any = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    # Who made the change, in words (``cli:root``, ``--by "Dr Admin"``): the person with
    # shell access, who has no Telegram id of their own in the database.
    actor: str = Field(sa_type=sa.String)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Screening(SQLModel, table=True):
    __tablename__ = "screenings"
    __table_args__ = (
        sa.CheckConstraint(_in("status", Status), name="ck_screenings_status"),
        # One open screening per patient and protocol; completed/abandoned ones may repeat.
        sa.Index(
            "uq_screenings_open_patient_code",
            "protocol_id",
            "patient_code",
            unique=True,
            sqlite_where=sa.text("status = 'in_progress'"),
            postgresql_where=sa.text("status = 'in_progress'"),
        ),
        # "My open screening, touched last" (every typed answer, every press): found in
        # the index, already in order, without sorting.
        sa.Index("ix_screenings_investigator_open", "investigator_id", "status", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_code: str = Field(sa_type=sa.String)
    protocol_id: str = Field(sa_type=sa.String)
    protocol_version: str = Field(sa_type=sa.String)
    protocol_sha256: str = Field(sa_type=sa.String)
    investigator_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.telegram_id"), nullable=False)
    )
    status: str = Field(default=Status.IN_PROGRESS.value, sa_type=sa.String)
    current_state: str = Field(sa_type=sa.String)
    language: str | None = Field(default=None, sa_type=sa.String)
    verdict: str | None = Field(default=None, sa_type=sa.String)
    criteria_json: Any = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    # Answered questions the dialog asks again, each with a Keep button, before moving on:
    # the question a screening was reopened at, and the lab values of a changed lab date.
    # A list of question ids, or None.
    to_confirm: Any = Field(
        default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True)
    )
    # Number of answers recorded; the next answer's seq.  Bumped under the screening lock,
    # so a lost lock shows up as a unique violation on answers (screening_id, seq).
    answer_count: int = Field(default=0)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class AnswerRecord(SQLModel, table=True):
    __tablename__ = "answers"
    __table_args__ = (
        sa.UniqueConstraint("screening_id", "seq", name="uq_answers_screening_seq"),
        sa.Index("ix_answers_screening_question", "screening_id", "question_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    screening_id: int = Field(foreign_key="screenings.id")
    seq: int
    question_id: str = Field(sa_type=sa.String)
    raw: str = Field(sa_type=sa.Text)
    value_json: Any = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    unit: str | None = Field(default=None, sa_type=sa.String)
    user_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.telegram_id"), nullable=False)
    )
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    supersedes_id: int | None = Field(default=None, foreign_key="answers.id")
    reason: str | None = Field(default=None, sa_type=sa.Text)


class EventRecord(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_screening", "screening_id"),)

    id: int | None = Field(default=None, primary_key=True)
    screening_id: int = Field(foreign_key="screenings.id")
    kind: str = Field(sa_type=sa.String)
    user_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.telegram_id"), nullable=True),
    )
    detail: Any = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProcessedUpdate(SQLModel, table=True):
    __tablename__ = "processed_updates"

    update_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    processed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The screening the update touched, so a redelivered "start" returns what it created.
    screening_id: int | None = Field(default=None, foreign_key="screenings.id")


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for the statement-level hot path."""
    name = model.__tablename__
    assert isinstance(name, str)
    return SQLModel.metadata.tables[name]
