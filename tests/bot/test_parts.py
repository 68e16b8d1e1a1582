"""Small parts: callback data, the message catalogue, splitting, the extension hooks."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bot.handlers import split_text
from bot.keyboards import MAX_CALLBACK_BYTES, answer_data, keep_data, parse_data
from bot.texts import CATALOGUE, COMMANDS, language_from
from dialogs.protocol import AnswerType
from dialogs.registry import ProtocolRegistry
from tests.bot.conftest import Bot

BOT_PACKAGE = Path(__file__).resolve().parents[2] / "bot"


def test_callback_data_fits_for_every_acse_button() -> None:
    engine = ProtocolRegistry.from_directory().latest()
    sid = 9_999_999_999
    for q in engine.protocol.questions:
        values = [c.value for c in q.choices] or (
            ["yes", "no"] if q.type is AnswerType.yesno else []
        )
        for index, value in enumerate([*values, "?"]):
            data = answer_data(sid, q.id, value, index)
            assert len(data.encode()) <= MAX_CALLBACK_BYTES
            parsed = parse_data(data)
            assert parsed is not None and parsed.screening_id == sid and parsed.question_id == q.id
        assert parse_data(keep_data(sid, q.id)) is not None


def test_long_values_fall_back_to_an_index() -> None:
    data = answer_data(12, "some_question", "v" * 80, 3)
    assert data == "a|12|some_question|#3"


@pytest.mark.parametrize("data", ["", "a|x|q|v", "a|1|q", "z|1", "k|1", "l", "a" * 70, "x|1"])
def test_malformed_callback_data_is_refused(data: str) -> None:
    assert parse_data(data) is None


def test_catalogue_has_both_languages_with_the_same_placeholders() -> None:
    # One catalogue for the whole bot package: the investigator's words, the coordinators'
    # (coord_*) and the reminders' (reminder_*).
    assert {key.split("_", 1)[0] for key in CATALOGUE} >= {"coord", "reminder"}
    for key, entry in CATALOGUE.items():
        assert set(entry) == {"en", "fr"}, key
        fields = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in entry.items()}
        assert fields["en"] == fields["fr"], key
    assert [c for c, _ in COMMANDS["en"]] == [c for c, _ in COMMANDS["fr"]]


def test_every_message_the_bot_package_names_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for path in BOT_PACKAGE.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\(\s*\"(\w+)\"", source))
        used |= {f"coord_{key}" for key in re.findall(r"\btr\(\s*[\"'](\w+)[\"']", source)}
        used |= {f"reminder_{key}" for key in re.findall(r"\"reminder_(\w+)\"", source)}
    assert len(used) > 50
    assert sorted(used - set(CATALOGUE)) == []


def test_language_from_telegram_codes() -> None:
    assert language_from("fr-FR") == "fr"
    assert language_from("en-GB") == "en"
    assert language_from("de") == "en"
    assert language_from(None, "fr") == "fr"


def test_split_text_keeps_lines_and_limits() -> None:
    text = "a" * 5000 + "\n" + "b" * 10
    parts = split_text(text, 4096)
    assert all(len(p) <= 4096 for p in parts) and "".join(parts).replace("\n", "") == text.replace(
        "\n", ""
    )
    assert split_text("short") == ["short"]


async def test_extension_module_and_completion_hooks(
    make_bot: Any, monkeypatch: pytest.MonkeyPatch, eligible: dict[str, str]
) -> None:
    seen: dict[str, Any] = {}
    module = types.ModuleType("tests_fake_coordinator")

    def register(app: Any, services: Any) -> None:
        seen["registered"] = services

        def in_tx(tx: Any, engine: Any, evaluation: Any) -> None:
            seen["in_tx"] = (tx.screening.status, evaluation.verdict, engine.protocol.id)

        async def after(application: Any, completed: Any) -> None:
            seen["after"] = (application is app, completed.verdict, completed.patient_code)

        services.on_completing.append(in_tx)
        services.on_completed.append(after)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests_fake_coordinator", module)
    bot: Bot = await make_bot()
    monkeypatch.setattr("bot.app.EXTENSION_MODULES", ("tests_fake_coordinator", "bot.absent_ext"))
    from bot.app import build_application

    bot.app = build_application(bot.settings, bot.services, bot.request, bot.request)
    await bot.app.initialize()
    assert seen["registered"] is bot.services
    from tests.bot.conftest import answer_until_done

    chat = bot.chat()
    await chat.send("/new P-0300")
    await answer_until_done(bot, chat, eligible)
    assert seen["in_tx"] == ("completed", "eligible", "acse-pembrolizumab")
    assert seen["after"] == (True, "eligible", "P-0300")


async def test_failing_in_transaction_hook_rolls_the_completion_back(
    bot: Bot, eligible: dict[str, str]
) -> None:
    from tests.bot.conftest import answer_until_done

    def broken(tx: Any, engine: Any, evaluation: Any) -> None:
        raise RuntimeError("outbox unavailable")

    bot.services.on_completing.append(broken)
    chat = bot.chat()
    await chat.send("/new P-0301")
    with pytest.raises(AssertionError):
        await answer_until_done(bot, chat, eligible, limit=60)
    s = bot.store.find_open_screening(chat.user_id)
    assert s is not None and s.status == "in_progress"  # last answer not committed either
    assert "Sorry" in chat.last_text
