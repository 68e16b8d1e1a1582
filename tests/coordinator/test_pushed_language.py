"""A pushed message (a summary, a notice, a reminder) is in its reader's language by the
rule replies follow: chosen with /lang, else the Telegram client's, else the default.

A pushed message has no update to read a client's language from: it is the one last seen
(``users.telegram_language``).  Before, it was ignored: a French coordinator who never
typed /lang read every reply in French and every summary in English.  A coordinator's
own updates stop in the coordinator's handlers, so those record it too.

Through the real application (``bot.app``, the coordinator extension included) on the
offline request: the investigator screens in the chat, the summary goes out through the
outbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import CallbackContext

from bot.coordinator import outbox_job, reminder_job
from dialogs.engine import Engine
from storage import Store
from tests.bot.conftest import INVESTIGATOR, Bot
from tests.coordinator.conftest import Clock, app_settings, start_screening

COORDINATOR = 7101
NEVER_SEEN = 7102
FRENCH_INVESTIGATOR = 7103

FRENCH = "terminé : <b>NON ÉLIGIBLE</b>"
ENGLISH = "completed: <b>NOT ELIGIBLE</b>"


@pytest.fixture
async def make_app(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    made: list[Bot] = []

    async def make(**settings: Any) -> Bot:
        bot = Bot(app_settings(tmp_path, **settings))
        await bot.start()
        made.append(bot)
        bot.store.add_user(INVESTIGATOR, "investigator", "Dr A", actor="test")
        bot.store.add_user(COORDINATOR, "coordinator", "Coord C", actor="test")
        bot.store.add_user(NEVER_SEEN, "coordinator", "Coord N", actor="test")
        return bot

    yield make
    for bot in made:
        await bot.stop()


async def _complete(bot: Bot, code: str) -> None:
    """An investigator with an English client screens until the first failing criterion,
    ends the screening there, and the summary is sent."""
    chat = bot.chat(INVESTIGATOR, language_code="en")
    await chat.send(f"/new {code}")
    await chat.send("today")
    for label in ("Sarcoma", "Yes", "Yes", "Yes", "End screening"):  # prior anti-PD-1
        await chat.press(label)
    assert "verdict: NOT ELIGIBLE" in chat.last_text
    await outbox_job(CallbackContext(bot.app))


def _summary(bot: Bot, chat_id: int, code: str) -> dict[str, Any]:
    """The summary's first message (a long summary goes in several)."""
    [summary] = [m for m in bot.request.messages_to(chat_id) if f"<b>{code}</b>" in m["text"]]
    return summary


@pytest.mark.parametrize("command", ["/pending", "/start"])
async def test_a_coordinator_seen_once_with_a_french_client_reads_summaries_in_french(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    bot = await make_app()
    recorded: list[str | None] = []
    record = bot.store.set_telegram_language

    def spy(telegram_id: int, code: str | None) -> Any:
        recorded.append(code)
        return record(telegram_id, code)

    monkeypatch.setattr(bot.store, "set_telegram_language", spy)
    coordinator = bot.chat(COORDINATOR, language_code="fr")
    # /pending is the coordinator's own handler; /start goes on to the investigator flow.
    await coordinator.send(command)
    await coordinator.send(command)
    assert recorded == ["fr"]  # written once: only a change is written
    assert bot.store.get_user(COORDINATOR).language is None

    await _complete(bot, "P-0201")
    summary = _summary(bot, COORDINATOR, "P-0201")
    assert FRENCH in summary["text"] and "Critères en échec :" in summary["text"]
    last = bot.request.messages_to(COORDINATOR)[-1]  # a long summary: buttons on its end
    buttons = [b["text"] for b in last["reply_markup"]["inline_keyboard"][0]]
    assert buttons == ["✅ Valider", "❓ Question", "↩️ Rouvrir"]


async def test_the_default_language_is_for_a_coordinator_never_seen(
    make_app: Callable[..., Any],
) -> None:
    bot = await make_app(default_language="fr", coordinator_chat_id=-1007101)
    await bot.chat(COORDINATOR, language_code="en-GB").send("/pending")
    assert bot.store.get_user(COORDINATOR).telegram_language == "en-GB"
    assert bot.store.get_user(NEVER_SEEN).telegram_language is None

    await _complete(bot, "P-0202")
    assert FRENCH in _summary(bot, NEVER_SEEN, "P-0202")["text"]
    assert FRENCH in _summary(bot, -1007101, "P-0202")["text"]  # a group: the default
    assert ENGLISH in _summary(bot, COORDINATOR, "P-0202")["text"]  # seen: their client's


async def test_lang_en_overrides_a_french_client(make_app: Callable[..., Any]) -> None:
    bot = await make_app()
    coordinator = bot.chat(COORDINATOR, language_code="fr")
    await coordinator.send("/pending")
    assert coordinator.last_text == "Rien n'attend de revue."
    await _complete(bot, "P-0203")
    assert FRENCH in _summary(bot, COORDINATOR, "P-0203")["text"]

    await coordinator.send("/lang en")
    assert coordinator.last_text == "Language set to English."
    await coordinator.send("/pending")  # the client still French: the choice wins
    assert coordinator.last_text.startswith("Completed, not yet reviewed (1):")
    assert bot.store.get_user(COORDINATOR).telegram_language == "fr"

    await _complete(bot, "P-0204")
    assert ENGLISH in _summary(bot, COORDINATOR, "P-0204")["text"]


async def test_a_reminder_follows_the_investigators_client_not_the_screenings(
    store: Store,
    engine: Engine,
    make_bot: Callable[..., Any],
    clock: Clock,
) -> None:
    """A screening begun from an English client; the investigator's client is French by
    the time the reminder goes out (seen by the flow since)."""
    store.add_user(FRENCH_INVESTIGATOR, "investigator", "Dr F", actor="test")
    sid = start_screening(store, engine, "P-0205", investigator=FRENCH_INVESTIGATOR)
    assert store.get_screening(sid).language == "en"
    store.set_telegram_language(FRENCH_INVESTIGATOR, "fr")
    bot = await make_bot()
    clock.advance(days=3, seconds=1)
    await reminder_job(bot.context())
    await outbox_job(bot.context())
    [reminder] = bot.request.texts_to(FRENCH_INVESTIGATOR)
    assert reminder.startswith("⏰ Rappel : le screening <b>P-0205</b> attend depuis 3 jours.")
    assert "Reste à renseigner :" in reminder and "• Âge\n" in reminder
