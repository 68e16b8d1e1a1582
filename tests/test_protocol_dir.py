"""PROTOCOL_DIR: ``protocol check`` checks what the bot will load, and a folder with
nothing to load is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from dialogs.protocol import PROTOCOL_DIR, default_protocol_path
from tests.conftest import one_line


@pytest.fixture
def protocols(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = clean_env / "protocols"
    folder.mkdir()
    monkeypatch.setenv("PROTOCOL_DIR", str(folder))
    monkeypatch.setenv("DATA_DIR", str(clean_env / "data"))
    return folder


def test_protocol_check_without_files_checks_protocol_dir(
    protocols: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = protocols / "acse-pembrolizumab-v1.yaml"
    broken.write_text("id: broken\n", encoding="utf-8")
    assert main(["protocol", "check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"checking 1 protocol file(s) in {protocols} (PROTOCOL_DIR)"
    assert out[1].startswith(f"FAIL: {broken}: version: Field required")


def test_protocol_check_finds_one_version_in_two_files(
    protocols: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each file is fine alone; the bot refuses to start on the pair."""
    shutil.copy(default_protocol_path(), protocols / "a.yaml")
    shutil.copy(default_protocol_path(), protocols / "b.yaml")
    assert main(["protocol", "check"]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == (
        f"FAIL: {protocols / 'b.yaml'}: acse-pembrolizumab version 1 is also defined in "
        f"{protocols / 'a.yaml'}"
    )


def test_protocol_check_without_protocol_dir_says_bundled(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["protocol", "check"]) == 0
    out = capsys.readouterr().out.splitlines()
    count = len(list(PROTOCOL_DIR.glob("*.yaml")))
    assert out[0] == f"checking {count} protocol file(s) in {PROTOCOL_DIR} (bundled)"
    assert out[1].startswith("OK: acse-pembrolizumab v1 ")


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [([], "screenbot: error: "), (["protocol", "check"], "screenbot protocol check: ")],
    ids=["main-job", "protocol-check"],
)
@pytest.mark.parametrize("state", ["empty", "missing"])
def test_a_protocol_dir_with_nothing_to_load_is_named(
    state: str,
    argv: list[str],
    prefix: str,
    protocols: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = protocols if state == "empty" else protocols / "nowhere"
    monkeypatch.setenv("PROTOCOL_DIR", str(folder))
    (protocols / "notes.txt").write_text("not a protocol", encoding="utf-8")
    problem = "no protocol file (*.yaml) in it" if state == "empty" else "no such folder"
    assert main(argv) == 1
    assert one_line(capsys.readouterr().err) == f"{prefix}PROTOCOL_DIR {folder}: {problem}"
