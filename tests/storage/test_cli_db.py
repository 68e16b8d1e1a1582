"""``screenbot db`` / ``screenbot users`` through argparse, on the embedded SQLite default."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from bot import cli_db
from storage import Store

from .conftest import Database


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="screenbot")
    cli_db.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_db_upgrade_creates_the_embedded_database(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("db", "upgrade") == 0
    db = data_dir / "screenbot.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert "up to date" in capsys.readouterr().out


def test_users_add_list_deactivate(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run("users", "add", "123456789", "--role", "coordinator", "--name", "Ana", "--lang", "fr")
        == 0
    )
    assert run("users", "add", "42", "--role", "investigator") == 0
    assert run("users", "deactivate", "42") == 0
    capsys.readouterr()

    assert run("users", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == ["42\tinvestigator\tinactive\t-\t", "123456789\tcoordinator\tactive\tfr\tAna"]

    with Store(f"sqlite:///{data_dir / 'screenbot.sqlite3'}") as store:
        user = store.get_user(42)
        assert user is not None and not user.active


def test_errors_are_clear_and_non_zero(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Without a database, the database is what is missing (tests/test_cli_safety.py).
    assert run("users", "deactivate", "999") == 1
    assert "no database at" in capsys.readouterr().err

    assert run("users", "add", "7", "--role", "admin") == 0
    assert run("users", "deactivate", "999") == 1
    assert "no user with Telegram id 999" in capsys.readouterr().err

    assert run("users", "add", "7", "--role", "admin") == 1
    assert "already exists" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exit_info:
        run("users", "add", "8", "--role", "surgeon")
    assert exit_info.value.code == 2
    assert "invalid choice: 'surgeon'" in capsys.readouterr().err


@pytest.mark.postgres
def test_postgres_requires_an_explicit_upgrade(
    pg_database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", pg_database.url)

    assert run("users", "list") == 1
    assert "screenbot db upgrade" in capsys.readouterr().err
    assert run("db", "upgrade") == 0
    assert run("users", "add", "5", "--role", "investigator") == 0
    assert run("users", "list") == 0
    assert "5\tinvestigator" in capsys.readouterr().out
