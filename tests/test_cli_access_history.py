"""``screenbot users history``: who was granted, changed or revoked access, when, by whom.

A trial unit's inspector asks "who could screen patients on 12 March, and who granted
it?".  ``users add|set|deactivate|activate`` changed the users table and recorded
nothing, so the question had no answer.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from storage import Store
from storage.schema import downgrade
from tests.conftest import one_line

HEADER = "WHEN (UTC)\tTELEGRAM_ID\tNAME\tACTION\tCHANGE\tBY"
WHEN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> str:
    """The OS login running the commands, fixed so the BY column is predictable."""
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    return "cli:alice"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.out.strip(), captured.err.strip()


def _history(capsys: pytest.CaptureFixture[str], *argv: str) -> list[list[str]]:
    """The history's rows, split into columns, without the header and the WHEN column
    (checked for its format here: the minute a test runs is not predictable)."""
    status, out, err = _run(["users", "history", *argv], capsys)
    assert (status, err) == (0, "")
    header, *lines = out.splitlines()
    assert header == HEADER
    rows = [line.split("\t") for line in lines]
    assert all(WHEN.fullmatch(row[0]) for row in rows), out
    return [row[1:] for row in rows]


def test_history_lists_each_change_in_order_with_who_made_it(
    data_dir: Path, login: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["users", "add", "100", "--role", "investigator", "--name", "Dr X"], capsys)[0] == 0
    assert _run(["users", "set", "100", "--role", "coordinator"], capsys)[0] == 0
    assert _run(["users", "deactivate", "100", "--by", "Dr  Admin "], capsys)[0] == 0
    assert _run(["users", "activate", "100", "--by", "ops on call"], capsys)[0] == 0

    assert _history(capsys) == [
        ["100", "Dr X", "added", "role investigator, name 'Dr X'", login],
        ["100", "Dr X", "role_changed", "role investigator -> coordinator", login],
        ["100", "Dr X", "deactivated", "-", "Dr Admin"],
        ["100", "Dr X", "activated", "-", "ops on call"],
    ]


def test_history_of_one_user_and_a_rename(
    data_dir: Path, login: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "100", "--role", "investigator", "--name", "Dr Muller"]) == 0
    assert _run(["users", "add", "200", "--role", "coordinator", "--by", "pi"], capsys)[0] == 0
    status, out, _ = _run(
        ["users", "set", "100", "--name", "Dr Éloïse Müller", "--role", "admin", "--by", "pi"],
        capsys,
    )
    assert status == 0 and out.startswith("updated 100")

    assert _history(capsys, "100") == [
        ["100", "Dr Éloïse Müller", "added", "role investigator, name 'Dr Muller'", login],
        ["100", "Dr Éloïse Müller", "role_changed", "role investigator -> admin", "pi"],
        ["100", "Dr Éloïse Müller", "renamed", "name 'Dr Muller' -> 'Dr Éloïse Müller'", "pi"],
    ]
    assert _history(capsys, "200") == [["200", "", "added", "role coordinator", "pi"]]


def test_a_command_that_changes_nothing_records_nothing(
    data_dir: Path, login: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["users", "add", "100", "--role", "investigator", "--name", "Dr X"], capsys)[0] == 0
    assert _run(["users", "activate", "100"], capsys)[1] == "100 is already active; nothing changed"
    assert _run(["users", "set", "100", "--role", "investigator", "--name", "Dr X"], capsys)[1] == (
        "100 already has these settings; nothing changed"
    )
    # A language is the user's own preference (/lang in the chat), not access.
    assert _run(["users", "set", "100", "--lang", "fr"], capsys)[1] == (
        "updated 100: language auto -> fr"
    )

    assert _history(capsys) == [["100", "Dr X", "added", "role investigator, name 'Dr X'", login]]


def test_a_refused_change_records_nothing(
    data_dir: Path, login: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["users", "add", "100", "--role", "investigator"], capsys)[0] == 0
    assert _run(["users", "add", "100", "--role", "admin", "--by", "intruder"], capsys)[0] == 1
    assert _run(["users", "deactivate", "7", "--by", "intruder"], capsys)[0] == 1
    assert _run(["users", "set", "7", "--role", "admin", "--by", "intruder"], capsys)[0] == 1

    assert _history(capsys) == [["100", "", "added", "role investigator", login]]


def test_history_of_an_unknown_user_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty history for a mistyped id would read as "this person never had access"."""
    assert _run(["users", "add", "100", "--role", "investigator"], capsys)[0] == 0
    assert _run(["users", "history", "9"], capsys) == (1, "", "error: no user with Telegram id 9")


def test_users_from_before_the_history_have_none(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database from before the upgrade: its users were added unrecorded.  ``history``
    migrates it like ``users list`` does and says there is nothing, rather than failing."""
    assert _run(["users", "add", "100", "--role", "investigator"], capsys)[0] == 0
    with Store(f"sqlite:///{data_dir / 'screenbot.sqlite3'}") as store:
        downgrade(store.engine, "0005")

    assert _run(["users", "history"], capsys) == (0, "no access changes recorded", "")
    assert _run(["users", "history", "100"], capsys) == (0, "no access changes recorded", "")
    assert _run(["users", "list"], capsys)[1].splitlines()[1].startswith("100\tinvestigator")


def test_history_never_creates_a_database(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = data_dir / "screenbot.sqlite3"
    assert main(["users", "history"]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"error: no database at {db}; check DATA_DIR or DATABASE_URL"
    )
    assert not data_dir.exists()

    data_dir.mkdir()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    assert main(["users", "history"]) == 1
    assert "error: no database at" in one_line(capsys.readouterr().err)
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"notes"}


def test_by_defaults_to_the_login_or_unknown(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A container's numeric uid has no login name: the change is still made and
    recorded, as ``cli:unknown``, rather than refused with a traceback."""

    def no_login() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr("getpass.getuser", no_login)
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert _run(["users", "add", "100", "--role", "investigator"], capsys)[0] == 0
    assert _history(capsys)[0][-1] == "cli:unknown"


def test_under_sudo_the_person_sudo_names_is_recorded(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sudo screenbot users add …` runs as root: "cli:root" alone names no one."""
    monkeypatch.setattr("getpass.getuser", lambda: "root")
    monkeypatch.setenv("SUDO_USER", "alice")
    assert _run(["users", "add", "100", "--role", "investigator"], capsys)[0] == 0
    assert _history(capsys)[0][-1] == "cli:root (sudo: alice)"


def test_a_blank_by_is_refused(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A blank BY answers "who granted it?" with nothing."""
    with pytest.raises(SystemExit) as exit_info:
        main(["users", "add", "100", "--role", "investigator", "--by", "  "])
    assert exit_info.value.code == 2
    assert "--by must not be blank" in capsys.readouterr().err
    assert not data_dir.exists()
