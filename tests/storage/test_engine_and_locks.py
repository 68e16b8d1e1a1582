"""URL handling, SQLite durability settings and file permissions, the lock registry."""

from __future__ import annotations

import gc
import stat
import threading
from pathlib import Path

from storage import Store, normalise_url, sqlite_url
from storage.locks import KeyedLocks


def test_postgres_urls_are_normalised_to_psycopg() -> None:
    for raw in ("postgresql://u:p@h:5432/db", "postgres://u:p@h:5432/db"):
        assert normalise_url(raw).drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:////tmp/x.db").drivername == "sqlite"


def test_sqlite_url_creates_owner_only_dir_and_file(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "nested" / "data")
    db = Path(url.removeprefix("sqlite:///"))

    assert db.exists()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_store_on_a_plain_sqlite_url_also_restricts_the_file(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "screenbot.sqlite3"
    with Store(f"sqlite:///{db}") as store:
        store.upgrade()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_sqlite_pragmas_are_durable(tmp_path: Path) -> None:
    with Store(sqlite_url(tmp_path)) as store, store.engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma["journal_mode"] == "wal"
    assert pragma["synchronous"] == 2  # FULL
    assert pragma["foreign_keys"] == 1
    assert int(pragma["busy_timeout"] or 0) >= 1000


def test_lock_registry_forgets_unused_locks() -> None:
    locks = KeyedLocks()
    for key in range(1000):
        with locks.hold(key):
            assert len(locks) == 1
    gc.collect()
    assert len(locks) == 0


def test_same_key_excludes_and_other_keys_do_not() -> None:
    locks = KeyedLocks()
    entered = threading.Event()
    with locks.hold("a"):

        def take_b() -> None:
            with locks.hold("b"):
                entered.set()

        other = threading.Thread(target=take_b)
        other.start()
        assert entered.wait(5), "a different key must not wait"
        other.join()

        blocked = threading.Event()

        def take_a() -> None:
            with locks.hold("a"):
                blocked.set()

        waiter = threading.Thread(target=take_a)
        waiter.start()
        assert not blocked.wait(0.2), "the same key must wait"
    waiter.join(5)
    assert blocked.is_set()
