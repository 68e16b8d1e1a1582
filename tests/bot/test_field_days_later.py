"""Field QA (issue 4): pre-screening started now and finished days later, several patients.

Each test reads as a transcript.  The investigator's clock moves (``Clock``): the bot's
engines read "today" from it, as a process running for days would.  Each test failed
on the code before its fix.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_services
from bot.chat import LOCAL_USER_ID, ChatSession, ensure_local_user
from bot.outbox_sender import worded_in
from bot.reminders import reminder_payload, render_reminder
from bot.settings import Settings
from dialogs.protocol import PROTOCOL_DIR, AnswerType
from storage.coordination import IdleScreening
from tests.bot.conftest import INVESTIGATOR, OTHER_INVESTIGATOR, TODAY, Bot, ago, eligible_on
from tests.bot.transcript import TelegramChat

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """The day it is for the bot; ``later(days)`` moves it on."""

    def __init__(self, day: dt.date = TODAY) -> None:
        self.day = day

    def __call__(self) -> dt.date:
        return self.day

    def later(self, days: int) -> None:
        self.day += dt.timedelta(days=days)


def dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot_on(make_bot: Callable[..., Any], clock: Clock) -> Callable[..., Any]:
    """A bot process (a new Application on the shared database) whose engines use ``clock``."""

    async def make(**overrides: Any) -> Bot:
        bot: Bot = await make_bot(**overrides)
        for engine in bot.services.registry.engines():
            engine.clock = clock
        return bot

    return make


async def restart(first: Bot, bot_on: Callable[..., Any]) -> Bot:
    """Stop ``first`` and start a new process on the same database."""
    await first.stop()
    second: Bot = await bot_on()
    # stop() closed the first one: keep the fixture from closing it twice.
    first.services.close = lambda: None  # type: ignore[method-assign]
    first.app = second.app
    return second


def current(bot: Bot) -> Any:
    return bot.store.find_open_screening(INVESTIGATOR)


async def answer_up_to(
    bot: Bot, chat: TelegramChat, record: dict[str, str], stop: str | None = None
) -> None:
    """Answer the current screening from ``record`` until ``stop`` is asked, or (without
    ``stop``) until it closes, even while another patient's screening stays open."""
    engine = bot.services.registry.latest()
    code = current(bot).patient_code
    for _ in range(80):
        s = current(bot)
        if s is None or s.patient_code != code or s.current_state == "complete":
            assert stop is None, f"{stop} never asked"
            return
        qid = s.current_state
        if qid == stop:
            return
        if engine.question(qid).type in (AnswerType.yesno, AnswerType.choice):
            await chat.press_value(qid, record[qid])
        else:
            await chat.send(record[qid])
    raise AssertionError(f"{stop or 'the verdict'} never reached")


# -- days later ------------------------------------------------------------------------------


async def test_labs_typed_days_later_after_a_restart(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """Stopped at the blood tests; five days and a restart later, the labs come back."""
    first: Bot = await bot_on()
    start = TODAY + dt.timedelta(days=10)
    record = {
        **eligible_on(TODAY),
        "planned_start_date": dmy(start),
        # No pregnancy test: one within 72 hours of a start 10 days away is not done yet,
        # and a test date after today is refused.
        "childbearing_potential": "no",
    }
    chat = first.chat()
    await chat.send("/new P-0001")
    await answer_up_to(first, chat, record, "lab_date")
    await chat.send("/new P-0002")  # another patient meanwhile
    await chat.send("today")

    clock.later(5)
    bot = await restart(first, bot_on)
    chat = bot.chat()
    await chat.send("/list")
    assert "• P-0001 — in progress, Q 34/45, 12 question(s) left" in chat.last_text
    await chat.send("/resume P-0001")
    assert chat.texts[-2] == "Continuing screening P-0001."
    assert chat.last_text.startswith("Q 34/45 · Date of the blood tests below?")
    await chat.send("today")  # read today, not on the day the screening began
    answers = bot.store.current_answers(current(bot).id)
    assert answers["lab_date"].value_json == {"date": clock.day.isoformat()}
    assert answers["planned_start_date"].value_json == {"date": start.isoformat()}
    await answer_up_to(bot, chat, record)
    assert "verdict: ELIGIBLE" in chat.texts[-3]
    assert current(bot).patient_code == "P-0002"  # the other patient is still open
    # ...and the bot says so, with its question: typed answers now go to P-0002.
    assert chat.texts[-2] == "Continuing screening P-0002."
    assert chat.last_text == "Q 2/41 · Cohort?"


async def test_a_planned_start_now_past_is_pointed_out_on_resume(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0001")
    await answer_up_to(bot, chat, eligible_on(TODAY), "lab_date")  # start: tomorrow
    clock.later(10)
    sent = len(chat.sent)
    await chat.send("/resume P-0001")
    resumed = "\n".join(chat.texts[sent:])
    # It read "Continuing screening P-0001." and the lab date question, nothing about
    # the start; typing today's lab date then got "… is after the planned start date
    # (03/06/2025): please check it.", and only /back through every answer reached it.
    assert dmy(TODAY + dt.timedelta(days=1)) in resumed, resumed
    assert "is now in the past" in chat.last_text
    await chat.press("Change the planned start date")
    assert current(bot).current_state == "planned_start_date"
    new_start = clock.day + dt.timedelta(days=7)
    await chat.send(dmy(new_start))
    # The pregnancy test is too old for the new start: asked again first (its result,
    # then its date), with Keep.
    assert current(bot).current_state == "pregnancy_test_negative", chat.last_text
    await chat.press("Keep: yes")
    await chat.press(f"Keep: {dmy(TODAY - dt.timedelta(days=1))}")
    assert current(bot).current_state == "lab_date", chat.last_text  # back where it was
    await chat.send("today")  # no longer after the start
    assert current(bot).current_state == "anc", chat.last_text


async def test_a_lab_date_after_the_start_offers_to_change_the_start(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """« … est postérieure à la date de début prévue » came without the button: it was
    only under an older message, to scroll up to."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0001")
    await answer_up_to(bot, chat, eligible_on(TODAY), "lab_date")  # start: tomorrow
    clock.later(10)
    await chat.send("today")
    assert "is after the planned start date" in chat.last_text, chat.last_text
    assert chat.buttons == ["Change the planned start date"]
    await chat.press("Change the planned start date")
    await chat.send(dmy(clock.day + dt.timedelta(days=7)))
    await chat.press("Keep: yes")  # the pregnancy test's result, then its date
    await chat.press(f"Keep: {dmy(TODAY - dt.timedelta(days=1))}")
    assert current(bot).current_state == "lab_date", chat.last_text
    await chat.send("today")
    assert current(bot).current_state == "anc", chat.last_text


async def labs_too_old(bot_on: Callable[..., Any]) -> tuple[Bot, TelegramChat]:
    """P-0001 completed INCOMPLETE: its labs are 20 days before the planned start."""
    bot: Bot = await bot_on()
    start = TODAY + dt.timedelta(days=20)
    record = {
        **eligible_on(TODAY),
        "planned_start_date": dmy(start),
        "lab_date": dmy(TODAY),  # 20 days before the start: too old
        "childbearing_potential": "no",  # a pregnancy test dated on the start is refused
    }
    chat = bot.chat()
    await chat.send("/new P-0001")
    await answer_up_to(bot, chat, record)
    return bot, chat


async def test_labs_too_old_for_the_start_are_typed_again_after_resume(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    bot, chat = await labs_too_old(bot_on)
    assert "labs older than 14 days before the planned start: repeat them" in chat.last_text
    clock.later(12)  # the labs were repeated today
    await chat.send("/resume P-0001")
    assert "reopened to document what was unknown" in chat.texts[-2]
    assert current(bot).current_state == "lab_date", chat.last_text  # today: "age"
    await chat.send("today")
    assert current(bot).current_state == "anc", chat.last_text  # the new values
    await chat.send("/list")  # the values to confirm are what is left
    assert "• P-0001 — in progress, Q 35/45, 11 question(s) left" in chat.last_text
    await chat.send("/resume P-0001")
    # Each value measured on the old date is asked again, with its Keep button.
    asked = []
    for _ in range(15):
        s = current(bot)
        if s is None:
            break
        asked.append(s.current_state)
        keep = [b for b in chat.buttons if b.startswith("Keep: ")]
        assert keep, (s.current_state, chat.last_text)
        await chat.press(keep[0])
    assert asked == [  # the measurements (CD4: only asked for few lymphocytes)
        "anc", "platelets", "hemoglobin", "lymphocytes", "creatinine_clearance",
        "creatinine_uln", "bilirubin_uln", "asat_uln", "alat_uln", "calcium_normal",
        "magnesium_normal",
    ]  # fmt: skip
    assert "verdict: ELIGIBLE" in chat.last_text, chat.last_text


async def test_summary_and_status_do_not_count_the_old_labs_while_new_ones_are_asked(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """/summary said « verdict à ce stade : ÉLIGIBLE » on the old values while the bot was
    asking for the new ANC with a Keep button, and /status counted nothing pending."""
    bot, chat = await labs_too_old(bot_on)
    clock.later(12)
    await chat.send("/resume P-0001")
    await chat.send("today")
    assert current(bot).current_state == "anc", chat.last_text
    await chat.send("/summary")
    summary = chat.texts[-2]
    assert "verdict so far: INCOMPLETE" in summary, summary
    assert "I09" not in summary.split("⏳")[0]  # waits for the new values, not "passed"
    assert "⏳ 6 criteria wait for questions still to come: I09, I10, I11, I12, N11, N12" in summary
    await chat.send("/status")
    assert "So far: 0 failed, 6 unknown or pending." in chat.texts[-2], chat.texts[-2]


async def test_summary_early_in_a_screening_fits_one_phone_message(bot: Bot) -> None:
    """Right after the cohort, /summary was two 4,000-character messages of « pas encore
    renseigné », with placeholders like « ? ? mg/jour »."""
    chat = bot.chat(language_code="fr")
    await chat.send("/new P-0030")
    await chat.send("aujourd'hui")
    await chat.press("Sarcome")
    sent = len(chat.texts)
    await chat.send("/summary")
    assert len(chat.texts) == sent + 2  # the summary, then the question again under it
    summary = chat.texts[-2]
    assert len(summary) < 600, summary
    assert chat.last_text.startswith("Q "), chat.last_text
    assert "? ? mg/jour" not in summary
    assert "critère(s) en attente des questions à venir : I01, I02" in summary
    assert "verdict à ce stade : INCOMPLET (questions encore à poser)" in summary


async def test_back_and_keep_after_a_reopening_returns_to_the_reopened_question(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0042")
    await answer_up_to(bot, chat, {**eligible_on(TODAY), "ffpe_available": "?"})
    assert "verdict: INCOMPLETE" in chat.last_text
    clock.later(7)  # the pathologist found the block
    await chat.send("/resume P-0042")
    assert "\nQ 13/49 · FFPE tumour biopsy" in chat.last_text  # after: the start has passed
    await chat.send("/back")  # a look at the answer before it
    await chat.press("Keep: yes")
    assert chat.last_text.startswith("Q 13/49 · FFPE tumour biopsy"), chat.last_text


# -- several patients ----------------------------------------------------------------------------


async def two_patients(bot: Bot) -> tuple[TelegramChat, dict[str, Any]]:
    """A-0001 waits at its histology question, B-0002 (current) at its cohort."""
    chat = bot.chat()
    await chat.send("/new A-0001")
    await chat.send("today")
    await chat.press("Sarcoma")
    a_question = chat.sent[-1]
    await chat.send("/new B-0002")
    await chat.send("today")
    return chat, a_question


async def test_a_reply_to_patient_a_s_question_is_never_recorded_on_b(
    bot_on: Callable[..., Any],
) -> None:
    """Telegram's Reply on A's old question, then « Sarcoma »: it was recorded as B's
    cohort (the current question), the bot naming no patient."""
    bot: Bot = await bot_on()
    chat, a_question = await two_patients(bot)
    await chat.send("Sarcoma", reply_to=a_question)
    assert chat.texts[-2] == (
        "That replies to an earlier question (A-0001: “Does histology confirm a cancer of "
        "this cohort?”): nothing was recorded. Answer the question below, or /back to "
        "change an earlier answer."
    )
    b = bot.store.find_open_screening(INVESTIGATOR, "B-0002")
    assert b is not None and b.current_state == "cohort"
    assert "cohort" not in bot.store.current_answers(b.id)
    # A reply to the current question itself is an answer, as typed.
    await chat.send("Sarcoma", reply_to=chat.sent[-1])
    assert "cohort" in bot.store.current_answers(b.id)


async def test_a_reply_to_a_question_of_no_screening_of_theirs_records_nothing(
    bot_on: Callable[..., Any],
) -> None:
    """A replied message whose buttons name a screening that is not theirs (or none)."""
    bot: Bot = await bot_on()
    chat, a_question = await two_patients(bot)
    forged = {**a_question, "reply_markup": {"inline_keyboard": [[
        {"text": "Yes", "callback_data": "a|999|histology_confirmed|yes"}]]}}  # fmt: skip
    await chat.send("Sarcoma", reply_to=forged)
    assert chat.texts[-2] == (
        "That replies to an earlier message: nothing was recorded. Answer the question below."
    )
    b = bot.store.find_open_screening(INVESTIGATOR, "B-0002")
    assert b is not None and "cohort" not in bot.store.current_answers(b.id)


async def test_an_old_button_of_patient_a_is_applied_to_a_never_to_b(
    bot_on: Callable[..., Any],
) -> None:
    bot: Bot = await bot_on()
    chat, a_question = await two_patients(bot)
    await chat.press_data(a_question["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    a, b = (bot.store.find_open_screening(INVESTIGATOR, code) for code in ("A-0001", "B-0002"))
    assert bot.store.current_answers(a.id)["histology_confirmed"].value_json == "yes"
    assert "histology_confirmed" not in bot.store.current_answers(b.id)
    assert b.current_state == "cohort"
    await chat.send("/status")  # names the patient the next typed answer goes to
    assert chat.texts[-2].startswith("Screening A-0001: Q 4/43")


async def test_after_a_press_for_patient_a_the_next_question_names_a(
    bot_on: Callable[..., Any],
) -> None:
    bot: Bot = await bot_on()
    chat, a_question = await two_patients(bot)
    sent = len(chat.sent)
    await chat.press_data(a_question["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    assert "A-0001" in "\n".join(chat.texts[sent:]), chat.texts[sent:]


async def test_abandoning_one_patient_says_which_one_continues(
    bot_on: Callable[..., Any],
) -> None:
    bot: Bot = await bot_on()
    chat, _ = await two_patients(bot)
    await chat.send("/cancel")
    sent = len(chat.sent)
    await chat.press("Abandon B-0002")
    assert chat.texts[sent:][0] == "Continuing screening A-0001.", chat.texts[sent:]
    assert "histology confirm" in chat.last_text  # A's question, with its buttons
    assert chat.buttons[:2] == ["Yes", "No"]


async def test_keep_it_after_abandon_does_not_say_it_stays_open(
    bot_on: Callable[..., Any],
) -> None:
    bot: Bot = await bot_on()
    chat, _ = await two_patients(bot)
    await chat.send("/cancel")
    confirmation = chat.sent[-1]
    await chat.press("Abandon B-0002")
    keep = confirmation["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    await chat.press_data(keep, confirmation)  # the second tap, on the message as it was
    assert bot.store.find_open_screening(INVESTIGATOR, "B-0002") is None
    edits = [c.params["text"] for c in bot.request.of("editMessageText")]
    assert not any("stays open" in e for e in edits), edits


async def test_a_resumed_stop_offer_says_which_criterion_failed(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new A-0001")
    await chat.send("today")
    await chat.press("Sarcoma")
    for _ in range(3):
        await chat.press("Yes")  # prior anti-PD-1: N01 fails
    await chat.send("/new B-0002")
    clock.later(4)
    await chat.send("/resume A-0001")
    assert chat.buttons == ["End screening", "Document remaining criteria"]
    assert "N01" in chat.last_text, chat.last_text


async def test_the_reminder_of_an_incomplete_screening_names_a_command_that_reaches_it(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """The reminder said « Send /resume to continue it. »; /resume answered « No screening
    in progress » (it offers only open ones), and for labs too old for the planned start
    the reminder said « Nothing is missing »."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    start = TODAY + dt.timedelta(days=20)
    stale = {
        **eligible_on(TODAY),
        "planned_start_date": dmy(start),
        "childbearing_potential": "no",  # a pregnancy test dated on the start is refused
    }
    await chat.send("/new P-0031")
    await answer_up_to(bot, chat, stale)
    await chat.send("/new P-0032")
    await answer_up_to(bot, chat, {**eligible_on(TODAY), "ffpe_available": "?"})
    clock.later(3)

    def reminder(code: str) -> str:
        (s,) = (s for s in bot.store.list_screenings(INVESTIGATOR) if s.patient_code == code)
        payload = reminder_payload(
            bot.services.registry, bot.store, IdleScreening(s, s.updated_at), 3
        )
        text = render_reminder(bot.store, worded_in(payload, "en"), "en")
        assert text is not None
        return text

    ffpe, labs = reminder("P-0032"), reminder("P-0031")
    assert "FFPE" in ffpe
    for text, code in ((ffpe, "P-0032"), (labs, "P-0031")):
        assert "Nothing is missing" not in text
        assert text.splitlines()[-1].endswith(f"send /resume {code}"), text  # to copy
    await chat.send("/resume")  # what the reminder used to say: no use here
    assert chat.last_text.startswith("No screening in progress.")
    await chat.send("/resume P-0032")  # what it says now
    assert "reopened to document what was unknown" in chat.texts[-2]
    assert "FFPE" in chat.last_text


async def test_resuming_an_incomplete_screening_walks_through_every_unknown_answer(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """Labs back days later: /resume asked the first unknown answer (FFPE), took it, and
    closed the screening again, still incomplete for the two lab values, one /resume per
    unknown answer, each sending the coordinators a new summary."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    pending = {**eligible_on(TODAY), "ffpe_available": "?", "anc": "?", "platelets": "?"}
    await chat.send("/new P-0041")
    await answer_up_to(bot, chat, pending)
    assert "INCOMPLETE" in chat.last_text
    # The way back in, to copy when the labs come back.
    assert chat.last_text.endswith("When the missing results are in: /resume P-0041 (it asks "
                                   "again only what is still unknown).")  # fmt: skip
    clock.later(3)

    await chat.send("/resume P-0041")
    assert "reopened to document what was unknown" in chat.texts[-2]
    assert "FFPE" in chat.last_text
    await chat.press("Yes")
    asked = chat.last_text  # the next unknown answer, not the verdict again
    assert asked.startswith("Q ") and "neutrophil" in asked and "Current answer: unknown" in asked
    await chat.send("2.1 G/L")
    read_back, asked = chat.last_text.split("\n", 1)
    assert read_back == "→ 2.1 ×10⁹/L"
    assert asked.startswith("Q ") and "Platelet" in asked and "Current answer: unknown" in asked
    await chat.send("210 G/L")
    assert "ELIGIBLE" in chat.last_text
    assert "INCOMPLETE" not in chat.last_text
    (s,) = (s for s in bot.store.list_screenings(INVESTIGATOR) if s.patient_code == "P-0041")
    assert s.verdict == "eligible"
    completions = [e for e in bot.store.events(s.id) if e.kind == "completed"]
    assert len(completions) == 2  # the first verdict and this one, no step in between


async def test_back_in_a_resumed_walk_returns_to_the_walk_s_previous_question(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """/back at the second question of the walk (neutrophils) showed the question before
    it in the protocol (the lab date), which the walk never asked, not the FFPE block
    just answered."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    pending = {**eligible_on(TODAY), "ffpe_available": "?", "anc": "?", "platelets": "?"}
    await chat.send("/new P-0043")
    await answer_up_to(bot, chat, pending)
    clock.later(3)
    await chat.send("/resume P-0043")
    await chat.press("Yes")  # the FFPE block was found
    assert "neutrophil" in chat.last_text
    await chat.send("/back")
    assert "FFPE" in chat.last_text and "Current answer: yes" in chat.last_text, chat.last_text
    assert current(bot).current_state == "ffpe_available"
    await chat.press("Keep: yes")
    assert "neutrophil" in chat.last_text and "Current answer: unknown" in chat.last_text
    await chat.send("/back")
    await chat.send("/back")  # before the walk's first question: the protocol's order
    assert current(bot).current_state not in ("ffpe_available", "anc")
    await chat.press("Keep: yes")  # and back to the walk
    assert current(bot).current_state == "anc", chat.last_text


async def test_keeping_every_answer_of_a_resumed_walk_sends_no_second_summary(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """Resumed while the labs were still not back, every answer kept: the screening
    closed again with the same verdict, and the coordinators got a second, identical
    summary."""
    bot: Bot = await bot_on()
    summaries: list[str] = []  # what the coordinator extension's hook would queue
    bot.services.on_completing.append(lambda tx, *_: summaries.append(tx.screening.verdict))
    chat = bot.chat()
    await chat.send("/new P-0044")
    await answer_up_to(bot, chat, {**eligible_on(TODAY), "ffpe_available": "?", "anc": "?"})
    assert "INCOMPLETE" in chat.last_text
    assert summaries == ["incomplete"]
    clock.later(1)
    await chat.send("/resume P-0044")
    await chat.press("Keep: unknown")
    await chat.press("Keep: unknown")
    assert "INCOMPLETE" in chat.last_text
    assert chat.last_text.startswith(
        "Nothing changed since the last verdict: your coordinators were not sent it again."
    ), chat.last_text
    assert summaries == ["incomplete"]
    # An answer given, even the same verdict: the coordinators hear of it.
    clock.later(1)
    await chat.send("/resume P-0044")
    await chat.press("Yes")
    await chat.press("Keep: unknown")
    assert "INCOMPLETE" in chat.last_text and "Nothing changed" not in chat.last_text
    assert summaries == ["incomplete", "incomplete"]


# Labs drawn 20 days before a start a week away: too old, so the screening ends INCOMPLETE
# and /resume asks for a new lab date; its platelets (50) would fail I09.
OLD_PANEL_OF_50_PLATELETS = {
    **eligible_on(TODAY),
    "planned_start_date": dmy(TODAY + dt.timedelta(days=7)),
    "sex": "male",
    "lab_date": ago(20),
    "platelets": "50 G/L",
}


async def test_values_of_the_old_lab_date_fail_nothing_before_they_are_confirmed(
    bot_on: Callable[..., Any],
) -> None:
    """New labs after /resume: at the first new value (ANC), I09 failed on the old panel's
    platelets (50, drawn 20 days earlier, not yet typed again), the stop offer came, and
    ending there closed the screening NOT ELIGIBLE on a value nobody confirmed."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    old = OLD_PANEL_OF_50_PLATELETS
    await chat.send("/new P-0045")
    await answer_up_to(bot, chat, old)
    assert "INCOMPLETE" in chat.last_text, chat.last_text
    await chat.send("/resume P-0045")
    assert current(bot).current_state == "lab_date", chat.last_text
    await chat.send("today")
    assert current(bot).current_state == "anc", chat.last_text
    await chat.send("2 G/L")
    assert "failed (excludes" not in chat.last_text, chat.last_text
    assert current(bot).current_state == "platelets", chat.last_text
    assert "Current answer: 50 ×10⁹/L" in chat.last_text
    await chat.send("/summary")  # I09 waits for the platelets: unknown, not failed
    assert "❌ I09" not in chat.texts[-2], chat.texts[-2]
    assert "Current answer: 50 ×10⁹/L" in chat.last_text  # the question, under it
    await chat.send("50 G/L")  # the same count on the new panel: now it fails
    assert "Criterion I09 failed" in chat.last_text, chat.last_text


async def test_a_new_screening_of_a_code_that_ended_incomplete_offers_to_resume_it(
    bot_on: Callable[..., Any],
) -> None:
    """/new with the code of a screening that ended INCOMPLETE opened a second one without
    a word; abandoned, it was the one /resume CODE took (« closed (abandoned) »), and the
    incomplete screening could no longer be documented."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0046")
    await answer_up_to(bot, chat, {**eligible_on(TODAY), "ffpe_available": "?"})
    assert "INCOMPLETE" in chat.last_text
    await chat.send("/new P-0046")
    assert chat.last_text.startswith("P-0046 already has a screening that ended INCOMPLETE on "), (
        chat.last_text
    )
    assert chat.buttons == ["▶ Resume P-0046", "New screening of P-0046"]
    assert current(bot) is None  # nothing opened yet
    await chat.press("New screening of P-0046")  # a new screening all the same
    assert current(bot).patient_code == "P-0046", chat.last_text
    await chat.send("/cancel")
    await chat.press("Abandon P-0046")
    await chat.send("/resume P-0046")  # the incomplete one, not the one just abandoned
    assert "reopened to document what was unknown" in chat.texts[-2], chat.texts[-2]
    assert current(bot).current_state == "ffpe_available"


async def test_the_welcome_after_a_restart_says_a_patient_code_is_still_awaited(
    bot_on: Callable[..., Any],
) -> None:
    """/new, then a restart: the welcome said only « You have a screening in progress
    (A-0001): /resume », and « sarcoma » typed for it was refused as a patient code."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new A-0001")
    await chat.send("/new")
    bot = await restart(bot, bot_on)
    chat = bot.chat()
    await chat.send("/start")
    assert chat.last_text == (
        "/new is waiting for a patient code: type it (or /cancel, then /resume to go back "
        "to the screening in progress).\nPatient code? Use the centre's pseudonymous "
        "screening code (with at least one digit; never a name or a birth date)."
    )


async def test_keeping_an_old_lab_value_that_fails_brings_the_stop_offer(
    bot_on: Callable[..., Any],
) -> None:
    """Kept for the new lab date, the old platelets (50) failed I09 in silence: the walk
    went on to the haemoglobin, where typing « 50 G/L » brought the stop offer at once."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    old = OLD_PANEL_OF_50_PLATELETS
    await chat.send("/new P-0047")
    await answer_up_to(bot, chat, old)
    await chat.send("/resume P-0047")
    await chat.send("today")  # the new lab date
    await chat.send("2 G/L")
    await chat.press("Keep: 50 ×10⁹/L")
    assert "Criterion I09 failed" in chat.last_text, chat.last_text
    assert chat.buttons == ["End screening", "Document remaining criteria"]


async def test_a_deactivated_investigator_is_told_access_was_revoked(
    bot_on: Callable[..., Any],
) -> None:
    # « You are not authorised… send your id to get access », as if never given any.
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0048")
    bot.store.set_active(INVESTIGATOR, False, actor="test")
    await chat.send("today")
    assert chat.last_text == (
        "⛔ Your access to this bot was revoked.\nYour Telegram user id is "
        f"{INVESTIGATOR}: ask the study coordinator if this is a mistake."
    )


async def test_cancel_in_a_resumed_walk_offers_to_close_it_again(
    bot_on: Callable[..., Any],
) -> None:
    """/cancel half-way through a /resume walk offered only to abandon: the INCOMPLETE
    verdict was thrown away (coordinators told « its verdict no longer counts ») when the
    investigator only meant to stop for now."""
    bot: Bot = await bot_on()
    summaries: list[str] = []
    bot.services.on_completing.append(lambda tx, *_: summaries.append(tx.screening.verdict))
    chat = bot.chat()
    await chat.send("/new P-0049")
    await answer_up_to(bot, chat, {**eligible_on(TODAY), "ffpe_available": "?", "anc": "?"})
    await chat.send("/resume P-0049")
    await chat.press("Yes")  # the FFPE block was found; the ANC still out
    await chat.send("/cancel")
    assert chat.buttons == ["Close it again", "Abandon P-0049", "Keep it"]
    await chat.press("Close it again")
    assert "verdict: INCOMPLETE" in chat.last_text and "FFPE" not in chat.last_text
    (s,) = bot.store.list_screenings(INVESTIGATOR)
    assert (s.status, s.verdict) == ("completed", "incomplete")
    assert summaries == ["incomplete", "incomplete"]  # the FFPE answer is news
    await chat.send("/resume P-0049")  # and it can be taken up again
    assert current(bot).current_state == "anc"


async def test_the_new_buttons_of_someone_else_or_a_closed_walk_change_nothing(
    bot_on: Callable[..., Any],
) -> None:
    """The "new screening anyway" button is the investigator's own, and "Close it again"
    only closes a walk its investigator took up with /resume."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0050")
    await answer_up_to(bot, chat, {**eligible_on(TODAY), "ffpe_available": "?"})
    (s,) = bot.store.list_screenings(INVESTIGATOR)
    other = bot.chat(OTHER_INVESTIGATOR)
    await other.press_data(f"n|{s.id}", chat.sent[-1])
    assert other.notices[-1] == "This button is not valid for you: nothing changed."
    assert bot.store.list_screenings(OTHER_INVESTIGATOR) == []
    await chat.send("/new P-0051")  # open, never completed: no walk to close
    opened = current(bot)
    await chat.press_data(f"x|{opened.id}|c", chat.sent[-1])
    assert chat.notices[-1] == "This question was already answered: nothing changed."
    assert current(bot).status == "in_progress"


async def test_back_right_after_a_verdict_names_the_patient_just_closed(
    bot_on: Callable[..., Any],
) -> None:
    """/back after the verdict, to change an answer, said « No screening in progress »
    without a word of P-0051 or of who can reopen it."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0051")
    await answer_up_to(bot, chat, eligible_on(TODAY))
    await chat.send("/back")
    assert chat.last_text == (
        "Screening P-0051 is closed (ELIGIBLE). Only your coordinator can reopen it."
    )
    await chat.send("/new P-0052")
    await answer_up_to(bot, chat, {**eligible_on(TODAY), "ffpe_available": "?"})
    await chat.send("/back")
    assert chat.last_text == (
        "Screening P-0052 ended incomplete. To change or document answers, /resume P-0052 "
        "reopens it."
    )


async def test_a_repeated_pregnancy_test_asks_its_result_again_not_only_its_date(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """Resumed for a pregnancy test too old for the start, the walk asked only the test's
    date: a new date under the old test's « negative », and I16 passed on a result
    nobody gave."""
    bot: Bot = await bot_on()
    chat = bot.chat()
    start = TODAY + dt.timedelta(days=10)
    early = {**eligible_on(TODAY), "planned_start_date": dmy(start), "lab_date": dmy(TODAY)}
    await chat.send("/new P-0061")
    await answer_up_to(bot, chat, early)  # the test of yesterday is 11 days before
    assert "I16" in chat.last_text and "INCOMPLETE" in chat.last_text
    clock.later(8)
    await chat.send("/resume P-0061")
    # Why the walk asks again: said with the reopening.
    assert "⚠️ I16: pregnancy test older than 3 days" in chat.texts[-2], chat.texts[-2]
    assert current(bot).current_state == "pregnancy_test_negative", chat.last_text
    await chat.press("Yes")  # the new test, negative
    assert current(bot).current_state == "pregnancy_test_date", chat.last_text
    await chat.send("today")
    assert "ELIGIBLE" in chat.last_text and "INCOMPLETE" not in chat.last_text


# -- the terminal chat ---------------------------------------------------------------------------


@pytest.fixture
def terminal(tmp_path: Path, clock: Clock) -> Any:
    settings = Settings(_env_file=None, data_dir=tmp_path, telegram_token=None)  # type: ignore[call-arg]
    services = build_services(settings, clock=clock)
    ensure_local_user(services.store, LOCAL_USER_ID, "en")
    session = ChatSession(services.flow)
    session.start()
    yield services, session
    services.close()


def open_code(services: Any) -> str | None:
    s = services.store.find_open_screening(LOCAL_USER_ID)
    return None if s is None else str(s.patient_code)


def test_terminal_abandon_leaves_no_button_to_press_again(terminal: Any) -> None:
    """After « Abandon B-0002 », typing 2 pressed the gone « Keep it »: « OK, screening
    B-0002 stays open. » for a screening just abandoned (Telegram removes those buttons)."""
    services, session = terminal
    session.feed("/new A-0001")
    session.feed("today")
    session.feed("/new B-0002")
    assert "[1] Abandon B-0002   [2] Keep it" in session.feed("/cancel")
    out = session.feed("1")
    assert [line for line in out if line][:2] == [
        "  Screening B-0002 abandoned.",
        "Continuing screening A-0001.",
    ], out
    out = session.feed("2")
    assert not any("stays open" in line for line in out), out
    # A typed 2, as on Telegram: it answers the question of the screening still open.
    assert "  → Ovarian cancer" in out
    assert open_code(services) == "A-0001"
    statuses = {s.patient_code: s.status for s in services.store.list_screenings(LOCAL_USER_ID)}
    assert statuses == {"A-0001": "in_progress", "B-0002": "abandoned"}


def test_terminal_list_leaves_the_question_to_answer_by_number(terminal: Any) -> None:
    """At a numbered question, /list then « 2 » switched to the second patient listed
    (its numbered ▶ button) instead of answering 2, as Telegram does with a typed 2."""
    services, session = terminal
    session.feed("/new A-0001")
    session.feed("today")
    session.feed("/new B-0002")
    session.feed("today")
    out = session.feed("/list")
    assert "• B-0002 — in progress, Q 2/41, 40 question(s) left" in out
    assert "/resume B-0002   /resume A-0001" in out  # what continues either, by name
    out = session.feed("2")  # Ovarian cancer, the cohort's choice 2
    assert "  → Ovarian cancer" in out
    assert open_code(services) == "B-0002"
    session.feed("/list")
    session.feed("/resume A-0001")
    assert open_code(services) == "A-0001"


def test_terminal_status_offers_the_start_date_by_its_label_not_a_number(
    terminal: Any,
) -> None:
    """/status shows a start date button beside the question: numbered [1], it read as
    the question's first choice, while a typed 1 answers the question."""
    services, session = terminal
    session.feed("/new A-0001")
    session.feed("today")
    out = session.feed("/status")
    assert "[type: Change the planned start date]" in out
    assert any(line.startswith("[1] Sarcoma") for line in out)  # the question's numbers
    session.feed("change the planned start date")
    assert services.store.find_open_screening(LOCAL_USER_ID).current_state == ("planned_start_date")
    session.feed(dmy(TODAY + dt.timedelta(days=3)))
    out = session.feed("1")
    assert "  → Sarcoma" in out


def test_terminal_days_later_and_a_restart(tmp_path: Path, clock: Clock) -> None:
    """The same day-later resume as on Telegram, through two terminal sessions."""
    settings = Settings(_env_file=None, data_dir=tmp_path, telegram_token=None)  # type: ignore[call-arg]
    record = eligible_on(TODAY)
    services = build_services(settings, clock=clock)
    try:
        ensure_local_user(services.store, LOCAL_USER_ID, "en")
        session = ChatSession(services.flow)
        session.feed("/new P-0001")
        for qid in list(record)[: list(record).index("lab_date")]:
            session.feed(record[qid])
        assert services.store.find_open_screening(LOCAL_USER_ID).current_state == "lab_date"  # type: ignore[union-attr]
    finally:
        services.close()
    clock.later(3)
    services = build_services(settings, clock=clock)
    try:
        session = ChatSession(services.flow)
        out = session.start()
        assert "You have a screening in progress (P-0001): /resume to continue." in out
        out = session.feed("/resume")
        assert "Continuing screening P-0001." in out
        assert any(line.startswith("Q 38/49 · Date of the blood tests below?") for line in out)
        labs = TODAY - dt.timedelta(days=1)
        session.feed(dmy(labs))
        answers = services.store.current_answers(
            services.store.find_open_screening(LOCAL_USER_ID).id  # type: ignore[union-attr]
        )
        assert answers["planned_start_date"].value_json == {"date": record["planned_start_date"]}
        assert answers["lab_date"].value_json == {"date": labs.isoformat()}
    finally:
        services.close()


def test_screenbot_chat_list_then_a_number_across_two_runs(tmp_path: Path) -> None:
    """``screenbot chat`` through stdin, twice on one DATA_DIR (a restart in between)."""
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    for name in ("DATABASE_URL", "TELEGRAM_TOKEN", "PROTOCOL_DIR"):
        env.pop(name, None)

    def run(*lines: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "chat", "--lang", "en"],  # screenbot chat
            input="\n".join([*lines, "/quit"]) + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        return result.stdout

    run("/new A-0001", "today", "/new B-0002", "today")
    out = run("/list", "1", "/status")
    assert "→ Sarcoma" in out and "Continuing" not in out
    assert "Screening B-0002: Q 3/43" in out


async def test_keep_it_on_a_patient_no_longer_current_makes_it_current(
    bot_on: Callable[..., Any],
) -> None:
    """/cancel on B, /resume A, then "Keep it" on B's old question: B's question was shown
    while typed answers still went to A."""
    bot: Bot = await bot_on()
    chat, _ = await two_patients(bot)  # B current
    await chat.send("/cancel")
    confirmation = chat.sent[-1]
    await chat.send("/resume A-0001")
    keep = confirmation["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    sent = len(chat.sent)
    await chat.press_data(keep, confirmation)
    assert chat.texts[sent] == "Continuing screening B-0002.", chat.texts[sent:]
    await chat.press("Sarcoma")  # B's cohort question, shown and current
    b = bot.store.find_open_screening(INVESTIGATOR, "B-0002")
    assert b.current_state == "histology_confirmed"


async def test_a_second_reopening_keeps_the_lab_values_still_to_confirm(
    bot_on: Callable[..., Any], clock: Clock
) -> None:
    """Two queries in turn: the second reopening must add its question to the values a
    new lab date left to confirm, not replace them (they were then never asked again)."""
    from bot.screening_flow import reopen_at_open_items

    bot: Bot = await bot_on()
    chat = bot.chat()
    await chat.send("/new P-0001")
    await answer_up_to(bot, chat, eligible_on(TODAY))
    s = bot.store.list_screenings(INVESTIGATOR)[0]
    engine = bot.services.registry.latest()
    with bot.store.screening_tx(s.id) as tx:  # a coordinator's query on the lab date
        reopen_at_open_items(tx, engine, "lab_date", INVESTIGATOR, "query 1")
    await chat.send(dmy(TODAY))  # new labs today
    with bot.store.screening_tx(s.id) as tx:  # a second query, on the ANC
        reopen_at_open_items(tx, engine, "anc", INVESTIGATOR, "query 2")
    left = set(bot.store.get_screening(s.id).to_confirm)
    assert {"anc", "platelets", "hemoglobin", "magnesium_normal"} <= left, left


async def test_list_shows_a_screening_on_an_unloaded_protocol_among_the_others(
    bot_on: Callable[..., Any], tmp_path: Path
) -> None:
    """One screening begun on a protocol file since edited without a new version made
    the whole /list fail (« protocol version is not loaded »)."""
    first: Bot = await bot_on()
    chat = first.chat()
    await chat.send("/new P-0001")
    await chat.send("today")
    edited = tmp_path / "edited-protocols"
    edited.mkdir()
    source = PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml"
    text = source.read_text(encoding="utf-8").replace('en: "Cohort?"', 'en: "Cohort ?"', 1)
    assert text != source.read_text(encoding="utf-8")
    (edited / source.name).write_text(text, encoding="utf-8")
    second: Bot = await restart(first, lambda: bot_on(protocol_dir=edited))
    chat = second.chat()
    await chat.send("/list")
    assert "P-0001 — its protocol version is not loaded on this server" in chat.last_text
