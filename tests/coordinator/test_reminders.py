"""Reminders are derived from the database: after a restart, none lost and none repeated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.coordinator import outbox_job, reminder_job
from dialogs.engine import Engine
from storage import Store
from storage.coordination import MessageKind, OutboxStatus, messages
from tests.coordinator.conftest import (
    COORDINATOR,
    ELIGIBLE,
    INVESTIGATOR,
    OTHER_INVESTIGATOR,
    Clock,
    answer,
    complete,
    start_screening,
)


def _reminders(bot: Any, chat: int) -> list[str]:
    return [t for t in bot.request.texts_to(chat) if t.startswith("⏰")]


async def test_idle_screenings_are_reminded_once_across_restarts(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock, db_url: str
) -> None:
    open_one = start_screening(store, engine, "P-030")
    answer(store, engine, open_one, ELIGIBLE, limit=2)  # planned start and cohort only
    other = start_screening(store, engine, "P-031", investigator=OTHER_INVESTIGATOR)
    incomplete = complete(store, engine, "P-032", age="unknown")
    finished = complete(store, engine, "P-033")
    assert store.get_screening(incomplete).verdict == "incomplete"

    first = await make_bot()
    await reminder_job(first.context())  # fresh: nothing idle yet
    assert messages(store, kind=MessageKind.REMINDER) == []

    clock.advance(days=3, seconds=1)
    await reminder_job(first.context())
    queued = messages(store, kind=MessageKind.REMINDER)
    assert sorted(m.screening_id for m in queued) == sorted([open_one, other, incomplete])
    assert finished not in {m.screening_id for m in queued}
    await first.app.shutdown()  # "crash" before delivering them

    second_store = Store(db_url)
    try:
        second = await make_bot(second_store)
        await reminder_job(second.context())  # start-up run: re-derives, queues nothing new
        assert len(messages(store, kind=MessageKind.REMINDER)) == 3
        await outbox_job(second.context())
        mine = _reminders(second, INVESTIGATOR)
        assert len(mine) == 2
        text = next(t for t in mine if "P-030" in t)
        assert "waiting for 3 days" in text
        assert "• Age\n" in text and "• ANC\n" in text  # by label: no IDs
        assert "Planned start" not in text  # answered
        unknown = next(t for t in mine if "P-032" in t)
        assert "Answered “unknown”:" in unknown and "• Age" in unknown
        assert len(_reminders(second, OTHER_INVESTIGATOR)) == 1

        third = await make_bot(second_store)
        clock.advance(hours=5)
        await reminder_job(third.context())
        await outbox_job(third.context())
        assert _reminders(third, INVESTIGATOR) == []
    finally:
        second_store.close()


async def test_a_reminder_for_a_screening_touched_since_is_skipped(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    sid = start_screening(store, engine, "P-040")
    bot = await make_bot()
    clock.advance(days=4)
    await reminder_job(bot.context())
    answer(store, engine, sid, ELIGIBLE, limit=1)  # the investigator comes back
    await outbox_job(bot.context())
    assert _reminders(bot, INVESTIGATOR) == []
    [row] = messages(store, sid, MessageKind.REMINDER)
    assert row.status == OutboxStatus.SKIPPED
    # A new idle period gets a new reminder.
    clock.advance(days=4)
    await reminder_job(bot.context())
    await outbox_job(bot.context())
    assert len(_reminders(bot, INVESTIGATOR)) == 1


async def test_register_schedules_the_jobs(make_bot: Callable[..., Any]) -> None:
    bot = await make_bot()
    names = {job.name for job in bot.app.job_queue.jobs()}
    assert {"coordinator-outbox", "coordinator-reminders"} <= names


async def test_a_reminder_sent_late_says_how_long_it_really_waited(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    """The bot down for a week: the reminder said « waiting for 3 days » (REMINDER_DAYS)
    of a screening untouched for ten."""
    start_screening(store, engine, "P-040")
    bot = await make_bot()
    clock.advance(days=10, seconds=1)
    await reminder_job(bot.context())
    await outbox_job(bot.context())
    (text,) = _reminders(bot, INVESTIGATOR)
    assert "has been waiting for 10 days" in text, text


async def test_a_slow_start_still_runs_the_start_up_jobs(
    store: Store, engine: Engine, make_bot: Callable[..., Any], clock: Clock
) -> None:
    """With Telegram slow at start-up (getMe, the menus, setWebhook took over a second),
    APScheduler skipped each job's first run as late: the coordinators' own menus came an
    hour after every restart, and the start-up reminder check an interval later."""
    idle = start_screening(store, engine, "P-040")
    clock.advance(days=3, seconds=1)
    bot = await make_bot()
    await asyncio.sleep(1.6)  # the jobs' first runs (0 s and 1 s) are now in the past
    await bot.app.start()
    try:
        for _ in range(60):
            menus = [c for c in bot.request.calls if c.method == "setMyCommands"]
            reminded = messages(store, kind=MessageKind.REMINDER)
            if menus and reminded:
                break
            await asyncio.sleep(0.05)
        assert any(str(COORDINATOR) in str(c.params) for c in menus), menus
        assert [m.screening_id for m in reminded] == [idle]
    finally:
        await bot.app.stop()
