"""Review in Telegram: Confirm, Query → investigator reopens → new summary, Reopen, views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.coordinator import outbox_job
from dialogs.engine import Engine
from storage import Store
from storage.coordination import MessageKind, messages, pending_review, reviews
from tests.coordinator.conftest import (
    COORDINATOR,
    COORDINATOR_CHAT,
    ELIGIBLE,
    INVESTIGATOR,
    OTHER_INVESTIGATOR,
    answer,
    complete,
    start_screening,
)


def _summary_message(bot: Any, chat: int) -> dict[str, Any]:
    return [m for m in bot.request.messages_to(chat) if "reply_markup" in m][-1]


async def test_confirm_is_recorded_with_who_and_when(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-010")
    await outbox_job(bot.context())
    assert [s.id for s in pending_review(store)] == [sid]

    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|confirm|{sid}", _summary_message(bot, COORDINATOR))

    [review] = reviews(store, sid)
    assert (review.action, review.coordinator_id) == ("confirm", COORDINATOR)
    assert review.at is not None
    [event] = store.events(sid, "confirmed")
    assert event.user_id == COORDINATOR
    assert pending_review(store) == []
    assert "P-010 confirmed by Coord C" in coordinator.texts[-1]


async def test_only_coordinators_may_review(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-011")
    await outbox_job(bot.context())
    investigator = bot.chat(INVESTIGATOR)
    await investigator.press_data(f"c|confirm|{sid}", _summary_message(bot, COORDINATOR))
    assert reviews(store, sid) == []
    answered = bot.request.of("answerCallbackQuery")[-1]
    assert answered.params["text"] == "Coordinators only."
    await investigator.send("/pending")
    assert investigator.texts[-1] == "Coordinators only."


async def test_query_reopen_change_and_new_summary(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-012", age="16")
    await outbox_job(bot.context())

    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|query|{sid}", _summary_message(bot, COORDINATOR))
    assert f"screening #{sid}" in coordinator.texts[-1]
    await coordinator.send("age: is 16 a typo?", reply_to_last=True)
    assert coordinator.texts[-1] == "❓ Query on P-012 about “Age” sent to the investigator."
    await coordinator.replay()  # Telegram redelivers the update: one query, sent once
    [review] = reviews(store, sid)
    assert (review.action, review.question_id, review.comment) == (
        "query",
        "age",
        "is 16 a typo?",  # the pointer is not part of the question
    )

    await outbox_job(bot.context())
    investigator = bot.chat(INVESTIGATOR)
    query_message = investigator.sent[-1]
    assert "is 16 a typo?" in query_message["text"]
    assert "current answer: 16" in query_message["text"]
    [[button]] = query_message["reply_markup"]["inline_keyboard"]
    assert button["callback_data"] == f"c|reopen_at|{review.id}"

    # Someone else's press is refused.
    await bot.chat(OTHER_INVESTIGATOR).press_data(button["callback_data"], query_message)
    assert store.get_screening(sid).status == "completed"

    await investigator.press_data(button["callback_data"], query_message)
    screening = store.get_screening(sid)
    assert (screening.status, screening.current_state) == ("in_progress", "age")
    [reopened] = store.events(sid, "reopened")
    assert reopened.user_id == INVESTIGATOR
    assert investigator.texts[-1] == (
        "↩️ P-012 reopened at “Age”: typed answers now go to P-012 (▶ shows its question)."
    )
    [[cont]] = investigator.sent[-1]["reply_markup"]["inline_keyboard"]
    assert cont["callback_data"] == f"r|{sid}"  # the investigator flow's resume button

    assert answer(store, engine, sid, {"age": "61"}) == "complete"
    await outbox_job(bot.context())
    summaries = [t for t in bot.request.texts_to(COORDINATOR) if "📋" in t]
    assert len(summaries) == 2
    assert "NOT ELIGIBLE" in summaries[0] and "ELIGIBLE" in summaries[1]
    assert "NOT" not in summaries[1]
    revisions = sorted(
        m.revision for m in messages(store, sid, MessageKind.SUMMARY) if m.recipient == COORDINATOR
    )
    assert revisions == ["1", "2"]
    history = store.answer_history(sid, "age")
    assert [a.raw for a in history] == ["16", "61"]
    assert history[1].supersedes_id == history[0].id

    # The first summary's buttons are for a verdict since replaced.
    first_summary = next(m for m in bot.request.messages_to(COORDINATOR) if "reply_markup" in m)
    await coordinator.press_data(
        first_summary["reply_markup"]["inline_keyboard"][0][0]["callback_data"], first_summary
    )
    assert "completed again since this summary" in str(coordinator.notices[-1])
    assert [r.action for r in reviews(store, sid)] == ["query"]

    # The query was answered: its button, pressed again, must not reopen the new verdict.
    await investigator.press_data(button["callback_data"], query_message)
    assert store.get_screening(sid).status == "completed"
    assert "This query was answered" in str(investigator.notices[-1])


async def test_coordinator_reopen_notifies_the_investigator(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-013", age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|reopen|{sid}", _summary_message(bot, COORDINATOR))
    screening = store.get_screening(sid)
    # Reopened at the question behind the failing criterion (I01: age).
    assert (screening.status, screening.current_state) == ("in_progress", "age")
    assert [r.action for r in reviews(store, sid)] == ["reopen"]
    assert store.events(sid, "reopened")[0].user_id == COORDINATOR
    await outbox_job(bot.context())
    text = bot.chat(INVESTIGATOR).texts[-1]
    assert "Coord C (555) reopened screening <b>P-013</b> at “Age”" in text
    # A second press finds it no longer completed.
    await coordinator.press_data(f"c|reopen|{sid}", _summary_message(bot, COORDINATOR))
    assert len(reviews(store, sid)) == 1
    await coordinator.send("/review P-013")
    assert "📋 Screening <b>P-013</b> in progress, so far:" in "\n".join(coordinator.texts[-2:])


async def test_pending_review_and_commands(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    first = complete(store, engine, "P-020", age="16")
    complete(store, engine, "P-021")
    coordinator = bot.chat(COORDINATOR)

    await coordinator.send("/pending")
    assert "P-020" in coordinator.texts[-1] and "P-021" in coordinator.texts[-1]

    await coordinator.send("/review p-020")  # codes are stored upper-case
    text = "\n".join(coordinator.texts[-2:])
    assert "NOT ELIGIBLE" in text and "Answer history:" in text and " Age: 16" in text
    assert coordinator.sent[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
        f"c|confirm|{first}|1"
    )
    await coordinator.send("/review NOPE-1")
    assert coordinator.texts[-1] == "No screening with code NOPE-1."

    await coordinator.send("/log")
    assert "Total" in coordinator.texts[-1] and "I01 (1)" in coordinator.texts[-1]
    [photo] = [u for u in bot.request.uploads if u[0] == "sendPhoto"]
    assert photo[1] == COORDINATOR and photo[3].startswith(b"\x89PNG")

    await coordinator.send("/export")
    documents = [u for u in bot.request.uploads if u[0] == "sendDocument"]
    assert [d[2].rsplit(".", 1)[-1] for d in documents] == ["csv", "json", "json"]
    assert (
        documents[0][3].decode("utf-8-sig").splitlines()[0].startswith("screening_id,patient_code")
    )
    await coordinator.send("/export pdf")
    assert coordinator.texts[-1].startswith("Usage: /export")
    assert COORDINATOR_CHAT not in {d[1] for d in documents}


async def test_review_of_a_code_screened_again_opens_the_completed_one(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    done = complete(store, engine, "P-030", age="16")
    start_screening(store, engine, "P-030", OTHER_INVESTIGATOR)  # the patient comes back
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/review P-030")
    assert "NOT ELIGIBLE" in "\n".join(coordinator.texts[-2:])
    assert coordinator.sent[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
        f"c|confirm|{done}|1"
    )


async def test_one_code_from_two_investigators_is_reviewed_by_number(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    """Two investigators' P-0001: /pending listed « /review P-0001 » twice and /review
    P-0001 opened only the later one; the other could not be reviewed at all."""
    first = complete(store, engine, "P-0001", age="16")
    second = start_screening(store, engine, "P-0001", OTHER_INVESTIGATOR)
    assert answer(store, engine, second, ELIGIBLE) == "complete"
    bot = await make_bot()
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/pending")
    # /review P-0001 opens the later one; the other is pointed at by its number.
    assert f"/review #{first}" in coordinator.last_text
    assert "/review P-0001" in coordinator.last_text
    # Once the later one is confirmed, the pending one still gets its number: its code
    # would open the confirmed screening.
    await outbox_job(bot.context())
    await coordinator.press_data(f"c|confirm|{second}", _summary_message(bot, COORDINATOR))
    await coordinator.send("/pending")
    assert f"/review #{first}" in coordinator.last_text
    assert "/review P-0001" not in coordinator.last_text
    await coordinator.send(f"/review #{first}")
    assert "NOT ELIGIBLE" in coordinator.texts[-1] or "NOT ELIGIBLE" in coordinator.texts[-2]
    await coordinator.send("/review #999")
    assert coordinator.last_text == "No screening #999."


async def test_a_query_after_a_confirmation_warns_the_asker(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    """A second coordinator's query on a confirmed screening gave no sign that it could
    reopen a verdict someone had signed off."""
    store.add_user(7002, "coordinator", "Coord F", language="en", actor="test")
    bot = await make_bot()
    sid = complete(store, engine, "P-090")
    await outbox_job(bot.context())
    await bot.chat(COORDINATOR).press_data(f"c|confirm|{sid}", _summary_message(bot, COORDINATOR))
    second = bot.chat(7002)
    await second.press_data(f"c|query|{sid}", _summary_message(bot, 7002))
    assert second.texts[-1].startswith(f"⚠️ Already confirmed by Coord C ({COORDINATOR}) (")
    assert "if the investigator changes an answer, the screening is reopened" in second.texts[-1]
