"""Transcript tests: real Application, real Update.de_json, offline Bot API."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from typing import Any

import pytest

from bot.app import register_commands
from dialogs.protocol import AnswerType
from tests.bot.conftest import (
    INVESTIGATOR,
    OTHER_INVESTIGATOR,
    STRANGER,
    Bot,
    ago,
    answer_until_done,
)


async def start_screening(bot: Bot, code: str = "P-0001", language_code: str = "en") -> Any:
    chat = bot.chat(language_code=language_code)
    await chat.send("/new")
    assert chat.last_sent_markup is not None and chat.last_sent_markup.get("force_reply")
    await chat.send(code, reply_to_last=True)
    return chat


def progress(text: str) -> tuple[int, int]:
    found = re.search(r"Q (\d+)/(\d+)", text)
    assert found, text
    return int(found.group(1)), int(found.group(2))


def open_screening(bot: Bot, user_id: int = INVESTIGATOR) -> Any:
    s = bot.store.find_open_screening(user_id)
    assert s is not None
    return s


# -- whole screenings ------------------------------------------------------------------------


async def test_whole_screening_in_english_to_eligible(bot: Bot, eligible: dict[str, str]) -> None:
    chat = bot.chat()
    await chat.send("/start")
    assert "Welcome" in chat.last_text and chat.buttons == ["English", "Français"]
    chat = await start_screening(bot)
    assert "Screening P-0001 started" in chat.texts[-2]
    assert progress(chat.last_text)[0] == 1
    sid = open_screening(bot).id

    asked = await answer_until_done(bot, chat, eligible)

    assert "verdict: ELIGIBLE" in chat.last_text
    s = bot.store.get_screening(sid)
    assert (s.status, s.verdict) == ("completed", "eligible")
    assert s.criteria_json["I01"]["status"] == "pass"
    assert s.answer_count == len(asked) == len(bot.store.current_answers(sid))
    # Pressed questions were edited to show the recorded answer, buttons removed.
    edits = [c.params["text"] for c in bot.request.of("editMessageText")]
    assert any(e.endswith("→ Sarcoma") for e in edits)
    assert all("reply_markup" not in c.params for c in bot.request.of("editMessageText"))
    assert [e.kind for e in bot.store.events(sid)][-1] == "completed"


async def test_whole_screening_in_french_with_unknown_to_incomplete(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await start_screening(bot, "FR-0042", language_code="fr")
    assert "Screening FR-0042 commencé" in chat.texts[-2]
    assert "Date" in chat.last_text or "début" in chat.last_text
    french = {**eligible, "planned_start_date": "aujourd'hui", "hemoglobin": "11,2 g/dL"}
    # FFPE availability not known yet: /unknown instead of a button.
    french["ffpe_available"] = "?"
    await answer_until_done(bot, chat, french)
    last = chat.last_text
    assert "verdict : INCOMPLET" in last
    assert "Critères inconnus" in last
    s = bot.store.list_screenings(INVESTIGATOR)[0]
    assert s.verdict == "incomplete" and s.language == "fr"


async def test_branching_by_cohort(bot: Bot) -> None:
    chat = await start_screening(bot, "P-0001")
    await chat.send("today")
    await chat.press("Sarcoma")
    assert open_screening(bot).current_state == "histology_confirmed"
    _, sarcoma_total = progress(chat.last_text)

    other = bot.chat(OTHER_INVESTIGATOR)
    await other.send("/new P-0002")
    await other.send("today")
    await other.press("Thyroid cancer")
    assert open_screening(bot, OTHER_INVESTIGATOR).current_state == "thyroid_subtype"
    assert "Papillary" in other.buttons
    assert progress(other.last_text)[1] != sarcoma_total


# -- back, keep, unknown ------------------------------------------------------------------------


async def test_back_then_a_changed_answer(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("today")
    await chat.press("Sarcoma")
    sid = open_screening(bot).id
    await chat.send("/back")
    assert open_screening(bot).current_state == "cohort"
    assert "Current answer: Sarcoma" in chat.last_text
    assert "Keep: Sarcoma" in chat.buttons
    await chat.press("Thyroid cancer")
    assert open_screening(bot).current_state == "thyroid_subtype"
    history = bot.store.answer_history(sid, "cohort")
    assert [h.value_json for h in history] == ["sarcoma", "thyroid"]
    assert history[1].supersedes_id == history[0].id
    assert history[0].reason is None
    assert history[1].reason == f"changed by the investigator after /back; was {history[0].raw!r}"


async def test_back_then_keep_types_nothing_twice(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("today")
    await chat.press("Sarcoma")
    await chat.press("Yes")  # histology_confirmed
    sid = open_screening(bot).id
    count = bot.store.get_screening(sid).answer_count
    await chat.send("/back")
    await chat.send("/back")
    assert open_screening(bot).current_state == "cohort"
    await chat.press("Keep: Sarcoma")
    # Keep moves on to the first question still waiting, not to the one answered after it.
    assert open_screening(bot).current_state == "advanced_refractory"
    assert bot.store.get_screening(sid).answer_count == count
    assert "(kept)" in bot.request.of("editMessageText")[-1].params["text"]


async def test_typed_question_after_back_offers_keep(bot: Bot, eligible: dict[str, str]) -> None:
    chat = await start_screening(bot)
    await chat.send("today")
    await chat.send("/back")
    assert "Current answer: 02/06/2025" in chat.last_text
    assert chat.buttons == ["Keep: 02/06/2025"]


async def test_unknown_command(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("/unknown")  # planned start is required
    assert "required" in chat.last_text
    await chat.send("today")
    await chat.press("Sarcoma")
    await chat.send("/unknown")  # histology_confirmed is not required
    sid = open_screening(bot).id
    assert bot.store.current_answers(sid)["histology_confirmed"].value_json == {"unknown": True}


# -- access ------------------------------------------------------------------------------------


async def test_unauthorised_user_is_refused_with_their_id(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = bot.chat(STRANGER)
    with caplog.at_level(logging.WARNING):
        await stranger.send("/new")
        await stranger.send("P-0009")
    assert str(STRANGER) in stranger.last_text and "not authorised" in stranger.last_text
    assert bot.store.list_screenings() == []
    assert any(str(STRANGER) in r.getMessage() for r in caplog.records)


async def test_inactive_user_is_refused(bot: Bot) -> None:
    bot.store.set_active(OTHER_INVESTIGATOR, False, actor="test")
    chat = bot.chat(OTHER_INVESTIGATOR, language_code="fr")
    await chat.send("/new P-0003")
    assert "accès à ce bot a été retiré" in chat.last_text, chat.last_text
    assert str(OTHER_INVESTIGATOR) in chat.last_text
    assert bot.store.list_screenings() == []


async def test_pseudonym_rules_and_duplicate_codes(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/new")
    await chat.send("12/03/1970")
    assert "Only letters" in chat.last_text or "date" in chat.last_text
    await chat.send("12-03-1970")
    assert "birth date" in chat.last_text
    await chat.send("DUPONT")
    assert "digit" in chat.last_text
    await chat.send("P-0001")
    assert "started" in chat.texts[-2]
    await chat.send("/new P-0001")
    assert "/resume P-0001" in chat.last_text
    other = bot.chat(OTHER_INVESTIGATOR)
    await other.send("/new P-0001")
    assert "another investigator" in other.last_text
    assert len(bot.store.list_screenings()) == 1


# -- buttons: forged, stale, double tap; duplicate updates --------------------------------------


async def test_forged_callbacks_change_nothing(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("today")
    s = open_screening(bot)
    other = bot.chat(OTHER_INVESTIGATOR)
    await other.press_data(f"a|{s.id}|cohort|sarcoma", chat.sent[-1])
    assert other.notices[-1] is not None and "not valid" in str(other.notices[-1])
    await other.press_data("garbage", chat.sent[-1])
    await other.press_data(f"a|{s.id + 1000}|cohort|sarcoma", chat.sent[-1])
    assert all("not valid" in str(n) for n in other.notices[-2:])
    stranger = bot.chat(STRANGER)
    await stranger.press_data(f"a|{s.id}|cohort|sarcoma", chat.sent[-1])
    assert str(STRANGER) in str(stranger.notices[-1])
    after = bot.store.get_screening(s.id)
    assert (after.answer_count, after.current_state) == (s.answer_count, "cohort")
    assert not bot.request.of("editMessageText")


async def test_stale_button_and_double_tap_record_one_answer(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("today")
    question = chat.sent[-1]
    await chat.press("Sarcoma")
    await chat.press_data(
        question["reply_markup"]["inline_keyboard"][0][0]["callback_data"], question
    )
    assert "already answered" in str(chat.notices[-1])
    sid = open_screening(bot).id
    assert len(bot.store.answer_history(sid, "cohort")) == 1
    # A stale value for another question (old message of an earlier screening state).
    await chat.press_data(f"a|{sid}|cohort|ovarian", question)
    assert bot.store.current_answers(sid)["cohort"].value_json == "sarcoma"


async def test_a_press_makes_its_bot_api_calls_together(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three calls, one round trip: each call here waits as on a slow mobile network."""
    chat = await start_screening(bot)
    await chat.send("today")
    in_flight = 0
    most = 0
    real = bot.request.do_request

    async def over_the_network(*args: Any, **kwargs: Any) -> tuple[int, bytes]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.01)
            return await real(*args, **kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(bot.request, "do_request", over_the_network)
    before = len(bot.request.calls)
    await chat.press("Sarcoma")
    methods = sorted(c.method for c in bot.request.calls[before:])
    assert methods == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert most == 3
    assert chat.texts[-2].endswith("→ Sarcoma") and "Q 3/" in chat.last_text


async def test_a_press_that_waited_out_a_restart_is_still_recorded(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram refuses to answer a callback query older than ~15 s; nothing else is lost."""
    chat = await start_screening(bot)
    await chat.send("today")
    too_old = json.dumps(
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: query is too old and response timeout expired",
        }
    ).encode()

    def scripted(endpoint: str) -> tuple[int, bytes] | None:
        return (400, too_old) if endpoint == "answerCallbackQuery" else None

    monkeypatch.setattr(bot.request, "scripted", scripted)
    await chat.press("Sarcoma")
    assert bot.store.current_answers(open_screening(bot).id)["cohort"].value_json == "sarcoma"
    assert "Q 3/" in chat.last_text
    assert not any("went wrong" in text for text in chat.texts)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # not a failure


async def test_redelivered_update_sends_the_current_prompt_again(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("today")
    sid = open_screening(bot).id
    prompt, buttons, events = chat.last_text, chat.buttons, len(bot.store.events(sid))
    read_back, question = prompt.split("\n", 1)
    assert read_back == "→ 02/06/2025"  # "today", as the date it was recorded as

    await chat.replay()  # the reply to "today" never reached Telegram: it comes again

    assert chat.last_text == question and chat.buttons == buttons
    assert bot.store.get_screening(sid).answer_count == 1
    assert len(bot.store.events(sid)) == events
    await chat.press("Sarcoma")
    prompt = chat.last_text
    await chat.replay()  # names the question it answered, yet is not refused as stale
    assert chat.last_text == prompt and chat.notices[-1] is None
    assert bot.store.get_screening(sid).answer_count == 2
    await chat.send("/back")
    await chat.replay()
    assert open_screening(bot).current_state == "cohort"
    assert chat.last_text == chat.texts[-2] and "Current answer: Sarcoma" in chat.last_text


async def test_redelivered_answer_during_stop_offer_shows_the_offer(bot: Bot) -> None:
    chat = await _fail_early(bot)
    sid = open_screening(bot).id
    sent = len(chat.sent)
    await chat.replay()
    assert len(chat.sent) == sent + 1
    assert chat.buttons == ["End screening", "Document remaining criteria"]
    assert len(bot.store.events(sid, "stop_offered")) == 1


async def test_redelivered_last_answer_sends_the_verdict_again(bot: Bot) -> None:
    chat = await _fail_early(bot)
    await chat.press("End screening")
    verdict = chat.last_text
    await chat.replay()
    assert chat.last_text == verdict and "verdict: NOT ELIGIBLE" in verdict
    assert chat.notices[-1] is None  # not "closed": the press was the one that closed it


async def test_duplicate_new_update_creates_one_screening(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/new P-0007")
    first_question, sent = chat.last_text, len(chat.sent)
    await chat.replay()
    assert len(bot.store.list_screenings()) == 1
    assert len(chat.sent) == sent + 1
    assert chat.last_text == first_question and progress(chat.last_text)[0] == 1


# -- restart and resume ------------------------------------------------------------------------


async def test_restart_mid_screening_then_resume(make_bot: Any, eligible: dict[str, str]) -> None:
    first: Bot = await make_bot()
    chat = await start_screening(first)
    for value in ("today",):
        await chat.send(value)
    await chat.press("Sarcoma")
    await chat.press("Yes")
    await first.stop()

    second: Bot = await make_bot()
    chat = second.chat()
    await chat.send("/resume P-0001")
    assert "Continuing screening P-0001" in chat.texts[-2]
    assert open_screening(second).current_state == "advanced_refractory"
    assert chat.buttons[:2] == ["Yes", "No"]
    await answer_until_done(second, chat, eligible)
    assert "verdict: ELIGIBLE" in chat.last_text
    # the first bot's services were closed by stop(); keep the fixture from closing twice
    first.services.close = lambda: None  # type: ignore[method-assign]
    first.app = second.app


async def test_restart_between_stop_offer_and_choice(make_bot: Any) -> None:
    first: Bot = await make_bot()
    chat = await _fail_early(first)
    offer = chat.sent[-1]
    await first.stop()

    second: Bot = await make_bot()
    chat = second.chat()
    await chat.send("no")  # typed while the choice is pending, to another process
    assert "choose first" in chat.last_text
    await chat.send("/status")
    assert chat.buttons == ["End screening", "Document remaining criteria"]
    await chat.press_data(offer["reply_markup"]["inline_keyboard"][0][0]["callback_data"], offer)
    assert "verdict: NOT ELIGIBLE" in chat.last_text
    first.services.close = lambda: None  # type: ignore[method-assign]
    first.app = second.app


async def test_restart_between_new_and_the_typed_code(make_bot: Any) -> None:
    first: Bot = await make_bot()
    await first.chat().send("/new")
    await first.stop()

    second: Bot = await make_bot()
    chat = second.chat()
    await chat.send("P-0009")  # typed, not a reply: the prompt is kept in the database
    assert "Screening P-0009 started" in chat.texts[-2]
    assert second.store.get_user(INVESTIGATOR).awaiting_code_since is None
    await chat.send("P-0010")  # the prompt was answered: this is no second patient
    assert len(second.store.list_screenings()) == 1
    first.services.close = lambda: None  # type: ignore[method-assign]
    first.app = second.app


async def test_list_status_summary_and_resume_choice(bot: Bot) -> None:
    chat = await start_screening(bot, "P-0001")
    await chat.send("today")
    await chat.send("/new P-0002")
    await chat.send("/list")
    assert "P-0001" in chat.last_text and "P-0002" in chat.last_text
    assert "question(s) left" in chat.last_text
    await chat.send("/resume")
    assert set(chat.buttons) == {"▶ P-0001", "▶ P-0002"}
    await chat.press("▶ P-0001")
    assert open_screening(bot).patient_code == "P-0001"
    await chat.send("/status")
    assert "Screening P-0001" in chat.texts[-2] and "Q 2/" in chat.texts[-2]
    await chat.send("/summary")
    summary = "\n".join(chat.texts[-3:-1])  # 37 criteria: over 4096 characters, so split
    assert chat.last_text.startswith("Q 2/")  # then the question again, under it
    assert "verdict so far" in summary and "I01" in summary


async def test_cancel_abandons_after_confirmation(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("/cancel")
    await chat.press("Keep it")
    assert open_screening(bot) is not None
    await chat.send("/cancel")
    await chat.press("Abandon P-0001")
    assert bot.store.find_open_screening(INVESTIGATOR) is None
    assert bot.store.list_screenings()[0].status == "abandoned"
    await chat.send("/list")
    assert chat.last_text.startswith("No screening to list: your 1 screening(s) were abandoned.")


async def test_moving_the_start_before_a_recorded_date_asks_that_date_again(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await start_screening(bot)
    engine = bot.services.registry.latest()
    while open_screening(bot).current_state != "last_radiotherapy_date":
        qid = open_screening(bot).current_state
        if engine.question(qid).type in (AnswerType.yesno, AnswerType.choice):
            await chat.press_value(qid, eligible[qid])
        else:
            await chat.send(eligible[qid])
    while open_screening(bot).current_state != "planned_start_date":
        await chat.send("/back")
    systemic = dt.date.fromisoformat(eligible["last_systemic_therapy_date"])
    earlier = (systemic - dt.timedelta(days=1)).strftime("%d/%m/%Y")
    await chat.send(earlier)
    assert f"⚠️ The new planned start date ({earlier}) makes these answers invalid" in (
        chat.last_text
    )
    assert "Date of the last systemic anti-cancer treatment?" in chat.last_text
    assert open_screening(bot).current_state == "last_systemic_therapy_date"
    assert "Current answer" in chat.last_text  # shown, but not to keep:
    assert chat.buttons == ["Change the planned start date"]  # (the start is past here)


async def test_a_patient_code_is_one_code_whatever_its_case(bot: Bot) -> None:
    chat = await start_screening(bot, "nav-03")
    assert "Screening NAV-03 started" in chat.texts[-2]
    await chat.send("/new Nav-03")
    assert "Patient NAV-03 already has a screening in progress" in chat.last_text
    await chat.send("/resume nav-03")
    assert "Continuing screening NAV-03." in chat.texts[-2]
    assert len(bot.store.list_screenings()) == 1


async def test_summary_shows_what_to_review_as_the_verdict_does(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await start_screening(bot)
    await answer_until_done(bot, chat, {**eligible, "cns_metastases": "asymptomatic_untreated"})
    verdict = chat.last_text
    await chat.send("/summary")
    for text in (verdict, chat.last_text):
        review = text.split("To review:", 1)[1]
        assert "N09" in review


async def test_cancel_keep_shows_the_question_again_once(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("/cancel")
    await chat.press("Keep it")
    assert chat.last_text.startswith("Q 1/")
    assert sum("stays open" in text for text in chat.texts) == 1  # the edited confirmation


async def test_language_switch_shows_the_current_question_in_the_new_language(bot: Bot) -> None:
    chat = await start_screening(bot)
    await chat.send("today")
    await chat.send("/lang fr")
    assert chat.texts[-2] == "Langue : français."
    assert chat.last_text.startswith("Q 2/") and "Cohorte" in chat.last_text


async def test_looking_around_keeps_the_patient_code_question(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/new")
    await chat.send("/unknown")
    assert "cannot be unknown" in chat.texts[-2]
    assert chat.last_text.startswith("Patient code?")
    await chat.send("/status")
    assert "No screening in progress" in chat.texts[-2]
    assert chat.last_text.startswith("Patient code?")
    await chat.send("/back")  # nothing to go back to: still the code
    assert chat.last_text.startswith("Patient code?")
    await chat.send("/resume")
    assert chat.last_text.startswith("Patient code?")
    await chat.send("P-0003")
    assert "Screening P-0003 started" in chat.texts[-2]


async def test_an_incomplete_screening_is_resumed_when_the_labs_come_back(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await start_screening(bot, "P-0042")
    await answer_until_done(bot, chat, {**eligible, "ffpe_available": "?"})
    assert "verdict: INCOMPLETE" in chat.last_text
    await chat.send("/list")
    assert "(/resume P-0042)" in chat.last_text
    await chat.send("/resume P-0042")
    assert "reopened to document what was unknown" in chat.texts[-2]
    assert "FFPE" in chat.last_text
    await answer_until_done(bot, chat, eligible)
    assert "verdict: ELIGIBLE" in chat.last_text
    (s,) = bot.store.list_screenings(INVESTIGATOR)
    assert s.verdict == "eligible"
    assert [e.kind for e in bot.store.events(s.id, "reopened")] == ["reopened"]


async def test_an_incomplete_screening_is_not_reopened_beside_a_new_one(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await start_screening(bot, "P-0044")
    await answer_until_done(bot, chat, {**eligible, "ffpe_available": "?"})
    other = bot.chat(OTHER_INVESTIGATOR)
    await other.send("/new P-0044")  # the patient is screened again meanwhile
    await chat.send("/resume P-0044")
    assert "Patient P-0044 has another screening in progress" in chat.last_text
    assert [s.status for s in bot.store.list_screenings(INVESTIGATOR)] == ["completed"]


async def test_an_investigator_cannot_reopen_a_decided_verdict(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await start_screening(bot, "P-0043")
    await answer_until_done(bot, chat, eligible)
    await chat.send("/resume P-0043")
    assert "Only your coordinator can reopen it" in chat.last_text
    assert bot.store.find_open_screening(INVESTIGATOR) is None


# -- stop at first fail ------------------------------------------------------------------------


async def _fail_early(bot: Bot) -> Any:
    chat = await start_screening(bot)
    await chat.send("today")
    await chat.press("Sarcoma")
    await chat.press("Yes")
    await chat.press("Yes")
    await chat.press("Yes")  # prior anti-PD-1: not eligible
    return chat


async def test_stop_at_first_fail_then_end(bot: Bot) -> None:
    chat = await _fail_early(bot)
    assert "❌ Criterion" in chat.last_text
    assert chat.buttons == ["End screening", "Document remaining criteria"]
    await chat.send("no")  # typed while the choice is pending: asked to choose first
    assert "choose first" in chat.last_text
    await chat.press("End screening")
    assert "verdict: NOT ELIGIBLE" in chat.last_text
    assert "Failed criteria:" in chat.last_text and "not documented" in chat.last_text
    s = bot.store.list_screenings()[0]
    assert (s.status, s.verdict) == ("completed", "not_eligible")


async def test_stop_at_first_fail_then_document_remaining(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await _fail_early(bot)
    await chat.press("Document remaining criteria")
    assert open_screening(bot).current_state == "other_trial_available"
    progress(chat.last_text)
    await answer_until_done(bot, chat, eligible)
    assert "verdict: NOT ELIGIBLE" in chat.last_text
    s = bot.store.list_screenings()[0]
    failed = [c for c, r in s.criteria_json.items() if r["status"] == "fail"]
    assert len(failed) == 1 and failed[0] in chat.last_text


async def test_an_old_stop_offer_is_stale_once_settled(bot: Bot) -> None:
    chat = await _fail_early(bot)
    offer = chat.sent[-1]
    await chat.press("Document remaining criteria")
    await chat.press_data(offer["reply_markup"]["inline_keyboard"][0][0]["callback_data"], offer)
    assert "already answered" in str(chat.notices[-1])
    assert open_screening(bot).status == "in_progress"


async def test_no_stop_offer_when_disabled(make_bot: Any) -> None:
    bot: Bot = await make_bot(stop_at_first_fail=False)
    chat = await _fail_early(bot)
    assert "❌ Criterion" in chat.last_text and chat.last_text.split("\n")[-1] != ""
    assert chat.buttons[:2] == ["Yes", "No"]


async def test_notices_show_computed_values(bot: Bot, eligible: dict[str, str]) -> None:
    chat = await start_screening(bot)
    record = {**eligible, "steroid_drug": "dexamethasone", "steroid_dose_mg": "1.5"}
    stop_at = "steroid_dose_mg"
    for _ in range(60):
        s = open_screening(bot)
        if s.current_state == stop_at:
            break
        await answer_until_done_one(bot, chat, record, s.current_state)
    await chat.send("1.5")
    assert "Computed" in chat.last_text


async def answer_until_done_one(bot: Bot, chat: Any, record: dict[str, str], qid: str) -> None:
    from dialogs.protocol import AnswerType

    if bot.services.registry.latest().question(qid).type in (AnswerType.yesno, AnswerType.choice):
        await chat.press_value(qid, record[qid])
    else:
        await chat.send(record[qid])


# -- robustness ----------------------------------------------------------------------------------


async def test_errors_get_an_apology_and_a_logged_screening_id(
    bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = await start_screening(bot)
    sid = open_screening(bot).id
    engine = bot.services.registry.latest()

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(engine, "answer", boom)
    with caplog.at_level(logging.ERROR):
        await chat.send("today")
    assert "Sorry, something went wrong" in chat.last_text
    record = next(r for r in caplog.records if "failed" in r.getMessage())
    assert f"screening {sid}" in record.getMessage() and record.exc_info is not None
    assert bot.store.get_screening(sid).answer_count == 0


async def test_long_messages_are_split(bot: Bot) -> None:
    from types import SimpleNamespace

    from bot.handlers import send_reply
    from bot.keyboards import Button
    from bot.screening_flow import Reply

    text = "\n".join(f"line {i} " + "x" * 90 for i in range(120))  # ~12,000 characters
    reply = Reply(text, ((Button("OK", "l|en"),),))
    await send_reply(SimpleNamespace(bot=bot.app.bot), 77, reply, "en")  # type: ignore[arg-type]
    calls = bot.request.of("sendMessage")
    assert len(calls) == 3 and all(len(c.params["text"]) <= 4096 for c in calls)
    assert "\n".join(c.params["text"] for c in calls) == text
    assert [("reply_markup" in c.params) for c in calls] == [False, False, True]


async def test_menu_commands_in_english_and_french(bot: Bot) -> None:
    await register_commands(bot.app)
    calls = bot.request.of("setMyCommands")
    assert len(calls) == 2
    assert "language_code" not in calls[0].params
    assert calls[1].params["language_code"] == "fr"
    names = [c["command"] for c in calls[1].params["commands"]]
    assert {
        "new",
        "resume",
        "list",
        "back",
        "unknown",
        "status",
        "summary",
        "cancel",
        "lang",
        "help",
    } <= set(names)


async def test_language_switch(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/lang")
    await chat.press("Français")
    assert chat.last_text == "Langue : français."
    await chat.send("/new P-0001")
    assert "commencé" in chat.texts[-2]
    assert bot.store.get_user(INVESTIGATOR).language == "fr"


async def test_edited_messages_are_not_answers(bot: Bot) -> None:
    from telegram import Update

    chat = await start_screening(bot)
    sid = open_screening(bot).id
    edited = {
        "update_id": 987654,
        "edited_message": {
            "message_id": 1,
            "date": 0,
            "edit_date": 1,
            "chat": {"id": INVESTIGATOR, "type": "private"},
            "from": chat.user,
            "text": "today",
        },
    }
    await bot.app.process_update(Update.de_json(edited, bot.app.bot))
    assert bot.store.get_screening(sid).answer_count == 0


def test_token_stays_out_of_logs(bot: Bot) -> None:
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert bot.app.bot.base_url.startswith("https://api.telegram.org/bot")


async def test_local_bot_api_server(make_bot: Any) -> None:
    local: Bot = await make_bot(telegram_api_base_url="http://localhost:8081/")
    assert local.app.bot.base_url == "http://localhost:8081/bot123456:TEST-TOKEN"


def test_ago_helper() -> None:
    assert ago(0) == "02/06/2025"
