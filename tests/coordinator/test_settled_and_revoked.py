"""A confirmed verdict stays confirmed, and revoked access ends the messages and the buttons.

- A query's "reopen at" button stops working once a coordinator confirmed the screening
  after that query: the investigator would otherwise silently undo a confirmed verdict.
- /review of an abandoned screening says so, and lists what happened after completion.
- A deactivated investigator receives nothing (queries, reminders, reopenings, even
  queued before the deactivation) and their buttons do nothing; the coordinator is told.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.coordinator import outbox_job, reminder_job
from dialogs.engine import Engine
from storage import Store
from storage.coordination import MessageKind, OutboxStatus, messages, pending_review, reviews
from tests.coordinator.conftest import (
    COORDINATOR,
    ELIGIBLE,
    INVESTIGATOR,
    Clock,
    answer,
    complete,
    start_screening,
)

FRENCH_COORDINATOR = 558


def _summary(bot: Any, chat: int) -> dict[str, Any]:
    return [m for m in bot.request.messages_to(chat) if "📋" in m["text"]][-1]


async def _queried(
    bot: Any, store: Store, engine: Engine, code: str, query: str = "#3 is 16 a typo?"
) -> tuple[int, Any, Any]:
    """A completed screening queried by Coord C, the query delivered: (id, coordinator's
    chat, investigator's chat)."""
    sid = complete(store, engine, code, age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.send(query, reply_to_last=True)
    await outbox_job(bot.context())
    return sid, coordinator, bot.chat(INVESTIGATOR)


def _reopen_button(chat: Any) -> str:
    return str(chat.sent[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"])


async def test_a_query_button_is_refused_once_a_coordinator_confirmed_after_it(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid, coordinator, investigator = await _queried(bot, store, engine, "P-060")
    button = _reopen_button(investigator)
    await coordinator.press_data(f"c|confirm|{sid}|1", _summary(bot, COORDINATOR))

    await investigator.press_data(button, investigator.sent[-1])
    assert investigator.notices[-1] == (
        "P-060 was confirmed by a coordinator after this query: it cannot be reopened from "
        "here. Nothing changed; reply to the query message to answer in words."
    )
    screening = store.get_screening(sid)
    assert (screening.status, screening.verdict) == ("completed", "not_eligible")
    assert store.events(sid, "reopened") == []


async def test_a_query_made_after_a_confirmation_can_still_reopen(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-061", age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|confirm|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.send("#3 second thoughts: is 16 right?", reply_to_last=True)
    await outbox_job(bot.context())
    investigator = bot.chat(INVESTIGATOR)
    await investigator.press_data(_reopen_button(investigator), investigator.sent[-1])
    assert investigator.notices[-1] == "↩️ P-061 reopened at “Age”."
    assert store.get_screening(sid).current_state == "age"


async def test_review_of_an_abandoned_screening_says_abandoned_and_what_happened(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    bot = await make_bot()
    sid = complete(store, engine, "P-062")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|confirm|{sid}|1", _summary(bot, COORDINATOR))
    # The investigator reopens it (as from /resume or an older button) and abandons it.
    with store.screening_tx(sid) as tx:
        tx.reopen("age", INVESTIGATOR, "investigator")
    with store.screening_tx(sid) as tx:
        tx.abandon(INVESTIGATOR, "cancelled by the investigator")

    await coordinator.send("/review P-062")
    text = coordinator.texts[-1]
    assert text.startswith("📋 Screening <b>P-062</b> ABANDONED (its answers read: ELIGIBLE)")
    assert "completed: <b>ELIGIBLE</b>" not in text
    assert "Status: abandoned" in text
    trail = text.split("Reviews and events:\n", 1)[1].splitlines()
    assert [line.split(" UTC ", 1)[1] for line in trail] == [
        "🏁 completed by Dr A (111): ELIGIBLE",
        "✅ confirmed by Coord C (555)",
        "↩️ reopened by Dr A (111) at “Age”",
        "🗑 abandoned by Dr A (111)",
    ]
    french = bot.chat(FRENCH_COORDINATOR)
    await french.send("/review P-062")
    text = french.texts[-1]
    assert "ABANDONNÉ (ses réponses donnent : ÉLIGIBLE)" in text
    assert "Statut : abandonné" in text and "🗑 abandonné par Dr A (111)" in text


async def test_a_query_or_reopen_to_a_deactivated_investigator_is_not_sent(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-063", age="16")
    await outbox_job(bot.context())
    store.set_active(INVESTIGATOR, False, actor="test")  # screenbot users deactivate 111
    coordinator = bot.chat(COORDINATOR)

    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.send("#3 is 16 a typo?", reply_to_last=True)
    refusal = (
        "⚠️ The investigator Dr A (111) is deactivated: nothing was sent and nothing changed "
        "on P-063. Contact the unit another way, or ask an admin to restore their access."
    )
    assert coordinator.texts[-1] == refusal
    await coordinator.press_data(f"c|reopen|{sid}|1", _summary(bot, COORDINATOR))
    assert coordinator.notices[-1] == refusal
    assert reviews(store, sid) == []
    assert messages(store, sid, MessageKind.QUERY) == []
    assert messages(store, sid, MessageKind.REOPENED) == []
    assert store.get_screening(sid).status == "completed"
    assert [s.id for s in pending_review(store)] == [sid]  # for whoever takes it over


async def test_messages_queued_before_a_deactivation_are_not_delivered(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-064", age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.send("#3 is 16 a typo?", reply_to_last=True)
    store.set_active(INVESTIGATOR, False, actor="test")

    await outbox_job(bot.context())
    [query] = messages(store, sid, MessageKind.QUERY)
    assert (query.status, query.last_error) == (OutboxStatus.SKIPPED, "recipient deactivated")
    assert bot.request.texts_to(INVESTIGATOR) == []


async def test_a_deactivated_investigators_query_button_does_nothing(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid, _coordinator, investigator = await _queried(bot, store, engine, "P-065")
    store.set_active(INVESTIGATOR, False, actor="test")
    await investigator.press_data(_reopen_button(investigator), investigator.sent[-1])
    assert investigator.notices[-1] == f"Access revoked (your id: {INVESTIGATOR})."
    assert store.get_screening(sid).status == "completed"
    assert store.events(sid, "reopened") == []


async def test_no_reminder_for_a_deactivated_investigator(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    sid = start_screening(store, engine, "P-066")
    answer(store, engine, sid, ELIGIBLE, limit=2)
    store.set_active(INVESTIGATOR, False, actor="test")
    bot = await make_bot()
    clock.advance(days=3, seconds=1)
    await reminder_job(bot.context())
    await outbox_job(bot.context())
    assert messages(store, sid, MessageKind.REMINDER) == []
    assert bot.request.texts_to(INVESTIGATOR) == []
