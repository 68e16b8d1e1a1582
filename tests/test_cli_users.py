"""``screenbot users``: changing a user, and saying when an action changes nothing.

Promoting an investigator, fixing a misspelt name or setting a language used to need
the database edited by hand; and "deactivated 100" for a user who already was let an
admin believe they had just revoked an access.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from storage import Store


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.out.strip(), captured.err.strip()


def _user(data_dir: Path, telegram_id: int) -> tuple[str, str, str | None, bool]:
    with Store(f"sqlite:///{data_dir / 'screenbot.sqlite3'}") as store:
        user = store.get_user(telegram_id)
    assert user is not None
    return user.role, user.display_name, user.language, user.active


def test_set_changes_role_name_and_language(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "100", "--role", "investigator", "--name", "Dr Muller"]) == 0
    capsys.readouterr()

    status, out, _ = _run(
        ["users", "set", "100", "--role", "coordinator", "--name", "Dr Éloïse Müller"], capsys
    )
    assert status == 0
    assert out == (
        "updated 100: role investigator -> coordinator, name 'Dr Muller' -> 'Dr Éloïse Müller'"
    )
    assert _user(data_dir, 100) == ("coordinator", "Dr Éloïse Müller", None, True)

    assert _run(["users", "set", "100", "--lang", "fr"], capsys)[1] == (
        "updated 100: language auto -> fr"
    )
    assert _user(data_dir, 100)[2] == "fr"
    # Back to the Telegram client's language.
    assert _run(["users", "set", "100", "--lang", "auto"], capsys)[1] == (
        "updated 100: language fr -> auto"
    )
    assert _user(data_dir, 100)[2] is None

    status, out, _ = _run(["users", "set", "100", "--role", "coordinator"], capsys)
    assert (status, out) == (0, "100 already has these settings; nothing changed")


def test_set_refuses_an_unknown_user_or_nothing_to_change(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "100", "--role", "investigator"]) == 0
    capsys.readouterr()
    assert _run(["users", "set", "9", "--role", "admin"], capsys) == (
        1,
        "",
        "error: no user with Telegram id 9",
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["users", "set", "100"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "screenbot users set: error: nothing to change: give --role, --name or --lang"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["users", "set", "100", "--role", "superuser"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "add", "101", "--role", "investigator", "--name", ""],
        ["users", "add", "101", "--role", "investigator", "--name", "   "],
        ["users", "set", "100", "--name", "  "],
    ],
)
def test_a_blank_display_name_is_refused(
    argv: list[str], data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A blank name was accepted: summaries and the audit trail then named the person by
    their id only, or by spaces."""
    assert main(["users", "add", "100", "--role", "investigator", "--name", "Dr  A "]) == 0
    assert _user(data_dir, 100)[1] == "Dr A"  # spaces tidied
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "a display name must not be blank" in capsys.readouterr().err
    assert _user(data_dir, 100)[1] == "Dr A"


def test_adding_an_existing_user_says_how_to_change_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "100", "--role", "investigator"]) == 0
    capsys.readouterr()
    assert _run(["users", "add", "100", "--role", "coordinator"], capsys) == (
        1,
        "",
        "error: a user with Telegram id 100 already exists: change it with "
        "`screenbot users set 100 --role coordinator` (or --name, --lang)",
    )
    assert _user(data_dir, 100)[0] == "investigator"


def test_deactivating_twice_says_the_second_time_changed_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "100", "--role", "investigator"]) == 0
    capsys.readouterr()
    assert _run(["users", "activate", "100"], capsys) == (
        0,
        "100 is already active; nothing changed",
        "",
    )
    assert _run(["users", "deactivate", "100"], capsys) == (0, "deactivated 100", "")
    assert _run(["users", "deactivate", "100"], capsys) == (
        0,
        "100 is already deactivated; nothing changed",
        "",
    )
    assert _user(data_dir, 100)[3] is False
    assert _run(["users", "activate", "100"], capsys) == (0, "activated 100", "")
    assert _run(["users", "deactivate", "7"], capsys) == (
        1,
        "",
        "error: no user with Telegram id 7",
    )
