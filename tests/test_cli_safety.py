"""The command line must not destroy or invent data by mistake.

An output path that is the database (or its -wal/-shm/-journal file, or a link to it)
is refused before anything is written: one typo would replace every screening and the
audit trail by a CSV.  A command that only reads, or changes what must already exist,
refuses a database that is not there instead of creating an empty one, whose "0
screening(s)" would pass for a real answer.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import one_line


@pytest.fixture
def env(data_dir: Path) -> Path:
    """The test's folder, with DATA_DIR=<it>/data, not created."""
    return data_dir.parent


def _database(env: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A real database with one user; returns its file."""
    assert main(["users", "add", "5", "--role", "coordinator", "--name", "Coord"]) == 0
    capsys.readouterr()
    return env / "data" / "screenbot.sqlite3"


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# -- item: an output file that is the database -----------------------------------------------

OUTPUT_COMMANDS = [
    ["export", "--format", "csv", "--output", "{out}"],
    ["export", "--format", "json", "--output", "{out}"],
    ["export", "--format", "fhir", "--output", "{out}"],
    ["log", "--png", "{out}"],
    ["protocol", "fhir", "--output", "{out}"],
]
OUTPUT_IDS = ["export-csv", "export-json", "export-fhir", "log-png", "protocol-fhir"]


def _the_file(db: Path) -> tuple[Path, Path]:
    return db, db


def _relative(db: Path) -> tuple[Path, Path]:
    return Path("data") / ".." / "data" / db.name, db


def _companion(suffix: str) -> Callable[[Path], tuple[Path, Path]]:
    def target(db: Path) -> tuple[Path, Path]:
        path = db.with_name(db.name + suffix)
        return path, path

    return target


def _symlink(db: Path) -> tuple[Path, Path]:
    link = db.parent.parent / "innocent.csv"
    link.symlink_to(db)
    return link, db


def _hard_link(db: Path) -> tuple[Path, Path]:
    link = db.parent.parent / "hard.csv"
    os.link(db, link)
    return link, db


TARGETS = {
    "the-file": _the_file,
    "relative": _relative,
    "wal": _companion("-wal"),
    "shm": _companion("-shm"),
    "journal": _companion("-journal"),
    "symlink": _symlink,
    "hard-link": _hard_link,
}


@pytest.mark.parametrize("target", list(TARGETS.values()), ids=list(TARGETS))
@pytest.mark.parametrize("argv", OUTPUT_COMMANDS, ids=OUTPUT_IDS)
def test_an_output_file_that_is_the_database_is_refused(
    argv: list[str],
    target: Callable[[Path], tuple[Path, Path]],
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = _database(env, capsys)
    out, named = target(db)
    before = _files(db.parent)
    assert main([part.replace("{out}", str(out)) for part in argv]) == 1
    line = one_line(capsys.readouterr().err)
    companion = named.name.rpartition("-")[2] if named != db else ""
    what = f"database's {companion} file" if companion else "database file"
    prefix = "screenbot protocol fhir" if argv[0] == "protocol" else "error"
    assert line == f"{prefix}: refusing to write {out}: it is the {what} {named}"
    assert _files(db.parent) == before  # nothing written, no temporary file left
    assert main(["users", "list"]) == 0
    assert "Coord" in capsys.readouterr().out


def test_the_database_named_by_database_url_is_refused_too(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = env / "elsewhere" / "bot.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    before = db.read_bytes()
    assert main(["export", "--format", "csv", "--output", str(db)]) == 1
    assert one_line(capsys.readouterr().err).endswith(f"it is the database file {db}")
    assert db.read_bytes() == before


def test_a_file_beside_the_database_may_be_written(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _database(env, capsys)
    out = db.with_name(db.name + ".csv")
    assert main(["export", "--format", "csv", "--output", str(out)]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfscreening_id,")


# -- item: no database where the settings point ----------------------------------------------

READING = [
    ["users", "list"],
    ["users", "deactivate", "5"],
    ["users", "activate", "5"],
    ["users", "set", "5", "--role", "admin"],
    ["users", "history"],
    ["export", "--format", "csv"],
    ["export", "--format", "json"],
    ["export", "--format", "fhir"],
    ["log"],
]
READING_IDS = [
    "users-list",
    "deactivate",
    "activate",
    "set",
    "history",
    "export-csv",
    "export-json",
    "export-fhir",
    "log",
]


@pytest.mark.parametrize("argv", READING, ids=READING_IDS)
def test_a_mistyped_data_dir_is_refused_and_nothing_is_created(
    argv: list[str], env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    db = env / "data" / "screenbot.sqlite3"
    assert one_line(captured.err) == (f"error: no database at {db}; check DATA_DIR or DATABASE_URL")
    assert captured.out == ""
    assert not (env / "data").exists()


@pytest.mark.parametrize("argv", READING, ids=READING_IDS)
def test_a_mistyped_sqlite_url_is_refused_and_nothing_is_created(
    argv: list[str], env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = env / "typo" / "bot.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(argv) == 1
    assert one_line(capsys.readouterr().err) == (
        f"error: no database at {db}; check DATA_DIR or DATABASE_URL"
    )
    assert not (env / "typo").exists()


def test_an_empty_file_or_another_programs_database_is_not_made_screenbots(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = env / "data"
    data.mkdir()
    db = data / "screenbot.sqlite3"
    db.touch()
    assert main(["users", "list"]) == 1
    assert "error: no database at" in one_line(capsys.readouterr().err)
    assert db.stat().st_size == 0

    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    db.chmod(0o644)
    assert main(["export", "--format", "csv"]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"error: no database at {db}; check DATA_DIR or DATABASE_URL"
    )
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"notes"}  # no migration ran on it
    # Nor was it opened as a store, which makes it owner-only and switches it to WAL.
    assert db.stat().st_mode & 0o777 == 0o644
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


@pytest.mark.parametrize(
    "argv", [["db", "upgrade"], ["users", "add", "6", "--role", "investigator"], ["chat"]]
)
def test_the_commands_meant_to_create_the_database_still_do(
    argv: list[str], env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    assert (env / "data" / "screenbot.sqlite3").stat().st_size > 0
    capsys.readouterr()
    assert main(["export", "--format", "csv"]) == 0
    assert "0 screening(s) exported as csv" in capsys.readouterr().err


def test_protocol_fhir_needs_no_database(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It never opens one: an unusable DATABASE_URL made its --output fail (exit 1)."""
    monkeypatch.setenv("DATABASE_URL", "nonsense://x")
    out = env / "questionnaire.json"
    assert main(["protocol", "fhir", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("{")
