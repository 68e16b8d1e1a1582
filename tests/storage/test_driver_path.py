"""The unit of work runs its statements on the DBAPI cursor (see ``_DriverStatement``).

These tests pin what that shortcut must not change, on both backends: the stored bytes
are those ``Connection.execute`` would write, the normal read paths get the values back,
and driver errors still surface as SQLAlchemy (hence storage) errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from storage import StorageError, Store, UserNotFound
from storage.models import AnswerRecord, EventRecord, table

INVESTIGATOR = 100

VALUES: list[Any] = [
    {"quantity": 72.5, "unit": "kg", "nested": [1, None, True, "é→µ"]},
    None,  # sa.JSON stores Python None as JSON null, not SQL NULL
    "ECOG1",
    -3,
    [],
]


def _open(store: Store) -> int:
    screening = store.create_screening("P-1", "acse", "1.0", "a" * 64, INVESTIGATOR, "consent")
    assert screening.id is not None
    return screening.id


def _stored(store: Store, answer_id: int) -> tuple[Any, ...]:
    """The row as the database holds it, in text, whichever path wrote it."""
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT CAST(value_json AS TEXT), CAST(created_at AS TEXT), raw, unit, reason,"
                " user_id FROM answers WHERE id = :id"
            ),
            {"id": answer_id},
        ).one()
    return tuple(row)


@pytest.mark.parametrize("value", VALUES)
def test_answer_is_stored_as_sqlalchemy_would_store_it(store: Store, value: Any) -> None:
    s = _open(store)
    with store.screening_tx(s) as tx:
        written = tx.record_answer("weight", "72,5 kg", value, "kg", INVESTIGATOR, "typo")

    (read,) = store.answer_history(s)
    assert read.model_dump() == written.model_dump()
    assert read.value_json == value
    assert read.created_at.tzinfo == dt.UTC

    # The same values through Connection.execute, for comparison byte for byte.
    row = written.model_dump(exclude={"id"}) | {"seq": 99, "supersedes_id": None}
    with store.engine.begin() as conn:
        reference = conn.execute(
            sa.insert(table(AnswerRecord)).values(**row).returning(table(AnswerRecord).c.id)
        ).scalar_one()
    assert written.id is not None
    assert _stored(store, written.id) == _stored(store, reference)


def test_screening_update_and_events_read_back_through_the_normal_api(store: Store) -> None:
    s = _open(store)
    criteria = {"I1": {"status": "met", "reason": "âge ≥ 18"}, "E3": None}
    with store.screening_tx(s) as tx:
        tx.claim_update(7)
        first = tx.record_answer("age", "54", 54, None, INVESTIGATOR)
        second = tx.record_answer("age", "55", 55, None, INVESTIGATOR, "typo")
        tx.set_language("en")
        tx.complete("eligible", criteria)
        in_tx = tx.screening  # updated_at is set as the transaction commits

    stored = store.get_screening(s)
    assert stored.model_dump() == in_tx.model_dump()
    assert stored.completed_at is not None and stored.completed_at.tzinfo == dt.UTC
    assert (stored.criteria_json, stored.language, stored.answer_count) == (criteria, "en", 2)
    assert second.supersedes_id == first.id and first.supersedes_id is None
    assert store.is_processed(7)

    (completed,) = store.events(s, "completed")
    assert completed.detail == {"verdict": "eligible", "criteria": criteria, "state": "consent"}
    with store.screening_tx(s) as tx:
        logged = tx.log_event("note", None, {"text": "ok"})
    assert store.events(s, "note")[0].model_dump() == logged.model_dump()
    assert isinstance(logged, EventRecord) and logged.id is not None


def test_driver_errors_surface_as_storage_errors_and_roll_back(store: Store) -> None:
    s = _open(store)
    with pytest.raises(UserNotFound), store.screening_tx(s) as tx:
        tx.claim_update(1)
        tx.record_answer("age", "54", 54, None, 999)
    with pytest.raises(UserNotFound), store.screening_tx(s) as tx:
        tx.log_event("note", 999)
    assert not store.is_processed(1)

    # A seq taken behind the lock's back (a lost lock) is refused by the database.
    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(table(AnswerRecord)).values(
                screening_id=s, seq=1, question_id="x", raw="x", value_json=1,
                user_id=INVESTIGATOR, created_at=now,
            )
        )  # fmt: skip
    with pytest.raises(StorageError, match="integrity"), store.screening_tx(s) as tx:
        tx.record_answer("age", "54", 54, None, INVESTIGATOR)

    # The connection is still usable after the errors.
    with store.screening_tx(s) as tx:
        tx.set_state("age")
    assert store.get_screening(s).current_state == "age"


def test_per_update_reads_name_the_open_status_in_the_sql_not_as_a_parameter(
    store: Store,
) -> None:
    """SQLite re-prepares, on every run, a statement whose bound value could decide
    whether a partial index applies (the open patient code index is on status =
    'in_progress'): bound, the lock read cost 40 us instead of 8 here."""
    with store.engine.connect() as conn:
        hot = store._hot_path(conn)
    for statement in (hot.lock, hot.open_screening):
        assert "status = 'in_progress'" in statement.sql
        assert not any("status" in name for name in statement._names), statement.sql
