"""What the command line says when its set-up is wrong: one clear line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main


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
