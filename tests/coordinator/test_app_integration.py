"""Through the real application factory: the flow's completion hook feeds the outbox.

The investigator's side is driven exactly as in tests/bot (real Application, offline
request, real Updates); the coordinator's side plugs in through ``bot.app``'s extension
hook, with no test-only wiring.
"""

from __future__ import annotations

from pathlib import Path

from bot.coordinator import outbox_job, reminder_job
from bot.settings import Settings
from storage.coordination import MessageKind, messages, reviews
from tests.bot.conftest import ELIGIBLE, INVESTIGATOR, Bot, answer_until_done

COORDINATOR = 7001
COORDINATOR_CHAT = -1007001


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token="123456:TEST-TOKEN",
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        data_dir=tmp_path,
        coordinator_chat_id=COORDINATOR_CHAT,
    )


async def test_completion_in_chat_reaches_coordinators_and_a_query_reopens_it(
    tmp_path: Path,
) -> None:
    from telegram.ext import CallbackContext

    bot = Bot(_settings(tmp_path))
    await bot.start()
    try:
        bot.store.add_user(INVESTIGATOR, "investigator", "Dr A", actor="test")
        bot.store.add_user(COORDINATOR, "coordinator", "Coord C", actor="test")
        chat = bot.chat(INVESTIGATOR)
        await chat.send("/new P-0100")
        await answer_until_done(bot, chat, dict(ELIGIBLE))
        [screening] = bot.store.list_screenings(INVESTIGATOR)
        assert screening.verdict == "eligible" and screening.id is not None
        sid = screening.id

        # Queued in the completion's transaction, one per recipient.
        summaries = messages(bot.store, sid, MessageKind.SUMMARY)
        assert sorted(m.recipient for m in summaries) == sorted([COORDINATOR, COORDINATOR_CHAT])
        # Worded in every language at completion (the flow's evaluation agreed with each).
        assert {tuple(m.payload["translations"]) for m in summaries} == {("fr",)}

        context = CallbackContext(bot.app)
        await outbox_job(context)
        coordinator = bot.chat(COORDINATOR)
        [summary] = [m for m in coordinator.sent if "📋" in m["text"]]
        assert "P-0100" in summary["text"] and "ELIGIBLE" in summary["text"]
        assert "Dr A" in summary["text"] and "Sarcoma" in summary["text"]

        await coordinator.press_data(f"c|query|{sid}", summary)
        await coordinator.send("ecog: please double-check the ECOG", reply_to_last=True)
        await outbox_job(context)
        query = chat.sent[-1]
        assert "please double-check the ECOG" in query["text"]
        await chat.press_data(
            query["reply_markup"]["inline_keyboard"][0][0]["callback_data"], query
        )
        assert bot.store.get_screening(sid).current_state == "ecog"

        # The investigator flow takes over from its own resume button.
        await chat.press_data(f"r|{sid}", chat.sent[-1])
        await chat.send("2")
        assert bot.store.get_screening(sid).verdict == "not_eligible"
        [_, changed] = bot.store.answer_history(sid, "ecog")
        assert changed.raw == "2" and changed.reason is not None
        assert changed.reason.startswith("changed after reopening (")
        await outbox_job(context)
        summaries_now = [m["text"] for m in coordinator.sent if "📋" in m["text"]]
        assert len(summaries_now) == 2 and "NOT ELIGIBLE" in summaries_now[-1]
        assert [r.action for r in reviews(bot.store, sid)] == ["query"]

        await reminder_job(context)  # nothing idle: nothing queued
        assert messages(bot.store, kind=MessageKind.REMINDER) == []
    finally:
        await bot.stop()
