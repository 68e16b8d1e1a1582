"""The access history: every change of who may screen is recorded, with who made it.

Before it, ``users`` held only the state now: "who could screen on 12 March, and who
granted it?" had no answer.  Run identically against SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from storage import DuplicateUser, InvalidValue, Store, UserNotFound
from storage.schema import downgrade

INVESTIGATOR = 100  # added by the fixture, actor "test"
COORDINATOR = 200

# The trigger names of the database the test uses (on PostgreSQL, of its own schema:
# other suites share the database).
_TRIGGERS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    "postgresql": "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND NOT t.tgisinternal",
}


def _history(store: Store, telegram_id: int | None = None) -> list[tuple[int, str, Any, str]]:
    return [(e.telegram_id, e.action, e.detail, e.actor) for e in store.access_history(telegram_id)]


def test_each_access_change_is_recorded_with_its_actor(store: Store) -> None:
    store.add_user(300, "investigator", "Dr X", language="fr", actor="cli:alice")
    store.set_role(300, "coordinator", actor="cli:bob")
    store.set_display_name(300, "Dr Y", actor="cli:bob")
    store.set_active(300, False, actor="Dr Admin")
    store.set_active(300, True, actor="Dr Admin")

    assert _history(store, 300) == [
        (300, "added", {"role": "investigator", "name": "Dr X", "active": True}, "cli:alice"),
        (300, "role_changed", {"from": "investigator", "to": "coordinator"}, "cli:bob"),
        (300, "renamed", {"from": "Dr X", "to": "Dr Y"}, "cli:bob"),
        (300, "deactivated", None, "Dr Admin"),
        (300, "activated", None, "Dr Admin"),
    ]
    everyone = store.access_history()
    assert [e.telegram_id for e in everyone] == [INVESTIGATOR, COORDINATOR] + [300] * 5
    times = [(e.created_at, e.id) for e in everyone]
    assert times == sorted(times)  # type: ignore[type-var]
    assert all(e.created_at.tzinfo is not None for e in everyone)
    assert _history(store, 999) == []


def test_a_user_added_without_access_says_so(store: Store) -> None:
    store.add_user(300, "coordinator", active=False, actor="test")
    assert _history(store, 300) == [
        (300, "added", {"role": "coordinator", "name": "", "active": False}, "test")
    ]


def test_setting_what_is_already_set_records_nothing(store: Store) -> None:
    before = _history(store)
    assert store.set_role(INVESTIGATOR, "investigator", actor="x").role == "investigator"
    assert store.set_display_name(INVESTIGATOR, "Dr Investigator", actor="x").display_name
    assert store.set_active(INVESTIGATOR, True, actor="x").active
    # A language is the user's own preference (/lang), not an access change.
    store.set_language(INVESTIGATOR, "fr")
    assert _history(store) == before


def test_a_refused_change_records_nothing(store: Store) -> None:
    before = _history(store)
    with pytest.raises(DuplicateUser):
        store.add_user(INVESTIGATOR, "admin", actor="x")
    with pytest.raises(InvalidValue, match="unknown role"):
        store.add_user(301, "surgeon", actor="x")
    with pytest.raises(InvalidValue, match="unknown role"):
        store.set_role(INVESTIGATOR, "surgeon", actor="x")
    with pytest.raises(UserNotFound):
        store.set_active(999, False, actor="x")
    with pytest.raises(UserNotFound):
        store.set_display_name(999, "Nobody", actor="x")
    for blank in ("", "  "):
        with pytest.raises(InvalidValue, match="actor"):
            store.set_active(INVESTIGATOR, False, actor=blank)
        with pytest.raises(InvalidValue, match="actor"):
            store.add_user(301, "admin", actor=blank)
    assert _history(store) == before
    user = store.get_user(INVESTIGATOR)
    assert user is not None and user.active and user.role == "investigator"
    assert store.get_user(301) is None


def test_no_access_change_without_an_actor() -> None:
    """Keyword-only and required: a new caller cannot forget to say who made the change."""
    store = Store("sqlite://")
    with pytest.raises(TypeError, match="actor"):
        store.add_user(1, "investigator")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="actor"):
        store.set_role(1, "admin")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="actor"):
        store.set_display_name(1, "X")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="actor"):
        store.set_active(1, False)  # type: ignore[call-arg]
    store.close()


def test_the_change_and_its_record_are_one_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An access change whose record fails is not made: no unrecorded grant or revocation."""

    def failing(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("storage.repository._record_access", failing)
    with pytest.raises(RuntimeError):
        store.add_user(300, "admin", actor="x")
    with pytest.raises(RuntimeError):
        store.set_role(INVESTIGATOR, "admin", actor="x")
    with pytest.raises(RuntimeError):
        store.set_active(INVESTIGATOR, False, actor="x")

    assert store.get_user(300) is None
    user = store.get_user(INVESTIGATOR)
    assert user is not None and user.active and user.role == "investigator"


def test_access_events_are_append_only_in_the_database(store: Store) -> None:
    store.set_role(INVESTIGATOR, "admin", actor="cli:alice")
    statements = ["UPDATE access_events SET actor = 'someone else'", "DELETE FROM access_events"]
    if store.dialect == "postgresql":
        statements.append("TRUNCATE access_events")
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.exec_driver_sql(statement)
    assert _history(store, INVESTIGATOR)[-1][-1] == "cli:alice"


def test_downgrade_drops_the_table_and_keeps_the_other_guards(store: Store) -> None:
    """Down to 0005 removes access_events and its triggers; answers and events stay
    append-only (on PostgreSQL they share the trigger function with it)."""
    # One event row, as row triggers do not fire on an empty table.
    store.create_screening("P-1", "acse-pembro", "1.0", "a" * 64, INVESTIGATOR, "consent")
    downgrade(store.engine, "0005")
    assert "access_events" not in sa.inspect(store.engine).get_table_names()
    with store.engine.connect() as conn:
        triggers = {row[0] for row in conn.exec_driver_sql(_TRIGGERS[store.dialect])}
    assert "events_no_delete" in triggers or "events_append_only" in triggers
    assert not {t for t in triggers if t.startswith("access_events")}
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM events")

    store.upgrade()
    store.set_active(INVESTIGATOR, False, actor="after")
    assert _history(store) == [(INVESTIGATOR, "deactivated", None, "after")]
