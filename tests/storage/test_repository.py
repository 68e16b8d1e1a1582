"""The repository contract, run identically against SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from dialogs.values import Quantity, Value, from_json, to_json
from storage import (
    DuplicatePatientCode,
    DuplicateUser,
    InvalidTransition,
    InvalidValue,
    ScreeningNotFound,
    Store,
    UpdateAlreadyProcessed,
    UserNotFound,
)
from storage.models import Screening

INVESTIGATOR = 100
COORDINATOR = 200


def open_screening(store: Store, code: str = "P-001", **overrides: object) -> Screening:
    args: dict[str, object] = {
        "patient_code": code,
        "protocol_id": "acse-pembro",
        "protocol_version": "1.0",
        "protocol_sha256": "a" * 64,
        "investigator_id": INVESTIGATOR,
        "initial_state": "consent",
        "language": "fr",
    }
    args.update(overrides)
    return store.create_screening(**args)  # type: ignore[arg-type]


def sid(screening: Screening) -> int:
    assert screening.id is not None
    return screening.id


# -- users ---------------------------------------------------------------------------------


def test_users_are_added_listed_and_updated(store: Store) -> None:
    store.add_user(300, "admin", "Admin", language="en", actor="test")

    assert [u.telegram_id for u in store.list_users()] == [100, 200, 300]
    assert [u.telegram_id for u in store.list_users(role="coordinator")] == [200]

    store.set_active(100, False, actor="test")
    store.set_language(200, "en")
    assert store.get_user(100) is not None and store.get_user(100).active is False  # type: ignore[union-attr]
    assert store.get_user(200).language == "en"  # type: ignore[union-attr]
    assert [u.telegram_id for u in store.list_users(active=True)] == [200, 300]


def test_telegram_ids_beyond_32_bits_fit(store: Store) -> None:
    big = 7_000_000_000
    store.add_user(big, "investigator", actor="test")
    assert store.get_user(big) is not None


def test_user_errors_are_storage_errors(store: Store) -> None:
    assert store.get_user(999) is None
    with pytest.raises(DuplicateUser):
        store.add_user(100, "investigator", actor="test")
    with pytest.raises(InvalidValue, match="unknown role"):
        store.add_user(301, "surgeon", actor="test")
    with pytest.raises(InvalidValue, match="language"):
        store.add_user(301, "admin", language="de", actor="test")
    with pytest.raises(UserNotFound):
        store.set_active(999, False, actor="test")


# -- screenings ----------------------------------------------------------------------------


def test_created_screening_keeps_its_protocol_key_and_starts_in_progress(store: Store) -> None:
    created = open_screening(store)
    loaded = store.get_screening(sid(created))

    assert loaded == created
    assert (loaded.protocol_id, loaded.protocol_version, loaded.protocol_sha256) == (
        "acse-pembro",
        "1.0",
        "a" * 64,
    )
    assert loaded.status == "in_progress"
    assert loaded.current_state == "consent"
    assert loaded.created_at.tzinfo is not None
    assert [e.kind for e in store.events(sid(created))] == ["created"]


def test_unknown_screening_and_unknown_investigator(store: Store) -> None:
    with pytest.raises(ScreeningNotFound):
        store.get_screening(12345)
    with pytest.raises(ScreeningNotFound), store.screening_tx(12345):
        pass
    with pytest.raises(UserNotFound):
        open_screening(store, investigator_id=999)


def test_same_code_refused_while_open_and_allowed_after_close(store: Store) -> None:
    first = open_screening(store, "P-001")
    with pytest.raises(DuplicatePatientCode):
        open_screening(store, "P-001")
    # Another protocol is another screening.
    open_screening(store, "P-001", protocol_id="other-trial")

    with store.screening_tx(sid(first)) as tx:
        tx.abandon(reason="wrong patient")
    second = open_screening(store, "P-001")
    with store.screening_tx(sid(second)) as tx:
        tx.complete("eligible", {"I1": {"status": "met", "reason": "ok"}})
    third = open_screening(store, "P-001")

    assert len({sid(first), sid(second), sid(third)}) == 3


def test_database_index_refuses_a_second_open_code_even_bypassing_the_check(
    store: Store,
) -> None:
    first = open_screening(store, "P-009")
    row = store.get_screening(sid(first)).model_dump(exclude={"id"})
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sa.insert(Screening.metadata.tables["screenings"]).values(**row))


def test_create_with_update_id_is_applied_once(store: Store) -> None:
    created = open_screening(store, update_id=42)
    with pytest.raises(UpdateAlreadyProcessed) as info:
        open_screening(store, "P-other", update_id=42)

    assert info.value.screening_id == sid(created)
    assert len(store.list_screenings()) == 1
    assert store.is_processed(42)


# -- answers -------------------------------------------------------------------------------


def test_answer_state_and_update_id_commit_together(store: Store) -> None:
    s = sid(open_screening(store))
    with store.screening_tx(s) as tx:
        assert tx.claim_update(1)
        tx.record_answer("consent", "oui", "yes", None, INVESTIGATOR)
        tx.set_state("age")

    screening = store.get_screening(s)
    assert screening.current_state == "age"
    assert screening.updated_at >= screening.created_at
    assert store.current_answers(s)["consent"].raw == "oui"
    assert store.is_processed(1)


def test_exception_rolls_back_answer_state_and_update_id(store: Store) -> None:
    s = sid(open_screening(store))
    with pytest.raises(RuntimeError), store.screening_tx(s) as tx:
        tx.claim_update(1)
        tx.record_answer("consent", "oui", "yes", None, INVESTIGATOR)
        tx.set_state("age")
        raise RuntimeError("bot crashed before replying")

    assert store.current_answers(s) == {}
    assert store.get_screening(s).current_state == "consent"
    assert not store.is_processed(1)


def test_duplicate_update_id_is_applied_once(store: Store) -> None:
    s = sid(open_screening(store))
    applied = 0
    for _delivery in range(3):
        with store.screening_tx(s) as tx:
            if not tx.claim_update(77):
                continue
            tx.record_answer("consent", "yes", "yes", None, INVESTIGATOR)
            applied += 1

    assert applied == 1
    assert len(store.answer_history(s)) == 1


def test_changed_answer_supersedes_and_history_keeps_both(store: Store) -> None:
    s = sid(open_screening(store))
    weight = Quantity(70.0, "kg", "mass", 70.0, "kg")
    with store.screening_tx(s) as tx:
        first = tx.record_answer("weight", "70 kg", to_json(weight), "kg", INVESTIGATOR)
        tx.record_answer("age", "54", 54, None, INVESTIGATOR)
    with store.screening_tx(s) as tx:
        second = tx.record_answer(
            "weight",
            "72kg",
            to_json(Quantity(72.0, "kg", "mass", 72.0, "kg")),
            "kg",
            COORDINATOR,
            reason="transcription error",
        )

    history = store.answer_history(s, "weight")
    assert [a.raw for a in history] == ["70 kg", "72kg"]
    assert history[0].supersedes_id is None
    assert history[1].supersedes_id == first.id == history[0].id
    assert history[1].reason == "transcription error"
    assert history[1].user_id == COORDINATOR
    assert second.seq == 3

    current = store.current_answers(s)
    assert set(current) == {"weight", "age"}
    assert current["weight"].id == second.id
    assert from_json(current["weight"].value_json) == 72.0
    assert [a.question_id for a in store.answer_history(s)] == ["weight", "age", "weight"]


def test_values_round_trip_through_json(store: Store) -> None:
    s = sid(open_screening(store))
    values: dict[str, Value] = {
        "date": dt.date(2024, 3, 1),
        "qty": Quantity(1.5, "10^9/L", "count", 1500.0, "/mm3"),
        "unknown": from_json({"unknown": True}),
        "choice": "ECOG1",
        "number": 3.25,
    }
    with store.screening_tx(s) as tx:
        for qid, value in values.items():
            tx.record_answer(qid, str(value), to_json(value), None, INVESTIGATOR)

    restored = {q: from_json(a.value_json) for q, a in store.current_answers(s).items()}
    assert restored["date"] == dt.date(2024, 3, 1)
    assert restored["qty"] == 1.5 and restored["qty"].input_unit == "/mm3"  # type: ignore[union-attr]
    assert restored["unknown"] is values["unknown"]
    assert restored["choice"] == "ECOG1" and restored["number"] == 3.25


def test_non_json_value_is_refused_before_the_database(store: Store) -> None:
    s = sid(open_screening(store))
    with pytest.raises(InvalidValue), store.screening_tx(s) as tx:
        tx.record_answer("x", "nan", float("nan"), None, INVESTIGATOR)
    with pytest.raises(InvalidValue), store.screening_tx(s) as tx:
        tx.record_answer("x", "?", object(), None, INVESTIGATOR)
    assert store.answer_history(s) == []


def test_answers_and_events_are_append_only_in_the_database(store: Store) -> None:
    s = sid(open_screening(store))
    with store.screening_tx(s) as tx:
        tx.record_answer("consent", "yes", "yes", None, INVESTIGATOR)
    for statement in (
        "UPDATE answers SET raw = 'forged'",
        "DELETE FROM answers",
        "UPDATE events SET kind = 'x'",
        "DELETE FROM events",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.exec_driver_sql(statement)
    assert store.current_answers(s)["consent"].raw == "yes"


# -- lifecycle -----------------------------------------------------------------------------


def test_complete_records_verdict_criteria_and_event(store: Store) -> None:
    s = sid(open_screening(store))
    criteria = {"I1": {"status": "met", "reason": "age 54 >= 18"}, "E3": {"status": "not_met"}}
    with store.screening_tx(s) as tx:
        tx.set_state("done")
        tx.complete("eligible", criteria)

    done = store.get_screening(s)
    assert (done.status, done.verdict, done.criteria_json) == ("completed", "eligible", criteria)
    assert done.completed_at is not None
    (event,) = store.events(s, kind="completed")
    assert event.user_id == INVESTIGATOR
    assert event.detail["criteria"] == criteria


def test_closed_screening_refuses_answers_and_second_close(store: Store) -> None:
    s = sid(open_screening(store))
    with store.screening_tx(s) as tx:
        tx.abandon()
    with pytest.raises(InvalidTransition), store.screening_tx(s) as tx:
        tx.record_answer("consent", "yes", "yes", None, INVESTIGATOR)
    with pytest.raises(InvalidTransition), store.screening_tx(s) as tx:
        tx.complete("eligible", {})
    with pytest.raises(InvalidTransition), store.screening_tx(s) as tx:
        tx.reopen("consent")
        tx.reopen("consent")


def test_reopen_restores_progress_and_keeps_the_old_verdict_in_the_trail(store: Store) -> None:
    s = sid(open_screening(store))
    with store.screening_tx(s) as tx:
        tx.record_answer("consent", "yes", "yes", None, INVESTIGATOR)
        tx.complete("not_eligible", {"E1": {"status": "met"}})
    with store.screening_tx(s) as tx:
        tx.reopen("ecog", user_id=COORDINATOR, reason="ECOG was misread")
        tx.log_event("queried", COORDINATOR, {"question": "ecog"})

    screening = store.get_screening(s)
    assert (screening.status, screening.current_state, screening.verdict) == (
        "in_progress",
        "ecog",
        None,
    )
    kinds = [(e.kind, e.user_id) for e in store.events(s)]
    assert kinds == [
        ("created", INVESTIGATOR),
        ("completed", INVESTIGATOR),
        ("reopened", COORDINATOR),
        ("queried", COORDINATOR),
    ]
    assert store.events(s, "reopened")[0].detail["verdict"] == "not_eligible"
    assert store.current_answers(s)["consent"].raw == "yes"


def test_reopen_refused_when_the_patient_has_another_open_screening(store: Store) -> None:
    old = sid(open_screening(store, "P-5"))
    with store.screening_tx(old) as tx:
        tx.abandon()
    open_screening(store, "P-5")
    with pytest.raises(DuplicatePatientCode), store.screening_tx(old) as tx:
        tx.reopen("consent")
    assert store.get_screening(old).status == "abandoned"


def test_tx_cannot_be_used_after_it_ended(store: Store) -> None:
    s = sid(open_screening(store))
    with store.screening_tx(s) as tx:
        pass
    with pytest.raises(Exception, match="after it ended"):
        tx.record_answer("consent", "yes", "yes", None, INVESTIGATOR)


# -- read APIs -----------------------------------------------------------------------------


def test_list_and_find_screenings(store: Store) -> None:
    store.add_user(101, "investigator", actor="test")
    a = sid(open_screening(store, "A"))
    b = sid(open_screening(store, "B"))
    c = sid(open_screening(store, "C", investigator_id=101))
    with store.screening_tx(a) as tx:
        tx.complete("eligible", {})
    with store.screening_tx(b) as tx:
        tx.set_state("age")  # b is now the most recently touched

    assert [x.id for x in store.list_screenings()] == [a, b, c]
    assert [x.id for x in store.list_screenings(investigator_id=INVESTIGATOR)] == [a, b]
    assert [x.id for x in store.list_screenings(status="in_progress")] == [b, c]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert store.list_screenings(since=future) == []
    assert [x.id for x in store.list_screenings(updated_before=future, status="in_progress")] == [
        b,
        c,
    ]
    with pytest.raises(InvalidValue):
        store.list_screenings(status="paused")

    assert store.find_open_screening(INVESTIGATOR).id == b  # type: ignore[union-attr]
    assert store.find_open_screening(INVESTIGATOR, "A") is None
    assert store.find_open_screening(101, "C").id == c  # type: ignore[union-attr]
    assert store.find_open_by_code("acse-pembro", "B").id == b  # type: ignore[union-attr]
    assert store.find_open_by_code("acse-pembro", "A") is None


def test_claim_and_prune_processed_updates(store: Store) -> None:
    assert store.claim_update(5)
    assert not store.claim_update(5)
    assert store.prune_processed(dt.datetime.now(dt.UTC) - dt.timedelta(days=1)) == 0
    assert store.prune_processed(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == 1
    assert not store.is_processed(5)


# -- concurrency within one process --------------------------------------------------------


def test_threads_on_one_screening_are_serialised(store: Store) -> None:
    s = sid(open_screening(store))
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for i in range(15):
                with store.screening_tx(s) as tx:
                    seq_before = tx.screening.answer_count
                    time.sleep(0.001)  # widen the window a lost update would need
                    tx.record_answer(f"q{offset}-{i}", "x", "x", None, INVESTIGATOR)
                    assert tx.screening.answer_count == seq_before + 1
        except BaseException as exc:  # noqa: BLE001  (re-raised in the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    history = store.answer_history(s)
    assert [a.seq for a in history] == list(range(1, 61))
    assert store.get_screening(s).answer_count == 60
    assert store.live_locks == 0


@pytest.mark.postgres
def test_postgres_different_screenings_do_not_wait(pg_store: Store) -> None:
    # Only on PostgreSQL: SQLite has a single writer, so its write transactions queue.
    store = pg_store
    a = sid(open_screening(store, "A"))
    b = sid(open_screening(store, "B"))
    inside = threading.Event()
    release = threading.Event()

    def hold_a() -> None:
        with store.screening_tx(a) as tx:
            tx.set_state("held")
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold_a)
    holder.start()
    try:
        assert inside.wait(10)
        started = time.monotonic()
        with store.screening_tx(b) as tx:
            tx.record_answer("consent", "yes", "yes", None, INVESTIGATOR)
        assert time.monotonic() - started < 2
    finally:
        release.set()
        holder.join()
    assert store.get_screening(a).current_state == "held"
