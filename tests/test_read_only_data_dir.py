"""A DATA_DIR on a read-only location (a snapshot or a backup mount) holding a valid
database: commands that read it work, read-only; commands that change it say why not.

A read-only bind mount needs a mount namespace: each command runs as the installed
command under ``unshare --user --map-root-user --mount`` (skipped where not allowed).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DB = "screenbot.sqlite3"

pytestmark = pytest.mark.slow


def _env(data_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir.parent),
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(data_dir),
        "COLUMNS": "300",
    }


def _screenbot(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=data_dir.parent,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _read_only(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``screenbot ARGV`` with ``data_dir`` mounted read-only."""
    folder = shlex.quote(str(data_dir))
    command = shlex.join([sys.executable, "-m", "bot.cli", *argv])
    script = (
        f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
        f"if touch {folder}/.probe 2>/dev/null; then exit 97; fi; exec {command}"
    )
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        cwd=data_dir.parent,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode == 97 or "unshare:" in done.stderr or "mount:" in done.stderr:
        pytest.skip(f"no read-only bind mount here: {done.stderr.strip()}")
    return done


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    data = tmp_path / "snapshot"
    done = _screenbot(data, "users", "add", "5", "--role", "coordinator", "--name", "Dr C")
    assert done.returncode == 0, done.stderr
    return data


def test_users_list_reads_a_database_on_a_read_only_location(snapshot: Path) -> None:
    done = _read_only(snapshot, "users", "list")
    assert done.returncode == 0, done.stderr
    assert "5\tcoordinator\tactive\t-\tDr C" in done.stdout
    assert not (snapshot / f"{DB}-wal").exists()  # nothing was written beside it


def test_export_reads_a_database_on_a_read_only_location(snapshot: Path) -> None:
    done = _read_only(snapshot, "export", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("screening_id,patient_code,")


def test_a_change_on_a_read_only_location_says_why_it_cannot(snapshot: Path) -> None:
    done = _read_only(snapshot, "users", "deactivate", "5")
    assert done.returncode == 1
    assert done.stderr == (
        f"error: the database {snapshot / DB} is on a read-only location (SQLite in WAL mode "
        "writes its -wal and -shm files beside it): this command changes the database; run "
        "it where the database is writable\n"
    )


def test_a_snapshot_with_commits_still_in_its_wal_file_shows_them(tmp_path: Path) -> None:
    """A snapshot taken while the bot runs: the last commits are only in the -wal file
    (reading the database file alone, ``immutable``, would miss them)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    live = tmp_path / "live"
    assert _screenbot(live, "users", "add", "5", "--role", "coordinator").returncode == 0
    holder = sqlite3.connect(live / DB)  # keeps the -wal file from being checkpointed away
    try:
        holder.execute("PRAGMA wal_autocheckpoint = 0")
        holder.execute("SELECT 1 FROM users").fetchall()
        added = _screenbot(live, "users", "add", "7", "--role", "investigator", "--name", "Dr I")
        assert added.returncode == 0, added.stderr
        snapshot = tmp_path / "snapshot"
        snapshot.mkdir()
        for suffix in ("", "-wal", "-shm"):
            shutil.copy(live / f"{DB}{suffix}", snapshot / f"{DB}{suffix}")
    finally:
        holder.close()
    assert (snapshot / f"{DB}-wal").stat().st_size > 0
    done = _read_only(snapshot, "users", "list")
    assert done.returncode == 0, done.stderr
    assert "7\tinvestigator\tactive\t-\tDr I" in done.stdout
