"""Database engine creation: URL normalisation, SQLite durability pragmas, file permissions.

SQLite is the embedded default and holds pseudonymised clinical data, so its file and
directory are owner-only, and every commit is fsynced (WAL + synchronous=FULL): a
"saved" answer must survive a power cut, not only a process crash.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError

from storage.errors import StorageError

# Execution option asking for BEGIN IMMEDIATE on SQLite: a write transaction that starts
# deferred and upgrades later can fail with SQLITE_BUSY regardless of busy_timeout.
WRITE_TX = "screenbot_write"

SQLITE_BUSY_TIMEOUT_MS = 30_000


# The only drivers shipped with screenbot: any other URL would fail later, deep in
# SQLAlchemy, with an ImportError naming a module the user never asked for.
_SUPPORTED_DRIVERS = frozenset(
    {"sqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+psycopg"}
)
_USE = "use sqlite:/// or postgresql://"


class UnusableDatabase(StorageError):
    """The configured database cannot be used at all (bad URL, unwritable file or directory).

    Raised before any connection so the command line can say what to fix in one line
    instead of a driver's ImportError or OSError traceback.
    """


def normalise_url(url: str | URL) -> URL:
    """Accept the URLs people paste (postgres://, postgresql://) and pick the psycopg 3 driver.

    Anything but SQLite or PostgreSQL is refused here, naming only the URL's scheme: the
    rest of the URL may hold a password.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise UnusableDatabase(f"DATABASE_URL: not a database URL ({_USE})") from None
    if parsed.drivername not in _SUPPORTED_DRIVERS:
        raise UnusableDatabase(f"DATABASE_URL: unsupported database {parsed.drivername!r} ({_USE})")
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database.

    A URI filename (``file:///path?...&uri=true``, see :func:`read_only_url`) names
    its file by the URI's path.
    """
    if not is_sqlite(url) or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("uri") == "true" and url.database.startswith("file:"):
        return Path(unquote(urlsplit(url.database).path))
    return Path(url.database)


def is_read_only(url: URL) -> bool:
    """A SQLite URL opened read-only (:func:`read_only_url`): no file preparation, no
    WAL switch, no write."""
    return is_sqlite(url) and url.query.get("mode") == "ro"


def on_read_only_location(path: Path) -> bool:
    """Whether SQLite cannot write the file or, beside it, its -wal and -shm files
    (a read-only mount such as a snapshot or a backup, or a folder without write
    permission)."""
    parent = Path(os.path.abspath(path)).parent
    return not os.access(parent, os.W_OK | os.X_OK) or not os.access(path, os.W_OK)


def read_only_url(path: Path) -> URL:
    """A URL that reads the database at ``path`` without writing anything beside it.

    In WAL mode even a reader needs the -shm file, which a read-only location cannot
    create.  With no -wal file, or an empty one, every committed transaction is in the
    database file and ``immutable=1`` reads it without the -shm file.  A non-empty -wal
    file holds commits not yet in the database file: ``immutable`` would ignore them,
    so it is read with ``mode=ro`` alone (which needs the -shm file copied beside it).
    """
    query = {"mode": "ro", "uri": "true"}
    wal = path.with_name(path.name + "-wal")
    try:
        pending = wal.stat().st_size > 0
    except OSError:  # no -wal file
        pending = False
    if not pending:
        query["immutable"] = "1"
    return URL.create("sqlite+pysqlite", database=_absolute(path).as_uri(), query=query)


class MissingDatabase(UnusableDatabase):
    """A command that only reads found no database where the settings point.

    Opening it would create and migrate an empty one (SQLite creates a missing file), so
    a mistyped ``DATA_DIR`` would give an export or a log of nothing that looks real, and
    leave a stray database behind.
    """

    def __init__(self, where: Path | str) -> None:
        super().__init__(f"no database at {where}; check DATA_DIR or DATABASE_URL")
        self.where = where


class ReadOnlyDatabase(UnusableDatabase):
    """The database is on a read-only location (a snapshot, a backup mount).

    Said as such: "no database" would send the reader looking for a file that is there.
    """

    def __init__(self, where: Path | str, advice: str) -> None:
        super().__init__(
            f"the database {where} is on a read-only location (SQLite in WAL mode writes "
            f"its -wal and -shm files beside it): {advice}"
        )
        self.where = where


READ_ONLY_COPY = (
    "copy the folder (the database with its -wal and -shm files) somewhere writable "
    "and point DATA_DIR there"
)
READ_ONLY_CHANGE = "this command changes the database; run it where the database is writable"


def require_existing_sqlite(url: URL, *, read_only: bool = False) -> URL:
    """Raise :class:`MissingDatabase` when a SQLite URL names a file that is not there.

    Checked before any engine exists: creating the engine creates the file.  An empty
    file (0 bytes) is no database either.  PostgreSQL and in-memory URLs pass: a server
    refuses a database that does not exist by itself.

    Returns the URL to open: ``url``, or for a caller that only reads (``read_only``)
    a database on a read-only location, :func:`read_only_url`.  A caller that writes
    gets :class:`ReadOnlyDatabase` for such a database.
    """
    path = sqlite_file(url)
    if path is None:
        return url
    try:
        size = path.stat().st_size
    except OSError:  # missing, or a path through a regular file (Not a directory)
        raise MissingDatabase(_absolute(path)) from None
    if size == 0 and path.is_file():
        raise MissingDatabase(_absolute(path))
    if not path.is_file():
        return url
    if not on_read_only_location(path):
        if not _holds_screenbot_schema(f"{_absolute(path).as_uri()}?mode=ro"):
            # Another program's SQLite file: refused before the store opens it, which
            # would switch it to WAL and make it owner-only.
            raise MissingDatabase(_absolute(path))
        return url
    ro_url = read_only_url(path)
    holds = _holds_screenbot_schema(_uri_of(ro_url))
    if holds is False:
        raise MissingDatabase(_absolute(path))
    if holds is None:
        raise ReadOnlyDatabase(_absolute(path), READ_ONLY_COPY)
    if not read_only:
        raise ReadOnlyDatabase(_absolute(path), READ_ONLY_CHANGE)
    return ro_url


def _uri_of(url: URL) -> str:
    """The SQLite URI filename of a :func:`read_only_url`, for the sqlite3 module."""
    options = "&".join(f"{k}={v}" for k, v in sorted(url.query.items()) if k != "uri")
    return f"{url.database}?{options}"


def _holds_screenbot_schema(uri: str) -> bool | None:
    """Whether the file has Alembic's version table, read without writing anything
    (read-only URI: no journal, no WAL switch, no permission change).  None when it
    cannot be opened at all (a WAL database on a read-only location without its -shm)."""
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.OperationalError:
        return None
    except sqlite3.Error:
        return False
    try:
        row = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
    except sqlite3.OperationalError:  # cannot open (the open is lazy)
        return None
    except sqlite3.Error:  # not a database at all
        return False
    finally:
        db.close()
    return row is not None


# Files SQLite keeps beside a database named NAME: NAME-wal and NAME-shm in WAL mode,
# NAME-journal in rollback mode.  Overwriting any of them corrupts or loses the data.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def database_files(url: str | URL) -> list[Path]:
    """The SQLite database file then its companions; empty for PostgreSQL or in-memory.

    Both the path as configured and its symlink-resolved target are listed: SQLite
    names the journal after the path it opened, which may be either.
    """
    path = sqlite_file(normalise_url(url))
    if path is None:
        return []
    bases = [_absolute(path)]
    resolved = Path(os.path.realpath(path))
    if resolved != bases[0]:
        bases.append(resolved)
    files = list(bases)
    files += [base.with_name(base.name + suffix) for base in bases for suffix in SQLITE_COMPANIONS]
    return files


def overwritten_database_file(target: Path, url: str | URL) -> Path | None:
    """The database file (or companion) that writing ``target`` would destroy, else None.

    Why more than comparing names: ``target`` may be relative, go through a symlink, be a
    symlink to the database, or a hard link to it; any of them writes the same bytes.
    """
    real = Path(os.path.realpath(target))
    for candidate in database_files(url):
        if real == Path(os.path.realpath(candidate)):
            return candidate
        try:
            if os.path.samefile(target, candidate):
                return candidate
        except OSError:  # one of them does not exist: not the same file
            continue
    return None


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def prepare_sqlite_file(path: Path) -> None:
    """Create the data directory (0700) and the database file (0600) before SQLite does.

    SQLite would create the file with the process umask (often world-readable); the WAL
    and shared-memory files then inherit the database file's mode.  A directory or file
    we cannot write (read-only mount, a regular file in the path, no permission) raises
    :class:`UnusableDatabase` naming the path: SQLite would fail on the first write
    anyway, possibly after the user typed answers that are then lost.
    """
    parent = path.parent
    try:
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True)
            parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise UnusableDatabase(
            f"cannot create the data directory {parent}: {_reason(exc)}"
        ) from None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError as exc:
        raise UnusableDatabase(f"cannot write the database {path}: {_reason(exc)}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        # The file is writable but SQLite also creates its -wal and -shm files beside it.
        raise UnusableDatabase(
            f"cannot write in the data directory {parent} (SQLite keeps its journal there): "
            f"{os.strerror(errno.EACCES)}"
        )


def _reason(exc: OSError) -> str:
    """The errno's text alone ("Read-only file system"): the path is already named."""
    return exc.strerror or str(exc)


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
    read_only = is_read_only(parsed)
    if path is not None and not read_only:
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
            if path is not None and not read_only:
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
