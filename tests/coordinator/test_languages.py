"""Each message is in its reader's language, not the screening's.

QA round 4: a French coordinator received an English investigator's summary in English
(the summary was worded once, in the screening's language, for every recipient).  The
reader's language is their ``users.language``, else their Telegram client's (known only
in their own updates), else the default; the screening keeps the language it was
recorded in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.coordinator import outbox_job, render_outbox
from dialogs.engine import Engine
from storage import Store
from storage.coordination import MessageKind, OutboxMessage, messages
from tests.coordinator.conftest import (
    COORDINATOR,
    COORDINATOR_CHAT,
    INVESTIGATOR,
    complete,
)

FRENCH_COORDINATOR = 558
UNDECIDED_COORDINATOR = 560  # no language chosen


def _summary(bot: Any, chat: int) -> dict[str, Any]:
    return [m for m in bot.request.messages_to(chat) if "📋" in m["text"]][-1]


async def test_a_french_coordinator_reads_an_english_screening_in_french(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    bot = await make_bot()
    sid = complete(store, engine, "P-060", age="16")
    await outbox_job(bot.context())

    french = _summary(bot, FRENCH_COORDINATOR)
    assert french["text"].splitlines()[:3] == [
        "📋 Screening <b>P-060</b> terminé : <b>NON ÉLIGIBLE</b>",
        "Protocole mini v1 · cohorte : Alpha",
        f"Investigateur : Dr A ({INVESTIGATOR})",
    ]
    assert "Critères en échec :" in french["text"]
    assert "<b>I01</b> Adulte : âge 16 (≥ 18)" in french["text"]
    assert "deux fois 16 = 32" in french["text"]
    buttons = [b["text"] for b in french["reply_markup"]["inline_keyboard"][0]]
    assert buttons == ["✅ Valider", "❓ Question", "↩️ Rouvrir"]

    english = _summary(bot, COORDINATOR)["text"]
    assert "completed: <b>NOT ELIGIBLE</b>" in english
    assert "<b>I01</b> Adult: age 16 (≥ 18)" in english and "Adulte" not in english

    # The screening keeps its own language, and so does the payload it queued.
    assert store.get_screening(sid).language == "en"
    assert {m.payload["lang"] for m in messages(store, sid, MessageKind.SUMMARY)} == {"en"}


async def test_the_group_chat_and_the_undecided_get_the_default_language(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(UNDECIDED_COORDINATOR, "coordinator", "Coord U", actor="test")
    bot = await make_bot(default_language="fr")
    complete(store, engine, "P-061", age="16")
    await outbox_job(bot.context())
    assert "terminé : <b>NON ÉLIGIBLE</b>" in _summary(bot, COORDINATOR_CHAT)["text"]
    assert "terminé : <b>NON ÉLIGIBLE</b>" in _summary(bot, UNDECIDED_COORDINATOR)["text"]
    assert "completed: <b>NOT ELIGIBLE</b>" in _summary(bot, COORDINATOR)["text"]


async def test_replies_follow_the_coordinators_telegram_client(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(UNDECIDED_COORDINATOR, "coordinator", "Coord U", actor="test")
    bot = await make_bot()
    sid = complete(store, engine, "P-062", age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(UNDECIDED_COORDINATOR, language_code="fr")

    await coordinator.send("/pending")
    assert coordinator.texts[-1].splitlines()[0] == "Terminés, pas encore revus (1) :"
    assert "NON ÉLIGIBLE" in coordinator.texts[-1]

    await coordinator.send("/review P-062")
    text = "\n".join(coordinator.texts[-2:])
    assert "<b>I01</b> Adulte : âge 16 (≥ 18)" in text and "Historique des réponses :" in text
    assert "Âge : 16" in text  # French: a space before the colon

    await coordinator.press_data(f"c|confirm|{sid}|1", coordinator.sent[-1])
    assert coordinator.texts[-1] == "✅ P-062 validé par Coord U (560)."
    assert coordinator.notices[-1] == "✅ P-062 validé par Coord U (560)."


async def test_a_query_reaches_the_investigator_in_the_investigators_language(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    bot = await make_bot()
    sid = complete(store, engine, "P-063", age="16")
    await outbox_job(bot.context())
    french = bot.chat(FRENCH_COORDINATOR)
    await french.press_data(f"c|query|{sid}|1", french.sent[-1])
    assert french.texts[-1].startswith("❓ Question sur le screening")
    await french.send("age: 16 ans, vraiment ?", reply_to_last=True)
    assert french.texts[-1] == (
        "❓ Question sur P-063 à propos de « Âge » envoyée à l'investigateur."
    )
    await outbox_job(bot.context())
    investigator = bot.chat(INVESTIGATOR)
    assert investigator.texts[-1].startswith(
        "❓ Coordinator Coord F (558) has a question on screening <b>P-063</b> about “Age” "
        "(current answer: 16)"
    )

    # The investigator switches to French before the next message is sent.
    store.set_language(INVESTIGATOR, "fr")
    await french.press_data(f"c|reopen|{sid}|1", _summary(bot, FRENCH_COORDINATOR))
    assert french.texts[-1] == "↩️ P-063 rouvert à « Âge »."
    await outbox_job(bot.context())
    assert investigator.texts[-1].startswith(
        "↩️ Le coordinateur Coord F (558) a rouvert le screening <b>P-063</b> à « Âge »"
    )
    [[resume]] = investigator.sent[-1]["reply_markup"]["inline_keyboard"]
    assert resume["text"] == "▶ Continuer P-063"


def test_a_summary_queued_before_translations_still_renders(store: Store) -> None:
    """Rows already in an outbox keep their words; the frame is in the reader's language."""
    store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    payload = {
        "screening_id": 1,
        "patient_code": "P-064",
        "protocol_id": "mini",
        "protocol_version": "1",
        "cohort": "Alpha",
        "investigator": "Dr A",
        "investigator_id": INVESTIGATOR,
        "verdict": "eligible",
        "lang": "en",
        "failed": [],
        "unknown": [],
        "flagged": [],
        "computed": [{"id": "double_age", "text": "twice 54 = 108"}],
        "earliest_start": None,
    }
    row = OutboxMessage(
        id=1,
        screening_id=1,
        recipient=FRENCH_COORDINATOR,
        kind=MessageKind.SUMMARY.value,
        revision="1",
        payload=payload,
    )
    outgoing = render_outbox(store)(row)
    assert outgoing is not None
    assert outgoing.text.startswith("📋 Screening <b>P-064</b> terminé : <b>ÉLIGIBLE</b>")
    assert "twice 54 = 108" in outgoing.text
