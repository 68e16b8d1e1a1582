"""What the command line says when its set-up is wrong: one clear line, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import one_line


def test_a_broken_protocol_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.yaml").write_text("id: broken\n", encoding="utf-8")
    monkeypatch.setenv("PROTOCOL_DIR", str(tmp_path))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert main(["chat"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("screenbot: ") and "broken.yaml: version: Field required" in err
    assert "Traceback" not in err


def test_an_unreachable_database_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://screener:s3cret@127.0.0.1:1/screenbot")
    assert main(["users", "list"]) == 1
    err = capsys.readouterr().err
    assert "database error (postgresql://screener:***@127.0.0.1:1/screenbot)" in err
    assert "s3cret" not in err and "Traceback" not in err


# -- an unusable data directory or database file ------------------------------------------

COMMANDS = [
    ["db", "upgrade"],
    ["users", "add", "6", "--role", "investigator"],
    ["users", "list"],
    ["export", "--format", "csv"],
    ["log"],
    ["chat"],
]
COMMAND_IDS = ["db-upgrade", "users-add", "users-list", "export", "log", "chat"]
# The commands that create the database when there is none (the others refuse, see
# tests/test_cli_safety.py), so they are the ones that meet an unusable data directory.
CREATING = [COMMANDS[0], COMMANDS[1], COMMANDS[5]]
CREATING_IDS = ["db-upgrade", "users-add", "chat"]


@pytest.fixture
def env(clean_env: Path) -> Path:
    return clean_env


@pytest.mark.parametrize(
    ("data_dir", "expected"),
    [
        ("afile/sub", "cannot create the data directory {env}/afile/sub: Not a directory"),
        ("afile", "cannot write the database {env}/afile/screenbot.sqlite3: Not a directory"),
    ],
    ids=["under-a-file", "is-a-file"],
)
@pytest.mark.parametrize("argv", CREATING, ids=CREATING_IDS)
def test_a_data_dir_that_cannot_be_one_is_named(
    argv: list[str],
    data_dir: str,
    expected: str,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (env / "afile").write_text("", encoding="utf-8")
    monkeypatch.setenv("DATA_DIR", str(env / data_dir))
    assert main(argv) == 1
    line = one_line(capsys.readouterr().err)
    assert line.endswith("error: " + expected.format(env=env))


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="running as root: chmod 0500 does not stop root from writing, so the directory "
    "would not be read-only (the Not-a-directory tests cover the same path)",
)
@pytest.mark.parametrize("argv", COMMANDS, ids=COMMAND_IDS)
def test_a_read_only_copy_of_a_database_is_named(
    argv: list[str],
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = env / "data"
    monkeypatch.setenv("DATA_DIR", str(data))
    assert main(["users", "add", "5", "--role", "coordinator"]) == 0
    db = data / "screenbot.sqlite3"
    before = db.read_bytes()
    db.chmod(0o400)
    data.chmod(0o500)
    try:
        capsys.readouterr()
        assert main(argv) == 1
        line = one_line(capsys.readouterr().err)
        assert line.endswith(f"error: cannot write the database {db}: Permission denied")
        assert db.read_bytes() == before
    finally:
        data.chmod(0o700)
        db.chmod(0o600)


# -- DATABASE_URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://screener:s3cret@db.example.org/screenbot", "unsupported database 'mysql'"),
        ("sqlite+aiosqlite:///x.db", "unsupported database 'sqlite+aiosqlite'"),
        ("not a url s3cret", "not a database URL"),
        ("postgresql://screener:s3cret@db.example.org:port/x", "not a database URL"),
    ],
)
@pytest.mark.parametrize("argv", [["db", "upgrade"], ["users", "list"], ["chat"]])
def test_an_unsupported_database_url_is_refused_without_its_password(
    url: str,
    problem: str,
    argv: list[str],
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(argv) == 1
    line = one_line(capsys.readouterr().err)
    assert line.endswith(f"error: DATABASE_URL: {problem} (use sqlite:/// or postgresql://)")
    assert "s3cret" not in line


def test_a_setting_that_does_not_parse_is_named_without_its_value(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(env / "data"))
    monkeypatch.setenv("REMINDER_DAYS", "s3cret")
    assert main(["users", "list"]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("screenbot: error: REMINDER_DAYS: Input should be a valid integer")
    assert "s3cret" not in line


# -- output files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["protocol", "fhir", "--output", "{out}"], "screenbot protocol fhir: "),
        (["export", "--format", "csv", "--output", "{out}"], "error: "),
        (["export", "--format", "fhir", "--output", "{out}"], "error: "),
        (["log", "--png", "{out}"], "error: "),
    ],
    ids=["protocol-fhir", "export-csv", "export-fhir", "log-png"],
)
def test_an_output_file_in_a_missing_directory_is_named(
    argv: list[str],
    prefix: str,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATA_DIR", str(env / "data"))
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    out = env / "nonexistent" / "dir" / ("a-rather-long-file-name-for-wrapping-" * 2 + "q.out")
    assert main([part.replace("{out}", str(out)) for part in argv]) == 1
    line = one_line(capsys.readouterr().err)
    assert line == f"{prefix}cannot write {out}: No such file or directory"


def test_a_failed_export_keeps_the_previous_file(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bot.cli_export
    from storage import StorageError

    monkeypatch.setenv("DATA_DIR", str(env / "data"))
    assert main(["db", "upgrade"]) == 0
    previous = env / "screenings.csv"
    previous.write_text("yesterday's export\n", encoding="utf-8")

    def half_written(*args: object, **_kwargs: object) -> int:
        out = args[3]
        assert hasattr(out, "write")
        out.write("half a row")
        raise StorageError("the database went away")

    monkeypatch.setattr(bot.cli_export, "export_to", half_written)
    assert main(["export", "--format", "csv", "--output", str(previous)]) == 1
    err = capsys.readouterr().err  # after the progress bar, which had started
    assert err.splitlines()[-1] == "error: the database went away" and "Traceback" not in err
    assert previous.read_text(encoding="utf-8") == "yesterday's export\n"
    assert sorted(p.name for p in env.iterdir()) == ["data", "screenings.csv"]


@pytest.mark.parametrize(
    ("argv", "described"),
    [
        (["export", "--help"], "Export screenings"),
        (["log", "--help"], "Print the screening log"),
        (["db", "upgrade", "--help"], "Apply pending schema migrations"),
    ],
)
def test_help_describes_the_command(
    argv: list[str], described: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert described in capsys.readouterr().out
