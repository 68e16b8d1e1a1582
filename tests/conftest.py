"""Fixtures shared by the command-line tests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment in ``tmp_path``: no stray .env, no DATABASE_URL, token or
    protocol directory from the machine; the chat reads /quit if it starts."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "TELEGRAM_TOKEN", "PROTOCOL_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("/quit\n"))
    return tmp_path


@pytest.fixture
def data_dir(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DATA_DIR=<tmp>/data, not created."""
    monkeypatch.setenv("DATA_DIR", str(clean_env / "data"))
    return clean_env / "data"


def one_line(err: str) -> str:
    """The whole of stderr, which must be a single line (rich must not wrap it either)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]
