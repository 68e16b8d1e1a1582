"""The coordinator's tables: an outbox of messages to deliver, and review decisions.

Why an outbox: a completion and the summaries it owes the coordinators must be one fact.
The summary rows are written in the completion's own transaction; a sender delivers them
later, retrying until Telegram accepts, so a network outage or a restart loses nothing.
``UNIQUE(screening_id, recipient, kind, revision)`` makes enqueueing idempotent: the same
completion (or the same idle period, for reminders) can be enqueued twice, by a retry or
by a restarted scheduler, and is still delivered once per recipient.

Each delivered row keeps the Telegram message ids it became (``outbox_deliveries``): an
investigator's Telegram reply to a query message is recognised by the id it replies to,
and routed to the coordinator who asked instead of being read as a clinical answer.

Nothing is queued to, nor delivered to, a deactivated user: their access to patient data
was revoked, whatever was queued before.

No separate "reminder sent" table: a reminder is an outbox row whose revision is the
idle-since timestamp, so the same unique key that stops a duplicate summary stops a
duplicate reminder after a restart.

Statements are SQLAlchemy Core, like the rest of ``storage``; the tables share
``SQLModel.metadata`` with ``storage.models`` and have their own migration
(``rc001_coordination``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from storage.errors import InvalidValue, StorageError
from storage.models import (
    EventRecord,
    Role,
    Screening,
    Status,
    User,
    UTCDateTime,
    table,
    utcnow,
)
from storage.repository import ScreeningTx, Store, _check_json, _model


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanent: Telegram refused it (blocked bot, unknown chat)
    SKIPPED = "skipped"  # obsolete before delivery (a reminder for a screening touched since)


class MessageKind(StrEnum):
    SUMMARY = "summary"
    REMINDER = "reminder"
    QUERY = "query"  # a coordinator's question, to the investigator
    REOPENED = "reopened"  # a coordinator reopened the screening, to the investigator
    QUERY_RESPONSE = "query_response"  # the investigator's written reply, to the coordinator
    ABANDONED = "abandoned"  # a once-completed screening abandoned, to the coordinators


class ReviewAction(StrEnum):
    CONFIRM = "confirm"
    QUERY = "query"
    REOPEN = "reopen"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint(
            "screening_id", "recipient", "kind", "revision", name="uq_outbox_delivery"
        ),
        sa.CheckConstraint(_in("status", OutboxStatus), name="ck_outbox_status"),
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    screening_id: int = Field(foreign_key="screenings.id")
    recipient: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    kind: str = Field(sa_type=sa.String)
    # What makes this message distinct for its screening and recipient: the completion
    # number for a summary, the idle-since timestamp for a reminder, a review id for a query.
    revision: str = Field(sa_type=sa.String)
    payload: Any = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING.value, sa_type=sa.String)
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)


class Review(SQLModel, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        sa.CheckConstraint(_in("action", ReviewAction), name="ck_reviews_action"),
        sa.Index("ix_reviews_screening", "screening_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    screening_id: int = Field(foreign_key="screenings.id")
    coordinator_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.telegram_id"), nullable=False)
    )
    action: str = Field(sa_type=sa.String)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    question_id: str | None = Field(default=None, sa_type=sa.String)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxDelivery(SQLModel, table=True):
    """A Telegram message an outbox row became (one per piece of a long row).

    Telegram numbers messages per chat, hence the key.  Written with ``mark_sent``.
    """

    __tablename__ = "outbox_deliveries"

    chat_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    outbox_id: int = Field(foreign_key="outbox.id")


OUTBOX = table(OutboxMessage)
DELIVERIES = table(OutboxDelivery)
REVIEWS = table(Review)
SCREENINGS = table(Screening)
USERS = table(User)
EVENTS = table(EventRecord)


# -- enqueueing (inside the caller's transaction) -----------------------------------------


def _insert_ignore(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping those already there; returns how many were new."""
    if not rows:
        return 0
    insert: Any = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(OUTBOX)
    inserted = 0
    for row in rows:
        statement = (
            insert.values(**row)
            .on_conflict_do_nothing(
                index_elements=["screening_id", "recipient", "kind", "revision"]
            )
            .returning(OUTBOX.c.id)
        )
        if conn.execute(statement).first() is not None:
            inserted += 1
    return inserted


def enqueue(
    conn: Connection,
    screening_id: int,
    recipients: Iterable[int],
    kind: str,
    revision: str,
    payload: Any,
    now: dt.datetime | None = None,
) -> int:
    """Queue one message per distinct recipient; a message already queued is not repeated.

    A deactivated user is left out: their access to patient data was revoked.
    """
    kind = MessageKind(kind).value
    _check_json(payload, "outbox payload")
    when = now or utcnow()
    wanted = list(dict.fromkeys(recipients))
    revoked = _inactive(conn, wanted)
    rows = [
        {
            "screening_id": screening_id,
            "recipient": recipient,
            "kind": kind,
            "revision": revision,
            "payload": payload,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": when,
            "created_at": when,
            "sent_at": None,
            "last_error": None,
        }
        for recipient in wanted
        if recipient not in revoked
    ]
    return _insert_ignore(conn, rows)


def _inactive(conn: Connection, telegram_ids: Sequence[int]) -> set[int]:
    """Those of these ids that are deactivated users (a group chat is no user: never)."""
    if not telegram_ids:
        return set()
    query = (
        sa.select(USERS.c.telegram_id)
        .where(USERS.c.telegram_id.in_(list(telegram_ids)))
        .where(USERS.c.active.is_(False))
    )
    return {int(i) for i in conn.execute(query).scalars()}


def is_deactivated(store: Store, telegram_id: int) -> bool:
    """Whether ``telegram_id`` is a user whose access was revoked (checked at send time:
    a message queued before the deactivation is not delivered)."""
    with store._read() as conn:
        return bool(_inactive(conn, [telegram_id]))


def coordinator_recipients(conn: Connection, coordinator_chat_id: int | None) -> list[int]:
    """Active coordinators' chats, then the configured coordinator (group) chat."""
    ids = conn.execute(
        sa.select(USERS.c.telegram_id)
        .where(USERS.c.role == Role.COORDINATOR.value)
        .where(USERS.c.active.is_(True))
        .order_by(USERS.c.telegram_id)
    ).scalars()
    recipients = [int(i) for i in ids]
    if coordinator_chat_id is not None and coordinator_chat_id not in recipients:
        recipients.append(coordinator_chat_id)
    return recipients


def completion_number(conn: Connection, screening_id: int) -> int:
    """How many times the screening has completed (1 the first time, 2 after a reopen…)."""
    count = conn.execute(
        sa.select(sa.func.count())
        .select_from(EVENTS)
        .where(EVENTS.c.screening_id == screening_id)
        .where(EVENTS.c.kind == "completed")
    ).scalar_one()
    return int(count)


def revision_of(store: Store, screening_id: int) -> int:
    """The screening's current completion number, which its latest summary carries."""
    with store._read() as conn:
        return completion_number(conn, screening_id)


def enqueue_summary(tx: ScreeningTx, payload: Any, coordinator_chat_id: int | None = None) -> int:
    """Queue the completion summary for every coordinator, in the completion's transaction.

    Call after ``tx.complete(...)`` and inside the same ``store.screening_tx`` block: the
    summary then exists if and only if the completion does.
    """
    if tx.screening.status != Status.COMPLETED:
        raise StorageError(f"screening {tx.screening_id} is not completed: no summary to send")
    conn = tx._live()
    revision = str(completion_number(conn, tx.screening_id))
    recipients = coordinator_recipients(conn, coordinator_chat_id)
    return enqueue(conn, tx.screening_id, recipients, MessageKind.SUMMARY, revision, payload)


def enqueue_abandoned_notice(
    tx: ScreeningTx, payload: Any, coordinator_chat_id: int | None = None
) -> int:
    """Tell every coordinator that a screening once completed (so summarised to them,
    maybe confirmed) was abandoned: its verdict leaves /pending, the log and the export
    without a word otherwise.  Nothing for a screening never completed (0)."""
    conn = tx._live()
    completions = completion_number(conn, tx.screening_id)
    if completions == 0:
        return 0
    recipients = coordinator_recipients(conn, coordinator_chat_id)
    revision = f"abandoned-{completions}"
    return enqueue(conn, tx.screening_id, recipients, MessageKind.ABANDONED, revision, payload)


def enqueue_for_investigator(tx: ScreeningTx, kind: str, revision: str, payload: Any) -> int:
    """Queue a message to the screening's investigator in the caller's transaction
    (nothing when they are deactivated: 0)."""
    return enqueue(
        tx._live(), tx.screening_id, [tx.screening.investigator_id], kind, revision, payload
    )


def enqueue_for(
    tx: ScreeningTx, recipients: Iterable[int], kind: str, revision: str, payload: Any
) -> int:
    """Queue a message about the screening to these chats, in the caller's transaction."""
    return enqueue(tx._live(), tx.screening_id, recipients, kind, revision, payload)


def coordinators_to_answer(
    tx: ScreeningTx, coordinator_id: int, coordinator_chat_id: int | None
) -> list[int]:
    """Who receives the investigator's reply to a query: the coordinator who asked, or,
    when they are no longer an active reviewer, every coordinator (and the group chat),
    so the reply is not lost."""
    conn = tx._live()
    row = conn.execute(
        sa.select(USERS.c.active, USERS.c.role).where(USERS.c.telegram_id == coordinator_id)
    ).first()
    if row is not None and row.active and row.role in (Role.COORDINATOR, Role.ADMIN):
        return [coordinator_id]
    return coordinator_recipients(conn, coordinator_chat_id)


def user_is_active(tx: ScreeningTx, telegram_id: int) -> bool:
    """Whether ``telegram_id`` is an active user, read in the caller's transaction."""
    active = (
        tx._live()
        .execute(sa.select(USERS.c.active).where(USERS.c.telegram_id == telegram_id))
        .scalar()
    )
    return bool(active)


def investigator_name(tx: ScreeningTx) -> str:
    return display_name(tx._live(), tx.screening.investigator_id)


def user_name(tx: ScreeningTx, telegram_id: int) -> str:
    """A user's display name (their id when they have none), read in the caller's
    transaction."""
    return display_name(tx._live(), telegram_id)


# -- delivery ---------------------------------------------------------------------------------


def due_messages(store: Store, now: dt.datetime, limit: int = 50) -> list[OutboxMessage]:
    """Pending messages whose time has come, oldest first."""
    query = (
        sa.select(OUTBOX)
        .where(OUTBOX.c.status == OutboxStatus.PENDING.value)
        .where(OUTBOX.c.next_attempt_at <= now)
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
    )
    with store._read() as conn:
        return [_model(OutboxMessage, row) for row in conn.execute(query)]


def claim(store: Store, message: OutboxMessage, now: dt.datetime, lease: dt.timedelta) -> bool:
    """Take a message for one send attempt; False if another sender took it first.

    The lease pushes ``next_attempt_at`` forward, so a sender that dies mid-send leaves
    the message to be retried after the lease rather than stuck.
    """
    with store._write() as conn:
        result = conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == message.id)
            .where(OUTBOX.c.status == OutboxStatus.PENDING.value)
            .where(OUTBOX.c.next_attempt_at == message.next_attempt_at)
            .values(next_attempt_at=now + lease, attempts=OUTBOX.c.attempts + 1)
        )
        return result.rowcount == 1


def mark_sent(
    store: Store,
    message_id: int,
    now: dt.datetime | None = None,
    chat_id: int | None = None,
    telegram_ids: Sequence[int] = (),
) -> None:
    """Record that Telegram accepted the message (call only after it did), and the ids of
    the Telegram messages it became in ``chat_id`` (to recognise a reply to one)."""
    with store._write() as conn:
        conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == message_id)
            .values(status=OutboxStatus.SENT.value, sent_at=now or utcnow(), last_error=None)
        )
        if chat_id is None or not telegram_ids:
            return
        insert: Any = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(
            DELIVERIES
        )
        for telegram_id in dict.fromkeys(telegram_ids):
            conn.execute(
                insert.values(
                    chat_id=chat_id, message_id=telegram_id, outbox_id=message_id
                ).on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
            )


def delivered_message(store: Store, chat_id: int, telegram_id: int) -> OutboxMessage | None:
    """The outbox row that became Telegram message ``telegram_id`` in ``chat_id``, if any."""
    query = (
        sa.select(OUTBOX)
        .join(DELIVERIES, DELIVERIES.c.outbox_id == OUTBOX.c.id)
        .where(DELIVERIES.c.chat_id == chat_id)
        .where(DELIVERIES.c.message_id == telegram_id)
    )
    with store._read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _model(OutboxMessage, row)


def mark_failed(
    store: Store,
    message_id: int,
    error: str,
    retry_at: dt.datetime | None,
) -> None:
    """A failed attempt: retry at ``retry_at``, or give up for good when it is None."""
    values: dict[str, Any] = {"last_error": _error_text(error)}
    if retry_at is None:
        values["status"] = OutboxStatus.FAILED.value
    else:
        values["next_attempt_at"] = retry_at
    with store._write() as conn:
        conn.execute(sa.update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))


def mark_skipped(store: Store, message_id: int, why: str) -> None:
    with store._write() as conn:
        conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == message_id)
            .values(status=OutboxStatus.SKIPPED.value, last_error=_error_text(why))
        )


def skip_for_deactivated(store: Store, message: OutboxMessage) -> int:
    """Skip a message whose recipient was deactivated after it was queued.  An
    investigator's reply to a query is not dropped with it: it goes to every active
    coordinator instead (the investigator was told it was sent).  Returns how many
    messages were queued in its place."""
    assert message.id is not None
    with store._write() as conn:
        conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == message.id)
            .values(status=OutboxStatus.SKIPPED.value, last_error="recipient deactivated")
        )
        if message.kind != MessageKind.QUERY_RESPONSE:
            return 0
        others = [r for r in coordinator_recipients(conn, None) if r != message.recipient]
        revision = f"{message.revision}:rerouted"
        return enqueue(conn, message.screening_id, others, message.kind, revision, message.payload)


def _error_text(error: str) -> str:
    """The error as a text column can hold it on both backends.

    PostgreSQL refuses NUL in text (SQLite does not), and an exception's text may quote
    what was sent: without this, the failure could not be recorded and the message
    would be retried after every lease instead of backing off.
    """
    return error[:2000].replace("\x00", "\\x00")


def backoff(attempts: int, base: float = 5.0, cap: float = 3600.0) -> dt.timedelta:
    """Exponential delay after the ``attempts``-th failure: 5 s, 10 s, 20 s… up to an hour."""
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def messages(
    store: Store, screening_id: int | None = None, kind: str | None = None
) -> list[OutboxMessage]:
    """Every outbox row (for /review, the tests and operators), oldest first."""
    query = sa.select(OUTBOX)
    if screening_id is not None:
        query = query.where(OUTBOX.c.screening_id == screening_id)
    if kind is not None:
        query = query.where(OUTBOX.c.kind == kind)
    with store._read() as conn:
        return [_model(OutboxMessage, row) for row in conn.execute(query.order_by(OUTBOX.c.id))]


# -- reviews ------------------------------------------------------------------------------------


def record_review(
    tx: ScreeningTx,
    coordinator_id: int,
    action: str,
    comment: str | None = None,
    question_id: str | None = None,
) -> Review:
    """A coordinator's decision, in the review table and in the screening's event log.

    Both in the caller's transaction: the audit trail and the /pending list never disagree.
    """
    try:
        action = ReviewAction(action).value
    except ValueError:
        raise InvalidValue(f"unknown review action {action!r}") from None
    conn = tx._live()
    now = utcnow()
    values: dict[str, Any] = {
        "screening_id": tx.screening_id,
        "coordinator_id": coordinator_id,
        "action": action,
        "comment": comment,
        "question_id": question_id,
        "at": now,
    }
    result = conn.execute(sa.insert(REVIEWS).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    review = Review(id=int(key[0]), **values)
    tx.log_event(
        {"confirm": "confirmed", "query": "queried", "reopen": "reopen_requested"}[action],
        coordinator_id,
        {"review_id": review.id, "comment": comment, "question_id": question_id},
    )
    return review


def reviews(store: Store, screening_id: int) -> list[Review]:
    with store._read() as conn:
        rows = conn.execute(
            sa.select(REVIEWS).where(REVIEWS.c.screening_id == screening_id).order_by(REVIEWS.c.id)
        )
        return [_model(Review, row) for row in rows]


def confirmed_since(tx: ScreeningTx, since: dt.datetime) -> Review | None:
    """The first confirmation of the screening after ``since``, read under its lock: a
    query's reopen button must not change a verdict a coordinator confirmed after it."""
    row = (
        tx._live()
        .execute(
            sa.select(REVIEWS)
            .where(REVIEWS.c.screening_id == tx.screening_id)
            .where(REVIEWS.c.action == ReviewAction.CONFIRM.value)
            .where(REVIEWS.c.at > since)
            .order_by(REVIEWS.c.id)
            .limit(1)
        )
        .first()
    )
    return None if row is None else _model(Review, row)


def get_review(store: Store, review_id: int) -> Review | None:
    with store._read() as conn:
        row = conn.execute(sa.select(REVIEWS).where(REVIEWS.c.id == review_id)).first()
    return None if row is None else _model(Review, row)


def _first_confirmation(conn: Connection, screening_id: int, since: dt.datetime) -> Review | None:
    row = conn.execute(
        sa.select(REVIEWS)
        .where(REVIEWS.c.screening_id == screening_id)
        .where(REVIEWS.c.action == ReviewAction.CONFIRM.value)
        .where(REVIEWS.c.at >= since)
        .order_by(REVIEWS.c.id)
        .limit(1)
    ).first()
    return None if row is None else _model(Review, row)


def completion_confirmation(tx: ScreeningTx) -> Review | None:
    """Who confirmed the screening's current completion, read under its lock (None if
    nobody did, or it is not completed).

    One sign-off per completion: a second Confirm (a double tap, a redelivered update,
    another coordinator) would add a second ``confirmed`` event saying nothing new.
    """
    completed_at = tx.screening.completed_at
    if tx.screening.status != Status.COMPLETED or completed_at is None:
        return None
    return _first_confirmation(tx._live(), tx.screening_id, completed_at)


def confirmation_of(store: Store, screening: Screening) -> Review | None:
    """:func:`completion_confirmation` outside a transaction (for the query prompt)."""
    if screening.status != Status.COMPLETED or screening.completed_at is None:
        return None
    assert screening.id is not None
    with store._read() as conn:
        return _first_confirmation(conn, screening.id, screening.completed_at)


def pending_review(store: Store) -> list[Screening]:
    """Completed screenings no coordinator has confirmed since their (latest) completion.

    A query is no sign-off: a queried screening stays here until someone confirms it (or
    it is reopened, which takes it out until it completes again), so that an unanswered
    query is not forgotten.  :func:`query_states` says which wait on a query.
    """
    confirmed = (
        sa.select(REVIEWS.c.id)
        .where(REVIEWS.c.screening_id == SCREENINGS.c.id)
        .where(REVIEWS.c.action == ReviewAction.CONFIRM.value)
        .where(REVIEWS.c.at >= SCREENINGS.c.completed_at)
        .exists()
    )
    query = (
        sa.select(SCREENINGS)
        .where(SCREENINGS.c.status == Status.COMPLETED.value)
        .where(~confirmed)
        .order_by(SCREENINGS.c.completed_at, SCREENINGS.c.id)
    )
    with store._read() as conn:
        return [_model(Screening, row) for row in conn.execute(query)]


class QueryState(StrEnum):
    """Where the queries on a screening's current completion stand, for /pending."""

    OPEN = "open"  # at least one query has no written reply yet
    ANSWERED = "answered"  # every query was answered in words (a reply to the query message)


def query_states(store: Store, screenings: Sequence[Screening]) -> dict[int, QueryState]:
    """For each completed screening queried since its latest completion, whether a query
    still waits for the investigator's written reply (absent: no query since).

    A query answered by changing the answer needs no mark: the screening completed
    again, and the query is older than the new completion.
    """
    since = {s.id: s.completed_at for s in screenings if s.id is not None and s.completed_at}
    if not since:
        return {}
    ids = sorted(since)
    with store._read() as conn:
        queries = conn.execute(
            sa.select(REVIEWS.c.id, REVIEWS.c.screening_id, REVIEWS.c.at)
            .where(REVIEWS.c.screening_id.in_(ids))
            .where(REVIEWS.c.action == ReviewAction.QUERY.value)
        ).all()
        replies = conn.execute(
            sa.select(EVENTS.c.detail)
            .where(EVENTS.c.screening_id.in_(ids))
            .where(EVENTS.c.kind == "query_response")
        ).scalars()
        answered = {detail.get("review_id") for detail in replies if isinstance(detail, dict)}
    states: dict[int, QueryState] = {}
    for review_id, screening_id, at in queries:
        completed_at = since[screening_id]
        if at < completed_at:
            continue
        if review_id not in answered:
            states[screening_id] = QueryState.OPEN
        else:
            states.setdefault(screening_id, QueryState.ANSWERED)
    return states


# -- reminders ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdleScreening:
    screening: Screening
    idle_since: dt.datetime


def idle_screenings(store: Store, cutoff: dt.datetime) -> list[IdleScreening]:
    """In-progress, or completed as ``incomplete``, and untouched since before ``cutoff``;
    of active investigators only.

    ``updated_at`` is the idle-since marker: any answer, completion or reopen bumps it, so
    an investigator who came back is not reminded, and a new idle period gets a new key.
    """
    waiting = sa.or_(
        SCREENINGS.c.status == Status.IN_PROGRESS.value,
        sa.and_(
            SCREENINGS.c.status == Status.COMPLETED.value,
            SCREENINGS.c.verdict == "incomplete",
        ),
    )
    # A deactivated investigator is reminded of nothing (their access was revoked).
    active = (
        sa.select(USERS.c.telegram_id)
        .where(USERS.c.telegram_id == SCREENINGS.c.investigator_id)
        .where(USERS.c.active.is_(True))
        .exists()
    )
    query = (
        sa.select(SCREENINGS)
        .where(waiting)
        .where(active)
        .where(SCREENINGS.c.updated_at < cutoff)
        .order_by(SCREENINGS.c.updated_at, SCREENINGS.c.id)
    )
    with store._read() as conn:
        screenings = [_model(Screening, row) for row in conn.execute(query)]
    return [IdleScreening(s, s.updated_at) for s in screenings]


def reminder_revision(idle_since: dt.datetime) -> str:
    """The reminder's key: one reminder per screening per idle period, whatever restarts."""
    return idle_since.astimezone(dt.UTC).isoformat(timespec="microseconds")


def enqueue_reminder(store: Store, idle: IdleScreening, payload: Any) -> bool:
    """Queue the reminder of one idle period; False when it was queued before."""
    screening = idle.screening
    assert screening.id is not None
    with store._write() as conn:
        return (
            enqueue(
                conn,
                screening.id,
                [screening.investigator_id],
                MessageKind.REMINDER,
                reminder_revision(idle.idle_since),
                payload,
            )
            == 1
        )


# -- lookups for the coordinator's views -------------------------------------------------------


def display_name(conn: Connection, telegram_id: int) -> str:
    """A user's display name (their id when they have none), for summaries and queries."""
    name = conn.execute(
        sa.select(USERS.c.display_name).where(USERS.c.telegram_id == telegram_id)
    ).scalar()
    return name or str(telegram_id)


def display_names(store: Store, telegram_ids: Iterable[int]) -> dict[int, str]:
    """The display names of these users, in one query (for /review's list of decisions).

    Users without a name, and ids no user has, are absent: the caller shows the id.
    """
    ids = sorted(set(telegram_ids))
    if not ids:
        return {}
    query = sa.select(USERS.c.telegram_id, USERS.c.display_name).where(USERS.c.telegram_id.in_(ids))
    with store._read() as conn:
        return {int(i): str(name) for i, name in conn.execute(query) if name}


def find_by_code(store: Store, patient_code: str) -> Screening | None:
    """The screening of a patient code a coordinator means: the latest completed one, else
    the latest (codes are matched case-insensitively).

    A code can come back: once a screening is completed, the patient may be screened
    again.  /pending lists the completed one waiting for review; /review CODE must open
    that one, not the new screening in progress.
    """
    completed = sa.case((SCREENINGS.c.status == Status.COMPLETED.value, 1), else_=0)
    query = (
        sa.select(SCREENINGS)
        .where(sa.func.lower(SCREENINGS.c.patient_code) == patient_code.strip().lower())
        .order_by(completed.desc(), SCREENINGS.c.id.desc())
        .limit(1)
    )
    with store._read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _model(Screening, row)
