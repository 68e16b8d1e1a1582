"""An investigator answers a coordinator's query by replying to the query message.

Replying is how anyone answers a message in Telegram.  Such a reply must never be read as
an answer to the investigator's current question, which may be on another patient: it is
the investigator's written response to the query, recorded on the queried screening,
delivered to the coordinator who asked, and confirmed naming the patient.

Through the real application (investigator flow and coordinator side together), with
the bundled protocol, as an investigator and a coordinator would use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from telegram.ext import CallbackContext

from bot.coordinator import outbox_job
from bot.reminders import enqueue_due_reminders
from storage.coordination import DELIVERIES, MessageKind, messages
from tests.bot.conftest import ELIGIBLE, INVESTIGATOR, Bot, answer_until_done
from tests.bot.transcript import TelegramChat
from tests.coordinator.conftest import running_app

COORDINATOR = 7001
SECOND_COORDINATOR = 7002
COORDINATOR_CHAT = -1007001


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_app(tmp_path, coordinator_chat_id=COORDINATOR_CHAT) as made:
        made.store.add_user(INVESTIGATOR, "investigator", "Dr Éloïse Müller", actor="test")
        made.store.add_user(COORDINATOR, "coordinator", "Coord C", language="en", actor="test")
        made.store.add_user(
            SECOND_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test"
        )
        yield made


async def deliver(bot: Bot) -> None:
    await outbox_job(CallbackContext(bot.app))


async def completed_and_queried(
    bot: Bot, chat: TelegramChat, query: str, *, deliver_query: bool = True
) -> int:
    """P-0001 screened eligible, its summary delivered and Coord C's query sent (and
    delivered: then the query message is the investigator's last).  Returns its id."""
    await chat.send("/new P-0001")
    await answer_until_done(bot, chat, dict(ELIGIBLE))
    [screening] = bot.store.list_screenings(INVESTIGATOR)
    assert screening.id is not None
    await deliver(bot)
    coordinator = bot.chat(COORDINATOR)
    summary = [m for m in coordinator.sent if "📋" in m["text"]][-1]
    await coordinator.press_data(f"c|query|{screening.id}|1", summary)
    await coordinator.send(query, reply_to_last=True)
    if deliver_query:
        await deliver(bot)
        assert "has a question on screening <b>P-0001</b>" in chat.last_text
    return screening.id


def responses(bot: Bot, sid: int) -> list[tuple[int | None, Any]]:
    return [(e.user_id, e.detail) for e in bot.store.events(sid, "query_response")]


async def test_a_reply_to_a_query_never_becomes_an_answer_on_another_patient(bot: Bot) -> None:
    chat = bot.chat(INVESTIGATOR)
    sid = await completed_and_queried(
        bot,
        chat,
        "histology_confirmed: Is the histology really confirmed?",
        deliver_query=False,
    )
    # Meanwhile the investigator screens the next patient, up to the same yes/no question.
    await chat.send("/new P-0002")
    await chat.send(ELIGIBLE["planned_start_date"])
    await chat.press_value("cohort", "sarcoma")
    assert "Does histology confirm a cancer of this cohort?" in chat.last_text
    other = bot.store.find_open_screening(INVESTIGATOR)
    assert other is not None and other.id is not None
    before = {q: r.raw for q, r in bot.store.current_answers(other.id).items()}
    await deliver(bot)
    assert "has a question on screening <b>P-0001</b>" in chat.last_text

    # Telegram's Reply on the query message, answering the coordinator's question.
    await chat.send("no", reply_to_last=True)

    assert {q: r.raw for q, r in bot.store.current_answers(other.id).items()} == before
    assert bot.store.get_screening(sid).status == "completed"
    assert bot.store.get_screening(sid).verdict == "eligible"
    assert responses(bot, sid) == [(INVESTIGATOR, {"review_id": 1, "text": "no"})]
    assert chat.last_text == (
        "💬 Your reply on <b>P-0001</b> was sent to Coord C (7001). It was not recorded as "
        "an answer: nothing in the screening changed."
    )

    # Delivered to the coordinator who asked, not to the others.
    await deliver(bot)
    [row] = messages(bot.store, sid, MessageKind.QUERY_RESPONSE)
    assert row.recipient == COORDINATOR and row.status == "sent"
    coordinator = bot.chat(COORDINATOR)
    reply = coordinator.sent[-1]
    assert reply["text"] == (
        "💬 Dr Éloïse Müller (111) replied to your query on <b>P-0001</b> about “Does "
        "histology confirm a cancer of this cohort”:\n\nno\n\n"
        "Your query: Is the histology really confirmed?\n/review P-0001"
    )
    # Still completed and unreviewed: the coordinator can settle it from here.
    buttons = [b["callback_data"] for b in reply["reply_markup"]["inline_keyboard"][0]]
    assert buttons == [f"c|confirm|{sid}|1", f"c|query|{sid}|1", f"c|reopen|{sid}|1"]

    # /review shows how the query was settled, in each reader's language.
    await coordinator.send("/review P-0001")
    trail = coordinator.texts[-1].split("Reviews and events:\n", 1)[1].splitlines()
    assert [line.split(" UTC ", 1)[1] for line in trail] == [
        "🏁 completed by Dr Éloïse Müller (111): ELIGIBLE",
        "❓ queried by Coord C (7001) [Does histology confirm a cancer of this cohort]: "
        "Is the histology really confirmed?",
        "↳ 💬 reply by Dr Éloïse Müller (111): no",
    ]
    french = bot.chat(SECOND_COORDINATOR, "fr")
    await french.send("/review P-0001")
    assert "↳ 💬 réponse de Dr Éloïse Müller (111) : no" in french.texts[-1]


async def test_a_reply_with_no_screening_open_reaches_the_coordinator(bot: Bot) -> None:
    chat = bot.chat(INVESTIGATOR)
    sid = await completed_and_queried(
        bot, chat, "Please double check the lab date, the report I have says 20/05"
    )
    # A query pointing at no answer: answered in words, no button that would reopen the
    # screening at its first question.
    assert "reply_markup" not in chat.sent[-1]
    assert chat.last_text.endswith(
        "↪️ Reply to this message to answer the coordinator in words (the screening is not changed)."
    )

    await chat.send("Checked: the lab date is correct (27/05).", reply_to_last=True)
    assert chat.last_text.startswith("💬 Your reply on <b>P-0001</b> was sent to Coord C")
    assert "No screening in progress" not in "\n".join(chat.texts)
    await chat.replay()  # Telegram redelivers the update: recorded and sent once
    assert len(responses(bot, sid)) == 1
    await deliver(bot)
    assert len(messages(bot.store, sid, MessageKind.QUERY_RESPONSE)) == 1
    assert "Checked: the lab date is correct (27/05)." in bot.chat(COORDINATOR).last_text

    # The coordinator replying to that reply: told how to ask again, nothing recorded
    # (it read « No screening in progress »).
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("Thanks, noted.", reply_to_last=True)
    assert coordinator.last_text == (
        "Nothing was sent: to ask P-0001's investigator again, press Query under "
        "/review P-0001 (or under its summary)."
    )
    assert len(responses(bot, sid)) == 1


async def test_an_old_reopen_button_of_a_query_pointing_nowhere_changes_nothing(
    bot: Bot,
) -> None:
    chat = bot.chat(INVESTIGATOR)
    sid = await completed_and_queried(bot, chat, "Please double check the lab date")
    # The button earlier versions put under such a query reopened at question 1.
    await chat.press_data("c|reopen_at|1", chat.sent[-1])
    assert chat.notices[-1] == (
        "This query points at no answer: reply to the query message to answer it. Nothing changed."
    )
    assert bot.store.get_screening(sid).status == "completed"


async def test_a_reply_to_a_query_sent_before_message_ids_were_kept_is_refused(
    bot: Bot,
) -> None:
    chat = bot.chat(INVESTIGATOR)
    sid = await completed_and_queried(bot, chat, "ecog: is ECOG really 1?")
    with bot.store.engine.begin() as conn:  # as delivered by the previous version
        conn.execute(sa.delete(DELIVERIES))
    await chat.send("0", reply_to_last=True)
    assert chat.last_text.startswith("⚠️ Nothing was recorded and nothing was sent")
    assert responses(bot, sid) == []
    assert [a.raw for a in bot.store.answer_history(sid, "ecog")] == [ELIGIBLE["ecog"]]


async def test_the_reply_goes_to_every_coordinator_once_the_asker_is_deactivated(
    bot: Bot,
) -> None:
    chat = bot.chat(INVESTIGATOR)
    sid = await completed_and_queried(bot, chat, "ecog: is ECOG really 1?")
    bot.store.set_active(COORDINATOR, False, actor="test")
    await chat.send("Yes, 1 on 20/05.", reply_to_last=True)
    assert chat.last_text.startswith("💬 Your reply on <b>P-0001</b> was sent to the coordinators.")
    rows = messages(bot.store, sid, MessageKind.QUERY_RESPONSE)
    assert sorted(m.recipient for m in rows) == [COORDINATOR_CHAT, SECOND_COORDINATOR]


async def test_the_reply_is_rerouted_when_the_asker_is_deactivated_before_delivery(
    bot: Bot,
) -> None:
    """Queued to the coordinator who asked, deactivated before it went: it was skipped,
    delivered to no one, though the investigator had been told it was sent."""
    chat = bot.chat(INVESTIGATOR)
    sid = await completed_and_queried(bot, chat, "ecog: is ECOG really 1?")
    await chat.send("Yes, 1 on 20/05.", reply_to_last=True)
    bot.store.set_active(COORDINATOR, False, actor="test")
    await deliver(bot)  # skipped, and queued for the others
    await deliver(bot)
    rows = messages(bot.store, sid, MessageKind.QUERY_RESPONSE)
    assert {(m.recipient, m.status) for m in rows} == {
        (COORDINATOR, "skipped"),
        (SECOND_COORDINATOR, "sent"),
    }
    assert "Yes, 1 on 20/05." in bot.chat(SECOND_COORDINATOR).last_text


async def test_a_reply_to_a_reminder_about_another_patient_records_nothing(bot: Bot) -> None:
    """A reply (« 54 ») to the reminder about P-0007 went to the current question, which
    was P-0008's age."""
    chat = bot.chat()
    await chat.send("/new P-0007")
    await chat.send("today")
    await chat.send("/new P-0008")
    await chat.send("today")
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    assert enqueue_due_reminders(bot.store, bot.services.registry, 3, now) == 2
    await deliver(bot)
    [reminder] = [m for m in chat.sent if "⏰" in m["text"] and "P-0007" in m["text"]]
    before = bot.store.find_open_screening(INVESTIGATOR)
    assert before is not None and before.patient_code == "P-0008"
    await chat.send("sarcoma", reply_to=reminder)
    assert chat.last_text == (
        "This replies to a message about P-0007, which is not the screening in progress: "
        "nothing was recorded. /resume P-0007, then type the answer."
    )
    after = bot.store.find_open_screening(INVESTIGATOR)
    assert after is not None and after.answer_count == before.answer_count
    await chat.send("/resume P-0007")
    await chat.send("sarcoma", reply_to=reminder)  # now it is P-0007's question
    current = bot.store.find_open_screening(INVESTIGATOR)
    assert current is not None and current.patient_code == "P-0007"
    assert "cohort" in bot.store.current_answers(current.id)
