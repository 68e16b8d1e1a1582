"""The terminal chat's screen is the investigator's conversation: no log record, no
traceback on it.  Run as the installed command, since the test runner's own logging
set-up would hide what Python prints without one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.chat import CHAT_LOG
from dialogs.protocol import default_protocol_path

ROOT = Path(__file__).resolve().parents[1]


def _chat(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(tmp_path / "data"),
        "PROTOCOL_DIR": str(tmp_path / "protocols"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--lang", "en"],
        cwd=tmp_path,
        env=env,
        input="\n".join([*lines, "/quit"]) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_a_protocol_changed_under_a_screening_shows_no_traceback(tmp_path: Path) -> None:
    protocols = tmp_path / "protocols"
    protocols.mkdir()
    protocol = protocols / default_protocol_path().name
    shutil.copy(default_protocol_path(), protocol)
    started = _chat(tmp_path, ["/new", "SA-12", "01/12/2026"])
    assert started.returncode == 0 and "Cohort?" in started.stdout, started.stdout

    # Edited without a new version number: the screening's version is refused.
    with protocol.open("a", encoding="utf-8") as f:
        f.write("# edited in place\n")
    resumed = _chat(tmp_path, ["1"])

    assert resumed.returncode == 0
    assert "protocol version is not loaded on this server" in resumed.stdout
    assert "Traceback" not in resumed.stdout + resumed.stderr
    assert resumed.stderr == ""
    log = (tmp_path / "data" / CHAT_LOG).read_text(encoding="utf-8")
    assert "changed since screenings started on it" in log and "Traceback" in log
    assert (tmp_path / "data" / CHAT_LOG).stat().st_mode & 0o077 == 0
