"""Arguments the command line must refuse before touching the database, and who may chat.

A Telegram user id that cannot exist (zero, negative, beyond a signed 64-bit column) is a
usage error (exit 2, argparse's one line), not a driver's OverflowError; and ``chat
--user-id`` never grants an unknown account access on the side.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import main
from storage import Store


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


BAD_IDS = ["99999999999999999999999", "9223372036854775808", "-5", "0", "1_000", "abc"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    "command",
    [
        ["users", "add", "{id}", "--role", "investigator"],
        ["users", "activate", "{id}"],
        ["users", "deactivate", "{id}"],
        ["chat", "--user-id={id}"],
    ],
    ids=["add", "activate", "deactivate", "chat"],
)
def test_impossible_telegram_ids_are_usage_errors(
    bad: str, command: list[str], data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [part.replace("{id}", bad) for part in command]
    line = _usage_error(argv, capsys)
    assert f"invalid Telegram user id: '{bad}'" in line
    assert "positive integer below 2^63" in line
    assert not data_dir.exists()  # refused before the database was opened


def test_the_largest_telegram_id_is_the_last_accepted(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    largest = str(2**63 - 1)
    assert main(["users", "add", largest, "--role", "investigator"]) == 0
    assert "invalid Telegram user id" in _usage_error(
        ["users", "add", str(2**63), "--role", "investigator"], capsys
    )


def test_chat_refuses_an_unregistered_user_id(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("/quit\n"))
    assert main(["chat", "--user-id", "4242"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "screenbot: error: user 4242 is not registered: "
        "screenbot users add 4242 --role investigator\n"
    )
    with Store(f"sqlite:///{data_dir / 'screenbot.sqlite3'}") as store:
        assert store.get_user(4242) is None  # no access granted on the side

    # Registered by the command the message gives, the same user may chat.
    assert main(["users", "add", "4242", "--role", "investigator"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("/quit\n"))
    assert main(["chat", "--user-id", "4242"]) == 0


def test_chat_refuses_a_deactivated_user_id(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "77", "--role", "investigator"]) == 0
    assert main(["users", "deactivate", "77"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("/quit\n"))
    assert main(["chat", "--user-id", "77"]) == 1
    err = capsys.readouterr().err
    assert err == "screenbot: error: user 77 is deactivated: screenbot users activate 77\n"
    with Store(f"sqlite:///{data_dir / 'screenbot.sqlite3'}") as store:
        user = store.get_user(77)
        assert user is not None and not user.active
