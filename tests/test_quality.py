"""The code-quality gate runs with the suite, so one command proves the tree is shippable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    # Beside this interpreter first: `.venv/bin/python -m pytest` has no venv on PATH.
    beside = Path(sys.executable).parent / "ruff"
    ruff = (
        str(beside)
        if beside.exists()
        else shutil.which("ruff") or pytest.fail("ruff is not installed (dev dependency group)")
    )
    result = _run(ruff, "check", "bot", "dialogs", "storage", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dialogs_imports_neither_telegram_nor_sqlmodel() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "dialogs").rglob("*.py")
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("import ", "from "))
        and any(m in line for m in ("telegram", "sqlmodel", "sqlalchemy", "storage", "bot."))
    ]
    assert offenders == []


def test_storage_knows_no_telegram() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "storage").rglob("*.py")
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("import ", "from ")) and ("telegram" in line or "bot." in line)
    ]
    assert offenders == []
