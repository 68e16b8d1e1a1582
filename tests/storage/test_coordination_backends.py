"""The coordinator's storage (outbox, reviews, idle screenings) on SQLite and PostgreSQL.

tests/coordinator exercises these through the bot on SQLite only; the duplicate-skip
insert has a PostgreSQL branch, and timestamps compare differently on the two backends,
so the storage contract is pinned here on both.
"""

from __future__ import annotations

import datetime as dt

import pytest

from storage import InvalidValue, Store
from storage.coordination import (
    MessageKind,
    OutboxStatus,
    backoff,
    claim,
    due_messages,
    enqueue,
    enqueue_reminder,
    enqueue_summary,
    get_review,
    idle_screenings,
    mark_failed,
    mark_sent,
    messages,
    pending_review,
    record_review,
    reminder_revision,
    reviews,
)

INVESTIGATOR = 100
COORDINATOR = 200
GROUP_CHAT = -1001234567890  # a supergroup id: beyond 32 bits
LEASE = dt.timedelta(seconds=30)


def _open(store: Store, code: str = "P-001") -> int:
    screening = store.create_screening(code, "acse", "1.0", "a" * 64, INVESTIGATOR, "consent")
    assert screening.id is not None
    return screening.id


def _complete(store: Store, code: str = "P-001", verdict: str = "eligible") -> int:
    """A completed screening whose summary is queued, as the bot's completion does it."""
    sid = _open(store, code)
    with store.screening_tx(sid) as tx:
        tx.record_answer("age", "54", 54, None, INVESTIGATOR)
        tx.complete(verdict, {"I1": {"status": "met"}})
        enqueue_summary(tx, {"patient_code": code, "verdict": verdict}, GROUP_CHAT)
    return sid


def _later(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def test_summary_enqueued_twice_is_one_row_per_recipient(store: Store) -> None:
    sid = _complete(store)
    with store.screening_tx(sid) as tx:
        assert enqueue_summary(tx, {"patient_code": "P-001", "again": True}, GROUP_CHAT) == 0

    rows = messages(store, sid, MessageKind.SUMMARY)
    assert sorted(r.recipient for r in rows) == sorted([COORDINATOR, GROUP_CHAT])
    assert {r.revision for r in rows} == {"1"}
    assert all(r.payload == {"patient_code": "P-001", "verdict": "eligible"} for r in rows)


def test_enqueue_skips_repeats_within_and_across_calls(store: Store) -> None:
    sid = _open(store)
    with store.screening_tx(sid) as tx:
        conn = tx._live()
        assert enqueue(conn, sid, [INVESTIGATOR, INVESTIGATOR], "query", "r1", {"q": 1}) == 1
        assert enqueue(conn, sid, [INVESTIGATOR], "query", "r1", {"q": 2}) == 0
        assert enqueue(conn, sid, [INVESTIGATOR], "query", "r2", {"q": 3}) == 1
    assert [m.payload for m in messages(store, sid)] == [{"q": 1}, {"q": 3}]
    with pytest.raises(InvalidValue), store.screening_tx(sid) as tx:
        enqueue(tx._live(), sid, [INVESTIGATOR], "query", "r3", {"nan": float("nan")})


def test_due_claim_and_mark_sent(store: Store) -> None:
    sid = _complete(store)
    due = due_messages(store, _later(1))
    assert sorted(m.recipient for m in due) == sorted([COORDINATOR, GROUP_CHAT])
    assert due_messages(store, _later(-60)) == []  # not due yet

    first = due[0]
    now = _later(1)
    assert claim(store, first, now, LEASE)
    assert not claim(store, first, now, LEASE)  # the row moved on: another sender took it
    assert first.id not in {m.id for m in due_messages(store, now)}  # leased

    assert first.id is not None
    mark_sent(store, first.id, now)
    (sent,) = [m for m in messages(store, sid) if m.id == first.id]
    assert (sent.status, sent.attempts, sent.sent_at) == (OutboxStatus.SENT, 1, now)
    assert sent.sent_at is not None and sent.sent_at.tzinfo == dt.UTC
    assert first.id not in {m.id for m in due_messages(store, _later(3600))}


def test_mark_failed_schedules_a_later_attempt_with_backoff(store: Store) -> None:
    _complete(store)
    message = due_messages(store, _later(1))[0]
    assert message.id is not None
    now = _later(1)
    assert claim(store, message, now, LEASE)
    retry_at = now + backoff(1)
    mark_failed(store, message.id, "connection reset", retry_at)

    assert message.id not in {m.id for m in due_messages(store, retry_at - dt.timedelta(seconds=1))}
    (again,) = [m for m in due_messages(store, retry_at) if m.id == message.id]
    assert (again.status, again.attempts, again.last_error) == (
        OutboxStatus.PENDING,
        1,
        "connection reset",
    )
    assert again.next_attempt_at == retry_at
    assert backoff(2) == 2 * backoff(1)

    # The retry claims the row as re-read; a permanent refusal ends it.
    assert claim(store, again, retry_at, LEASE)
    mark_failed(store, message.id, "Forbidden: bot was blocked", None)
    (failed,) = [m for m in messages(store) if m.id == message.id]
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 2)
    assert message.id not in {m.id for m in due_messages(store, _later(10_000))}


def test_review_is_recorded_and_clears_pending_until_reopened(store: Store) -> None:
    reviewed = _complete(store, "P-001")
    waiting = _complete(store, "P-002", "not_eligible")
    assert [s.id for s in pending_review(store)] == [reviewed, waiting]

    with store.screening_tx(reviewed) as tx:
        review = record_review(tx, COORDINATOR, "confirm", "ok")
    assert review.id is not None
    assert get_review(store, review.id) == review
    assert [(r.action, r.coordinator_id, r.comment) for r in reviews(store, reviewed)] == [
        ("confirm", COORDINATOR, "ok")
    ]
    (event,) = store.events(reviewed, "confirmed")
    assert event.user_id == COORDINATOR and event.detail["review_id"] == review.id
    assert [s.id for s in pending_review(store)] == [waiting]

    # Reopened and completed again: the old review no longer covers the new completion.
    with store.screening_tx(reviewed) as tx:
        tx.reopen("age", COORDINATOR, "query")
    with store.screening_tx(reviewed) as tx:
        tx.complete("eligible", {})
        assert enqueue_summary(tx, {"patient_code": "P-001"}, GROUP_CHAT) == 2  # revision 2
    assert [s.id for s in pending_review(store)] == [waiting, reviewed]
    with pytest.raises(InvalidValue), store.screening_tx(reviewed) as tx:
        record_review(tx, COORDINATOR, "approve")


def test_idle_screenings_and_one_reminder_per_idle_period(store: Store) -> None:
    idle = _open(store, "P-001")
    _complete(store, "P-002")  # completed with a verdict: nothing to remind
    incomplete = _complete(store, "P-003", "incomplete")

    found = idle_screenings(store, _later(1))
    assert [i.screening.id for i in found] == [idle, incomplete]
    assert all(i.idle_since == i.screening.updated_at for i in found)
    assert idle_screenings(store, _later(-60)) == []

    first = found[0]
    assert enqueue_reminder(store, first, {"patient_code": "P-001"})
    assert not enqueue_reminder(store, first, {"patient_code": "P-001"})  # e.g. after a restart
    (reminder,) = messages(store, idle, MessageKind.REMINDER)
    assert reminder.recipient == INVESTIGATOR
    assert reminder.revision == reminder_revision(first.idle_since)

    # Touching the screening starts a new idle period, hence a new reminder key.
    with store.screening_tx(idle) as tx:
        tx.set_state("age")
    (again,) = [i for i in idle_screenings(store, _later(1)) if i.screening.id == idle]
    assert again.idle_since > first.idle_since
    assert enqueue_reminder(store, again, {"patient_code": "P-001"})
    assert len(messages(store, idle, MessageKind.REMINDER)) == 2


def test_a_failure_quoting_a_nul_byte_is_recorded_on_both_backends(store: Store) -> None:
    # PostgreSQL text refuses NUL: the failure must still be recorded, not crash the sender.
    _complete(store)
    message = due_messages(store, _later(1))[0]
    assert message.id is not None
    mark_failed(store, message.id, "Bad Request: can't parse 'a\x00b'", _later(60))
    (failed,) = [m for m in messages(store) if m.id == message.id]
    assert failed.last_error == "Bad Request: can't parse 'a\\x00b'"
