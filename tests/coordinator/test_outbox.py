"""Completion → outbox → delivery: retries, flood control, refusals, restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.coordinator import outbox_job
from bot.outbox_sender import Outgoing, deliver_due
from dialogs.engine import Engine
from storage import Store
from storage.coordination import OutboxStatus, messages
from tests.coordinator.conftest import (
    COORDINATOR,
    COORDINATOR_CHAT,
    SECOND_COORDINATOR,
    Clock,
    complete,
)


async def test_completion_queues_one_summary_per_active_coordinator(
    store: Store, engine: Engine
) -> None:
    sid = complete(store, engine, "P-001", age="16")
    rows = messages(store, sid)
    assert sorted(r.recipient for r in rows) == sorted([COORDINATOR, COORDINATOR_CHAT])
    assert SECOND_COORDINATOR not in {r.recipient for r in rows}  # deactivated
    payload = rows[0].payload
    assert payload["verdict"] == "not_eligible"
    assert payload["patient_code"] == "P-001"
    assert payload["cohort"] == "Alpha"
    assert payload["investigator"] == "Dr A"
    assert [f["id"] for f in payload["failed"]] == ["I01"]
    assert "16" in payload["failed"][0]["reason"]
    assert payload["computed"] and "32" in payload["computed"][0]["text"]


async def test_network_errors_twice_then_delivered_once_per_recipient(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-002", age="16")
    bot.request.fail_network(2)

    await outbox_job(bot.context())  # both recipients fail
    assert bot.request.texts_to(COORDINATOR) == []
    rows = messages(store, sid)
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    assert all(r.attempts == 1 and "connection reset" in (r.last_error or "") for r in rows)

    await outbox_job(bot.context())  # backoff not elapsed: nothing is attempted
    assert all(r.attempts == 1 for r in messages(store, sid))

    clock.advance(seconds=6)
    await outbox_job(bot.context())
    await outbox_job(bot.context())
    for chat in (COORDINATOR, COORDINATOR_CHAT):
        texts = bot.request.texts_to(chat)
        assert len(texts) == 1, texts
        assert "P-002" in texts[0] and "NOT ELIGIBLE" in texts[0]
    rows = messages(store, sid)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert all(r.attempts == 2 and r.sent_at is not None for r in rows)
    summary = bot.request.messages_to(COORDINATOR)[0]
    buttons = [b["callback_data"] for b in summary["reply_markup"]["inline_keyboard"][0]]
    assert buttons == [f"c|confirm|{sid}|1", f"c|query|{sid}|1", f"c|reopen|{sid}|1"]


async def test_retry_after_is_honoured(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    bot = await make_bot()
    complete(store, engine, "P-003")
    bot.request.flood(30)
    await outbox_job(bot.context())
    # Flood control stops the batch: the second recipient is not tried either.
    assert bot.request.of("sendMessage") == []
    clock.advance(seconds=20)
    await outbox_job(bot.context())
    assert bot.request.texts_to(COORDINATOR) == []
    clock.advance(seconds=11)
    await outbox_job(bot.context())
    assert len(bot.request.texts_to(COORDINATOR)) == 1
    assert len(bot.request.texts_to(COORDINATOR_CHAT)) == 1


async def test_a_refused_chat_is_failed_not_retried(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-004")
    bot.request.refuse()
    await outbox_job(bot.context())
    statuses = sorted(r.status for r in messages(store, sid))
    assert statuses == [OutboxStatus.FAILED, OutboxStatus.SENT]
    clock.advance(hours=2)
    await outbox_job(bot.context())
    assert len(bot.request.of("sendMessage")) == 1


async def test_restart_between_completion_and_delivery(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock, db_url: str
) -> None:
    first = await make_bot()
    sid = complete(store, engine, "P-005")
    first.request.fail_network(10)
    await outbox_job(first.context())  # Telegram unreachable
    await first.app.shutdown()

    # A new process: new Application, new Store on the same database file.
    second_store = Store(db_url)
    try:
        second = await make_bot(second_store)
        clock.advance(minutes=1)
        await outbox_job(second.context())
        await outbox_job(second.context())
        clock.advance(hours=1)
        await outbox_job(second.context())
        assert len(second.request.texts_to(COORDINATOR)) == 1
        assert len(second.request.texts_to(COORDINATOR_CHAT)) == 1
        assert {r.status for r in messages(store, sid)} == {OutboxStatus.SENT}
    finally:
        second_store.close()


async def test_enqueueing_the_same_completion_twice_sends_once(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    from storage.coordination import enqueue_summary

    bot = await make_bot()
    sid = complete(store, engine, "P-006")
    payload = messages(store, sid)[0].payload
    with store.screening_tx(sid) as tx:
        assert enqueue_summary(tx, payload, COORDINATOR_CHAT) == 0
    await outbox_job(bot.context())
    assert len(bot.request.texts_to(COORDINATOR)) == 1


async def test_a_summary_over_telegrams_limit_goes_out_in_pieces(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    """Ending at the first fail lists every undocumented criterion: about 6,000 characters."""
    bot = await make_bot()
    complete(store, engine, "P-009", age="16")
    long = "\n".join(f"<b>I{i:02d}</b> unknown: " + "x" * 90 for i in range(100))
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Confirm", callback_data="c|x|1")]])
    report = await deliver_due(bot.app.bot, store, lambda _m: Outgoing(long, markup), clock=clock)
    assert len(report.sent) == 2 and not report.failed
    calls = [c for c in bot.request.of("sendMessage") if int(c.params["chat_id"]) == COORDINATOR]
    assert len(calls) == 3 and all(len(c.params["text"]) <= 4096 for c in calls)
    assert "\n".join(c.params["text"] for c in calls) == long
    assert [("reply_markup" in c.params) for c in calls] == [False, False, True]
