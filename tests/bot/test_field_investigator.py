"""Field QA of the investigator conversation (issue 4): what a clinician types on a phone.

Each test reads as a transcript: a French- or English-speaking investigator answers, and
the bot's reply is checked.  Each test failed on the code before its fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.app import build_services
from bot.chat import LOCAL_USER_ID, ChatSession, ensure_local_user
from bot.settings import Settings
from dialogs.protocol import AnswerType
from tests.bot.conftest import INVESTIGATOR, TODAY, Bot
from tests.bot.transcript import TelegramChat


async def screening_at(
    bot: Bot, question: str, record: dict[str, str], lang: str = "fr", code: str = "P-0001"
) -> TelegramChat:
    """A new screening answered from ``record`` up to ``question`` (buttons for choices)."""
    chat = bot.chat(language_code=lang)
    await chat.send(f"/new {code}")
    engine = bot.services.registry.latest()
    for _ in range(80):
        qid = current(bot)
        if qid == question:
            return chat
        if engine.question(qid).type in (AnswerType.yesno, AnswerType.choice):
            await chat.press_value(qid, record[qid])
        else:
            await chat.send(record[qid])
    raise AssertionError(f"{question} never asked")


async def at_histology(bot: Bot) -> TelegramChat:
    """A French investigator's P-0001, sarcoma, at "histology confirmed?" (Oui/Non)."""
    chat = bot.chat(language_code="fr")
    await chat.send("/new P-0001")
    await chat.send("aujourd'hui")
    await chat.press("Sarcome")
    return chat


async def at_the_stop_offer(bot: Bot) -> TelegramChat:
    """A French investigator whose third yes (prior anti-PD-1) fails N01: the offer waits."""
    chat = await at_histology(bot)
    for _ in range(3):
        await chat.press("Oui")
    return chat


async def back_to(bot: Bot, chat: TelegramChat, question: str) -> None:
    """/back until ``question`` is asked (as an investigator on a phone would)."""
    for _ in range(80):
        if current(bot) == question:
            return
        await chat.send("/back")
    raise AssertionError(f"{question} never reached by /back")


def current(bot: Bot) -> str:
    s = bot.store.find_open_screening(INVESTIGATOR)
    assert s is not None
    return str(s.current_state)


def answer(bot: Bot, question: str) -> Any:
    s = bot.store.find_open_screening(INVESTIGATOR)
    assert s is not None and s.id is not None
    return bot.store.current_answers(s.id)[question].value_json


# -- typed values -----------------------------------------------------------------------------


async def test_neutrophils_in_french_lab_notation_are_accepted(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """A French lab report writes '1,5.10^9/L' (a point for 'times'); it was refused
    with « Je ne connais pas l'unité « ^9/l » », quoting a piece of the number."""
    chat = await screening_at(bot, "anc", eligible)
    await chat.send("1,5.10^9/L")
    assert current(bot) == "platelets", chat.last_text
    assert "ℹ" not in chat.last_text
    assert chat.last_text.startswith("→ 1,5 ×10⁹/L\nQ ")  # read back as recorded
    await chat.send("150·10⁹/L")
    assert current(bot) == "hemoglobin", chat.last_text
    assert answer(bot, "anc")["quantity"] == 1.5
    assert answer(bot, "platelets")["quantity"] == 150


async def test_a_refused_word_at_a_yes_no_question_comes_with_its_buttons(bot: Bot) -> None:
    """« Merci de répondre oui ou non » came without buttons: they were only under the
    question, scrolled up on a phone."""
    chat = await at_histology(bot)
    await chat.send("peut-être")
    assert chat.last_text.startswith("Merci de répondre oui ou non"), chat.last_text
    await chat.press("Oui")
    assert current(bot) != "histology_confirmed"


async def test_a_typed_answer_is_read_back_when_recorded_otherwise_than_typed(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """« NA » at the live vaccine date was recorded as unknown without a word (meant
    « none »?), and « il y a 2 semaines » as a date never shown."""
    chat = await screening_at(bot, "age", eligible)
    await chat.send("54")
    assert chat.last_text.startswith("Q "), chat.last_text  # as typed: nothing to read back
    chat = await screening_at(bot, "last_live_vaccine_date", eligible, code="P-0002")
    await chat.send("NA")
    assert chat.last_text.startswith("→ inconnu\n"), chat.last_text
    await chat.send("/back")
    await chat.send("il y a 2 semaines")
    assert chat.last_text.startswith("→ 19/05/2025\n"), chat.last_text


async def test_a_daily_dose_typed_per_day_is_read(make_bot: Any, eligible: dict[str, str]) -> None:
    """'10 mg/j' (the help itself says « 10 mg/jour ») was answered « nombre strictement
    supérieur à 0 et inférieur ou égal à 2000 »: as if 10 were out of range; then « Je ne
    connais pas l'unité « mg/j » », at a question asking for a daily dose."""
    bot: Bot = await make_bot(stop_at_first_fail=False)
    record = {**eligible, "steroid_drug": "prednisone"}
    chat = await screening_at(bot, "steroid_dose_mg", record)
    await chat.send("10 mg/semaine")  # another period: refused, saying which units
    assert current(bot) == "steroid_dose_mg"
    assert chat.last_text.startswith("Je ne connais pas l'unité « mg/semaine »"), chat.last_text
    await chat.send("10 mg/j")
    assert current(bot) != "steroid_dose_mg"
    assert chat.last_text.startswith("→ 10 mg\n"), chat.last_text  # read back with its unit
    assert "10 mg/jour = 10 mg/jour en équivalent prednisone" in chat.last_text


async def test_je_sais_pas_is_unknown(bot: Bot, eligible: dict[str, str]) -> None:
    chat = await screening_at(bot, "age", eligible)
    await chat.send("je sais pas")
    assert current(bot) == "sex", chat.last_text
    assert answer(bot, "age") == {"unknown": True}


async def test_54_ans_and_grade_2_and_a_phone_s_full_stop_are_read(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """« 54 ans », « grade 1 », « 1500 cellules/µL », « 20/11/2026. »: what a French
    clinician writes was refused with « Merci de saisir un nombre entier entre 0 et 120. »"""
    chat = await screening_at(bot, "age", eligible)
    await chat.send("54 ans")
    assert current(bot) == "sex", chat.last_text
    assert answer(bot, "age") == 54
    chat = await screening_at(bot, "toxicity_grade", eligible, code="P-0002")
    await chat.send("Grade 1.")
    assert current(bot) != "toxicity_grade", chat.last_text
    assert answer(bot, "toxicity_grade") == 1
    chat = await screening_at(bot, "anc", eligible, code="P-0003")
    await chat.send("1500 cellules/µL")
    assert current(bot) != "anc", chat.last_text


async def test_a_number_typed_at_a_choice_is_not_the_nth_button(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """« 5 » (meant as 5 mg) at « Corticothérapie systémique en cours ? » recorded
    dexamethasone, the fifth button, unseen: Telegram's buttons carry no numbers."""
    chat = await screening_at(bot, "steroid_drug", eligible)
    await chat.send("5")
    assert current(bot) == "steroid_drug"
    assert chat.last_text == (
        "Les boutons ne sont pas numérotés : appuyez sur l'un d'eux, ou tapez son nom (ex. Aucune)."
    )
    # Under the refusal, the question's buttons: the question has scrolled up.
    assert "Dexaméthasone" in chat.buttons and "Inconnu" in chat.buttons, chat.buttons
    await chat.send("dexaméthasone")  # typed by name: read back before the next question
    assert current(bot) == "steroid_dose_mg"
    assert chat.last_text.startswith("→ Dexaméthasone\n"), chat.last_text


async def test_a_washout_a_day_short_offers_to_move_the_start_in_one_tap(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """I07 failing « serait respecté pour un début prévu le … » offered only « Terminer »
    or « Documenter »: moving the start date took 26 /back."""
    # The start is 2025-06-03: a last treatment on 2025-05-14 is 20 days before it.
    record = {**eligible, "last_systemic_therapy_date": "14/05/2025"}
    chat = await screening_at(bot, "last_systemic_therapy_date", record)
    await chat.send(record["last_systemic_therapy_date"])
    assert "serait respecté pour un début prévu le 04/06/2025" in chat.last_text
    assert "Modifier la date de début prévue" in chat.buttons, chat.buttons
    await chat.press("Modifier la date de début prévue")
    assert current(bot) == "planned_start_date"
    await chat.send("04/06/2025")
    # Back where it was, the washout now met: no failure, no offer.
    assert current(bot) == "toxicity_grade", chat.last_text
    assert "❌" not in chat.last_text


async def test_the_offer_shown_again_keeps_its_start_date_button(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """Text typed at the I07 offer showed it again with « Terminer » and « Documenter »
    only: the start date button, the fix for a washout a day short, was gone."""
    record = {**eligible, "last_systemic_therapy_date": "14/05/2025"}
    chat = await screening_at(bot, "last_systemic_therapy_date", record)
    await chat.send(record["last_systemic_therapy_date"])
    await chat.send("1")  # meant for the next question: not an answer to the offer
    assert "Modifier la date de début prévue" in chat.buttons, chat.buttons
    await chat.send("/status")
    assert "Modifier la date de début prévue" in chat.buttons, chat.buttons
    await chat.press("Modifier la date de début prévue")
    assert current(bot) == "planned_start_date"


async def test_status_offers_to_change_the_planned_start_date(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """The start moved while labs were awaited: /back about 35 times was the only way
    to the start date question."""
    chat = await screening_at(bot, "ecog", eligible)
    await chat.send("/status")
    status = chat.sent[-2]  # then the question, typed: no buttons of its own
    assert status["text"].startswith("Screening P-0001 :"), status["text"]
    (button,) = (b for row in status["reply_markup"]["inline_keyboard"] for b in row)
    assert button["text"] == "Modifier la date de début prévue"
    await chat.press_data(button["callback_data"], status)
    assert current(bot) == "planned_start_date"
    await chat.send("10/06/2025")
    assert current(bot) == "ecog", chat.last_text  # back where it was


async def test_a_corrected_washout_date_still_short_is_said_again(
    make_bot: Any, eligible: dict[str, str]
) -> None:
    """Corrected after /back to another date still too recent, the failure passed
    without a word: no ❌, no new earliest start."""
    bot: Bot = await make_bot(stop_at_first_fail=False)
    record = {**eligible, "last_systemic_therapy_date": "14/05/2025"}
    chat = await screening_at(bot, "last_systemic_therapy_date", record)
    await chat.send("14/05/2025")
    assert "serait respecté pour un début prévu le 04/06/2025" in chat.last_text
    await chat.send("/back")
    assert current(bot) == "last_systemic_therapy_date"
    await chat.send("15/05/2025")
    assert "❌ Critère I07" in chat.last_text, chat.last_text
    assert "serait respecté pour un début prévu le 05/06/2025" in chat.last_text


async def test_patient_a_s_old_start_date_button_says_it_is_a_s(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """Pressed while B was current, A's « Modifier la date de début prévue » asked for a
    start date without naming A, and the date typed next went to A."""
    record = {**eligible, "last_systemic_therapy_date": "14/05/2025"}
    chat = await screening_at(bot, "last_systemic_therapy_date", record, code="A-0001")
    await chat.send(record["last_systemic_therapy_date"])
    offer = chat.sent[-1]
    await chat.send("/new B-0002")
    await chat.send("aujourd'hui")
    [data] = [
        b["callback_data"]
        for row in offer["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "Modifier la date de début prévue"
    ]
    await chat.press_data(data, offer)
    assert chat.last_text.startswith("Reprise du screening A-0001.\n"), chat.last_text


async def test_a_later_start_says_the_labs_are_now_too_old(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """Moving the start 9 days later went straight back to the question it left, with no
    word that the labs (27/05) and the pregnancy test were now too old for it; then it
    said so, but went on asking values measured on the old lab date."""
    chat = await screening_at(bot, "calcium_normal", eligible)
    await back_to(bot, chat, "planned_start_date")
    await chat.send("12/06/2025")
    assert "⚠️ I09, I10, I11, I12 : bilan biologique de plus de 14 jours" in chat.last_text
    assert "⚠️ I16 : test de grossesse de plus de 3 jours" in chat.last_text
    # The dates behind them are asked again at once, each with Keep; the test's result
    # first (a new test has a result of its own).
    assert current(bot) == "pregnancy_test_negative", chat.last_text
    await chat.press("Garder : oui")
    assert current(bot) == "pregnancy_test_date", chat.last_text
    await chat.press("Garder : 01/06/2025")  # no new test yet: I16 stays unknown
    assert current(bot) == "lab_date", chat.last_text
    await chat.send("02/06/2025")  # new labs today: their values are asked again
    assert current(bot) == "anc", chat.last_text


async def test_a_later_start_while_typing_the_labs_asks_the_lab_date_again(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """At the haemoglobin (ANC and platelets typed), a start moved 9 days later warned
    only of the pregnancy test: the labs, now too old, were left to finish and found
    stale in the verdict."""
    chat = await screening_at(bot, "hemoglobin", eligible)
    await chat.send("/status")
    status = chat.sent[-2]
    (button,) = (b for row in status["reply_markup"]["inline_keyboard"] for b in row)
    await chat.press_data(button["callback_data"], status)
    await chat.send("12/06/2025")
    assert "⚠️ I09, I10, I11, I12 : bilan biologique de plus de 14 jours" in chat.last_text
    await chat.press("Garder : oui")  # the pregnancy test's result, then its date
    await chat.press("Garder : 01/06/2025")
    assert current(bot) == "lab_date", chat.last_text
    await chat.send("02/06/2025")  # new labs: the values typed on the old ones again
    assert current(bot) == "anc", chat.last_text


async def test_a_lab_date_already_too_old_for_the_start_is_a_warning(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """Labs 15 days before the start got « ℹ️ Calculé : … (14 au plus) » and then twelve
    lab questions whose values could not count."""
    chat = await screening_at(bot, "lab_date", eligible)
    await chat.send("19/05/2025")  # the start is 03/06/2025: 15 days
    assert "⚠️ I09, I10, I11, I12" in chat.last_text, chat.last_text
    assert "bilan biologique de plus de 14 jours" in chat.last_text
    assert current(bot) == "anc"


async def test_a_lab_date_within_the_window_warns_nothing(
    bot: Bot, eligible: dict[str, str]
) -> None:
    chat = await screening_at(bot, "lab_date", eligible)
    await chat.send("20/05/2025")  # 14 days: still valid
    assert "⚠️" not in chat.last_text, chat.last_text


async def test_an_earlier_start_warns_once_about_the_answers_it_voids(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """Moved earlier, the start voids the pregnancy test (dated after it): the bot asks it
    again with its own warning, and also said « ⚠️ I16 : … pas encore renseigné »."""
    chat = await screening_at(bot, "calcium_normal", eligible)
    await back_to(bot, chat, "planned_start_date")
    await chat.send("31/05/2025")
    assert current(bot) == "pregnancy_test_date", chat.last_text
    assert "pas encore renseigné" not in chat.last_text, chat.last_text
    assert "⚠️ I16" not in chat.last_text


async def test_the_earliest_start_says_the_labs_would_then_be_too_old(
    make_bot: Any, eligible: dict[str, str]
) -> None:
    """The earliest start (after a washout) was given alone, though on that date the labs
    (27/05) are too old: re-screened then, the patient would be « INCOMPLET »."""
    bot: Bot = await make_bot(stop_at_first_fail=False)
    record = {**eligible, "last_systemic_therapy_date": "24/05/2025"}  # 10 days
    chat = await screening_at(bot, "magnesium_normal", record)
    await chat.press_value("magnesium_normal", record["magnesium_normal"])  # the last one
    verdict = chat.last_text
    assert "Date de début la plus précoce possible : 14/06/2025" in verdict, verdict
    assert (
        "  À cette date, aussi : I09, I10, I11, I12 : bilan biologique de plus de 14 jours"
        in verdict
    ), verdict
    assert "I16 : test de grossesse de plus de 3 jours" in verdict


async def test_date_hints_name_the_special_words_as_the_help_does(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """« …, ou aucun, en cours » read as one word list; the radiotherapy (feminine in
    French) was offered « aucun » right under a help saying « aucune »."""
    chat = await screening_at(bot, "last_radiotherapy_date", eligible)
    assert "Une date, ou « aucune »." in chat.last_text
    assert "JJ/MM/AAAA ou AAAA-MM-JJ, ou aucune. (ou « inconnu »" in chat.last_text
    await chat.send("aucune")
    assert "JJ/MM/AAAA ou AAAA-MM-JJ, aucun, ou en cours. (ou « inconnu »" in chat.last_text
    await chat.send("/lang en")
    assert "DD/MM/YYYY or YYYY-MM-DD, none, or ongoing. (/unknown" in chat.last_text


# -- buttons and messages --------------------------------------------------------------------


async def test_an_old_button_is_refused_in_correct_french(bot: Bot) -> None:
    chat = bot.chat(language_code="fr")
    await chat.send("/new P-0001")
    await chat.send("aujourd'hui")
    question = chat.sent[-1]
    await chat.press("Sarcome")
    await chat.press_data(
        question["reply_markup"]["inline_keyboard"][0][1]["callback_data"], question
    )
    assert chat.notices[-1] == "Cette question a déjà reçu une réponse : rien n'a changé."
    assert answer(bot, "cohort") == "sarcoma"


async def test_typing_oui_to_the_abandon_question_records_no_clinical_answer(bot: Bot) -> None:
    chat = await at_histology(bot)
    await chat.send("/cancel")
    assert chat.last_text.startswith("Abandonner le screening P-0001 ?")
    await chat.send("oui")  # meant: yes, abandon
    assert current(bot) == "histology_confirmed"  # not answered 'yes' behind the user's back
    assert chat.last_text.startswith("Rien n'a été enregistré : répondez avec un bouton.")
    assert chat.buttons == ["Abandonner P-0001", "Le garder"]
    await chat.press("Abandonner P-0001")
    assert "Screening P-0001 abandonné." in "\n".join(chat.texts)
    assert bot.store.find_open_screening(INVESTIGATOR) is None


@pytest.mark.parametrize("then", ["keep", "question button", "command"])
async def test_the_abandon_question_is_settled_by_anything_but_a_typed_line(
    bot: Bot, then: str
) -> None:
    chat = await at_histology(bot)
    question = chat.sent[-1]
    await chat.send("/cancel")
    if then == "keep":
        await chat.press("Le garder")
    elif then == "question button":  # the question's own button, still under it
        rows = question["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == "Oui")
        await chat.press_data(data, question)
    else:
        await chat.send("/resume P-0001")  # a command that moves the dialog
    await chat.send("oui")  # now an answer
    # Settled: the typed 'oui' answers the question in front of the investigator.
    expected = "prior_anti_pd1" if then == "question button" else "advanced_refractory"
    assert current(bot) == expected, chat.last_text


@pytest.mark.parametrize("confirm", ["Oui", "Garder : oui"])
async def test_confirming_a_failing_answer_after_back_offers_to_stop_again(
    bot: Bot, confirm: str
) -> None:
    chat = await at_the_stop_offer(bot)  # prior anti-PD-1: N01 fails, the offer comes
    assert chat.buttons == ["Terminer le screening", "Documenter la suite"]
    await chat.send("/back")  # to check the answer
    await chat.press(confirm)  # the same answer again
    assert "❌ Critère N01 en échec (exclut le patient)" in chat.last_text
    assert chat.buttons == ["Terminer le screening", "Documenter la suite"]
    await chat.press("Terminer le screening")
    assert "NON ÉLIGIBLE" in chat.last_text.upper(), chat.last_text


async def test_after_choosing_to_document_a_confirmed_failure_offers_nothing(bot: Bot) -> None:
    chat = await at_the_stop_offer(bot)
    await chat.press("Documenter la suite")
    await chat.send("/back")
    await chat.press("Oui")  # the same answer, confirmed
    assert "Terminer le screening" not in chat.buttons
    assert "❌" not in chat.last_text


# -- the terminal chat ------------------------------------------------------------------------


@pytest.fixture
def terminal(tmp_path: Path) -> Any:
    settings = Settings(_env_file=None, data_dir=tmp_path, telegram_token=None)  # type: ignore[call-arg]
    services = build_services(settings, clock=lambda: TODAY)
    ensure_local_user(services.store, LOCAL_USER_ID, "fr")
    session = ChatSession(services.flow)
    session.start()
    yield services, session
    services.close()


def test_terminal_numbers_still_press_after_a_refused_answer(terminal: Any) -> None:
    """[2] Non was on screen; after a typo, '2' was refused as « oui ou non »."""
    services, session = terminal
    session.feed("/new P-0001")
    session.feed("aujourd'hui")
    session.feed("1")  # Sarcome
    out = session.feed("peut-être")
    assert out == [
        "",
        "Merci de répondre oui ou non (ou « inconnu »).",
        "[1] Oui   [2] Non   [3] Inconnu",  # the buttons again, as on Telegram
    ]
    session.feed("/help")
    out = session.feed("2")
    assert "  → non" in out
    s = services.store.find_open_screening(LOCAL_USER_ID)
    assert services.store.current_answers(s.id)["histology_confirmed"].value_json == "no"


def test_terminal_enter_keeps_after_a_refused_answer_and_is_named_in_french(
    terminal: Any,
) -> None:
    services, session = terminal
    session.feed("/new P-0001")
    session.feed("aujourd'hui")
    out = session.feed("/back")
    assert "[Entrée] Garder : 02/06/2025" in out
    session.feed("31/02/2025")  # not a date
    out = session.feed("")
    assert "  → 02/06/2025 (conservé)" in out
    assert services.store.find_open_screening(LOCAL_USER_ID).current_state == "cohort"


async def test_a_phone_full_stop_after_oui_is_still_oui(bot: Bot, eligible: dict[str, str]) -> None:
    """A double space on a phone keyboard types 'Oui. ': it was refused as not yes/no."""
    chat = await screening_at(bot, "histology_confirmed", eligible)
    await chat.send("Oui.")
    assert current(bot) == "advanced_refractory", chat.last_text
    assert answer(bot, "histology_confirmed") == "yes"


def _photo(chat: TelegramChat, update_id: int, chat_type: str = "private") -> dict[str, Any]:
    photo = {
        "message_id": 99,
        "date": 0,
        "chat": {"id": chat.user_id, "type": chat_type},
        "from": chat.user,
        "photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
    }
    return {"update_id": update_id, "message": photo}


async def test_a_photo_of_the_lab_report_is_told_to_be_typed(bot: Bot) -> None:
    """A photo (of a lab report, say), a voice note or a sticker got no reply at all."""
    chat = await screening_at(bot, "planned_start_date", {})
    sent = len(chat.sent)
    await chat._process(_photo(chat, 777_001))
    assert len(chat.sent) == sent + 2
    assert chat.texts[-2].startswith("Je ne lis que le texte saisi et les boutons")
    assert "Date prévue" in chat.last_text  # the question again, nothing recorded
    assert current(bot) == "planned_start_date"


async def test_a_photo_before_any_screening_says_what_to_do(bot: Bot) -> None:
    chat = bot.chat(language_code="en")
    await chat._process(_photo(chat, 777_002))
    assert chat.last_text.startswith("I can only read typed text and buttons")
    assert "Type an answer, or /help for the commands." in chat.last_text


async def test_a_photo_from_a_stranger_is_refused(bot: Bot) -> None:
    chat = bot.chat(user_id=999_999, language_code="en")
    await chat._process(_photo(chat, 777_003))
    assert "999999" in chat.last_text and "read" not in chat.last_text


async def test_a_photo_in_a_group_gets_no_reply(bot: Bot) -> None:
    chat = bot.chat(language_code="en")
    await chat.send("/new P-0001")
    sent = len(chat.sent)
    await chat._process(_photo(chat, 777_004, chat_type="group"))
    assert len(chat.sent) == sent


async def test_the_apology_is_in_the_language_chosen_with_lang(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = bot.chat(language_code="en")  # an English phone, a French investigator
    await chat.send("/lang fr")
    await chat.send("/new P-0001")

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(bot.services.registry.latest(), "answer", boom)
    await chat.send("aujourd'hui")
    assert chat.last_text.startswith("Désolé, une erreur s'est produite")


async def test_with_the_database_down_the_apology_is_in_the_phones_language(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored /lang cannot be read when the database is what failed: the apology
    still goes out, in the Telegram client's language."""
    chat = bot.chat(language_code="en")
    await chat.send("/lang fr")

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(bot.store, "get_user", down)
    await chat.send("/status")
    assert chat.last_text.startswith("Sorry, something went wrong")


async def test_the_summary_of_a_finished_screening_is_not_provisional(bot: Bot) -> None:
    chat = await at_the_stop_offer(bot)
    await chat.press("Terminer le screening")
    first = len(chat.sent)
    await chat.send("/summary")  # long: split in several messages
    assert chat.texts[first].startswith("Screening P-0001 (terminé) — verdict : NON ÉLIGIBLE")
    await chat.send("/new P-0002")
    await chat.send("aujourd'hui")
    first = len(chat.sent)
    await chat.send("/summary")
    assert chat.texts[first].startswith("Screening P-0002 (en cours) — verdict à ce stade :")


@pytest.mark.parametrize("view", ["/help", "/status", "/summary", "/list"])
async def test_a_look_at_something_else_leaves_the_abandon_question_asked(
    bot: Bot, view: str
) -> None:
    chat = await at_histology(bot)
    await chat.send("/cancel")
    await chat.send(view)
    await chat.send("oui")  # still meant: yes, abandon
    assert current(bot) == "histology_confirmed"
    assert chat.buttons == ["Abandonner P-0001", "Le garder"]


async def test_a_planned_start_in_the_past_is_one_tap_from_being_corrected(bot: Bot) -> None:
    chat = bot.chat(language_code="fr")
    await chat.send("/new P-0001")
    past = TODAY.replace(year=TODAY.year - 1).strftime("%d/%m/%Y")  # a mistyped year
    await chat.send(past)
    assert f"La date de début prévue ({past}) est passée : vérifiez-la" in chat.last_text
    assert chat.buttons[-1] == "Modifier la date de début prévue"
    await chat.press("Modifier la date de début prévue")
    assert current(bot) == "planned_start_date"
    await chat.send("aujourd'hui")
    assert current(bot) == "cohort"
    assert "est passée" not in chat.last_text


async def test_a_new_failure_after_an_offer_left_unanswered_offers_again(bot: Bot) -> None:
    chat = await at_the_stop_offer(bot)  # N01 fails (prior anti-PD-1), the offer waits
    await chat.send("/back")  # to prior anti-PD-1
    await chat.send("/back")  # to "advanced, refractory?"
    await chat.press("Non")  # newly fails I02 while N01 still fails: never chosen for
    assert "❌" in chat.last_text, chat.last_text
    assert chat.buttons == ["Terminer le screening", "Documenter la suite"]


async def test_a_new_failure_after_choosing_to_document_offers_nothing(bot: Bot) -> None:
    chat = await at_the_stop_offer(bot)
    await chat.press("Documenter la suite")
    await chat.send("/back")
    await chat.send("/back")
    await chat.press("Non")
    assert "❌" in chat.last_text  # said, but the choice was made
    assert "Terminer le screening" not in chat.buttons
