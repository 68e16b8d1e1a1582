"""People are named "Dr Martin (123456)" wherever the bot reports who did what.

QA round 4: /review listed decisions as "reopen by 555", a bare Telegram id.  Names
alone are not enough either: the audit trail and ``screenbot users`` know people by id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.coordinator import outbox_job
from dialogs.engine import Engine
from storage import Store
from tests.coordinator.conftest import COORDINATOR, INVESTIGATOR, complete

FRENCH_COORDINATOR = 558
UNNAMED_COORDINATOR = 559


def _summary(bot: Any, chat: int) -> dict[str, Any]:
    return [m for m in bot.request.messages_to(chat) if "reply_markup" in m][-1]


async def test_review_lists_each_decision_with_name_and_id(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    bot = await make_bot()
    sid = complete(store, engine, "P-050", age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)

    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.send("age: is 16 a typo?", reply_to_last=True)
    await coordinator.press_data(f"c|confirm|{sid}|1", _summary(bot, COORDINATOR))
    assert coordinator.texts[-1] == "✅ P-050 confirmed by Coord C (555)."
    await coordinator.press_data(f"c|reopen|{sid}|1", _summary(bot, COORDINATOR))

    await coordinator.send("/review P-050")
    text = "\n".join(coordinator.texts[-2:])
    reviews = text.split("Reviews and events:\n", 1)[1].splitlines()
    # "• 24/11/2026 02:57 UTC …": times carry their year and zone.
    assert [line.split(" ", 4)[3] for line in reviews] == ["UTC"] * 4
    assert [line.split(" ", 4)[4] for line in reviews] == [
        "🏁 completed by Dr A (111): NOT ELIGIBLE",
        "❓ queried by Coord C (555) [Age]: is 16 a typo?",
        "✅ confirmed by Coord C (555)",
        "↩️ reopened by Coord C (555)",
    ]
    assert "Investigator: Dr A (111)" in text
    assert " by 555" not in text

    french = bot.chat(FRENCH_COORDINATOR)
    await french.send("/review P-050")
    text = "\n".join(french.texts[-2:])
    assert "Revues et événements :" in text
    assert "✅ validé par Coord C (555)" in text and "↩️ rouvert par Coord C (555)" in text
    assert "❓ question de Coord C (555) [Âge]" in text
    assert "Investigateur : Dr A (111)" in text


async def test_summary_query_and_reopen_name_people_with_their_id(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-051", age="16")
    await outbox_job(bot.context())
    [summary] = [m for m in bot.chat(COORDINATOR).texts if "📋" in m]
    assert f"Investigator: Dr A ({INVESTIGATOR})" in summary

    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.send("age: is 16 a typo?", reply_to_last=True)
    await outbox_job(bot.context())
    investigator = bot.chat(INVESTIGATOR)
    assert investigator.texts[-1].startswith(
        "❓ Coordinator Coord C (555) has a question on screening <b>P-051</b>"
    )

    await coordinator.press_data(f"c|reopen|{sid}|1", _summary(bot, COORDINATOR))
    await outbox_job(bot.context())
    assert investigator.texts[-1].startswith(
        "↩️ Coordinator Coord C (555) reopened screening <b>P-051</b>"
    )


async def test_someone_without_a_name_is_shown_by_id_once(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(UNNAMED_COORDINATOR, "coordinator", actor="test")
    bot = await make_bot()
    sid = complete(store, engine, "P-052")
    await outbox_job(bot.context())
    unnamed = bot.chat(UNNAMED_COORDINATOR)
    await unnamed.press_data(f"c|confirm|{sid}|1", _summary(bot, UNNAMED_COORDINATOR))
    assert unnamed.texts[-1] == "✅ P-052 confirmed by 559."
    await unnamed.send("/review P-052")
    assert "✅ confirmed by 559" in unnamed.texts[-1]
