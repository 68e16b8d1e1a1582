"""Database engine creation: URL normalisation, SQLite durability pragmas, file permissions.

SQLite is the embedded default and holds pseudonymised clinical data, so its file and
directory are owner-only, and every commit is fsynced (WAL + synchronous=FULL): a
"saved" answer must survive a power cut, not only a process crash.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

# Execution option asking for BEGIN IMMEDIATE on SQLite: a write transaction that starts
# deferred and upgrades later can fail with SQLITE_BUSY regardless of busy_timeout.
WRITE_TX = "screenbot_write"

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str | URL) -> URL:
    """Accept the URLs people paste (postgres://, postgresql://) and pick the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    if not is_sqlite(url) or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def prepare_sqlite_file(path: Path) -> None:
    """Create the data directory (0700) and the database file (0600) before SQLite does.

    SQLite would create the file with the process umask (often world-readable); the WAL
    and shared-memory files then inherit the database file's mode.
    """
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True)
        parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def sqlite_url(data_dir: Path | str, filename: str = "screenbot.sqlite3") -> str:
    """URL of the embedded database in ``data_dir``, creating the dir and file owner-only."""
    path = (Path(data_dir) / filename).resolve()
    prepare_sqlite_file(path)
    return f"sqlite:///{path}"


def create_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """An engine with the durability settings storage relies on, for either backend."""
    parsed = normalise_url(url)
    if not is_sqlite(parsed):
        engine_kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(parsed, **engine_kwargs)

    path = sqlite_file(parsed)
    if path is not None:
        prepare_sqlite_file(path)
    engine = sa.create_engine(parsed, **engine_kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours
        # (see _on_begin) and DDL is transactional during migrations.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_TX, False)
        # Straight to the driver: this runs once per transaction on the reply path.
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
