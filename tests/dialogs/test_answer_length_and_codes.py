"""Over-long answers, patient codes that read as dates or differ only by case, and how a
'none' answer reads in French, on protocol v1 as typed in chat.

From QA transcripts: a line of 5000 digits crashed the parser ('Exceeds the limit (4300
digits) for integer string conversion'); '12-3-80' was accepted as a patient code; 'NAV-03'
and 'nav-03' opened two screenings of one patient; N07 read "Dernière radiothérapie aucun".
"""

from __future__ import annotations

import datetime as dt

import pytest

from dialogs.answers import (
    AnswerError,
    AnswerParser,
    ParseContext,
    normalise_patient_code,
    reads_as_date,
)
from dialogs.engine import Engine
from dialogs.protocol import parse_protocol
from tests.dialogs.conftest import Say

# -- answers too long to be one ----------------------------------------------------------

ONE_QUESTION_PER_TYPE = [
    "patient_code",  # text
    "planned_start_date",  # date
    "cohort",  # choice
    "consent_signed",  # yes/no
    "age",  # integer
    "steroid_dose_mg",  # number
    "creatinine_uln",  # number with 'x ULN'
    "anc",  # quantity
    "cd4",  # quantity with a default unit
]


@pytest.mark.parametrize("question", ONE_QUESTION_PER_TYPE)
@pytest.mark.parametrize(
    "typed", ["9" * 5000, "1" * 4301, "oui " * 60], ids=["5000-digits", "4301-digits", "words"]
)
def test_an_answer_over_200_characters_is_refused_as_too_long(
    say: Say, question: str, typed: str
) -> None:
    step = say(question, typed)
    assert not step.accepted
    assert step.error == (
        "This answer is too long (more than 200 characters): please type a shorter one."
    )


def test_too_long_in_french(say: Say) -> None:
    step = say("age", "9" * 5000, "fr")
    assert step.error == (
        "Cette réponse est trop longue (plus de 200 caractères) : merci d'en saisir une "
        "plus courte."
    )


@pytest.mark.parametrize(
    ("question", "typed"),
    [
        ("age", "9" * 150),
        ("net_prior_lines", "9" * 40),  # no maximum: still not a count of lines
        ("cohort", "9" * 150),  # a choice by number
        ("cohort", "\U00010a40"),  # a digit to str.isdigit(), not to int()
        ("creatinine_uln", "9" * 199),  # no maximum: would overflow to infinity
        ("anc", "9" * 150 + " G/L"),
    ],
)
def test_long_numbers_under_the_length_limit_are_refused_not_crashing(
    say: Say, question: str, typed: str
) -> None:
    assert not say(question, typed).accepted


# A protocol may let a question take longer answers than 200 characters; number parsing
# must then be safe on its own.
LONG = parse_protocol(
    """
id: long
version: 1
title: {en: Long, fr: Long}
order: [planned_start_date, count, ratio, pick]
units:
  - {id: mm3, kind: cells, canonical: mm3, factor: 1, display: "/mm³", aliases: ["/mm3"]}
questions:
  - {id: planned_start_date, type: date, required: true, not_after_start: false,
     label: {en: Start, fr: Début}}
  - {id: count, type: quantity, units: [mm3], default_unit: mm3, max_length: 10000,
     label: {en: Count, fr: Compte}}
  - {id: ratio, type: number, max_length: 10000, label: {en: Ratio, fr: Ratio}}
  - id: pick
    type: choice
    max_length: 10000
    label: {en: Pick, fr: Choix}
    choices:
      - {value: a, label: {en: A, fr: A}}
criteria: []
""",
    "long.yaml",
)


@pytest.mark.parametrize(
    ("question", "typed"),
    [
        ("count", "9" * 5000),
        ("count", "1," + "000," * 1500 + "000"),
        ("ratio", "9" * 5000),
        ("pick", "1" * 5000),
    ],
    ids=["count", "grouped-count", "ratio", "pick"],
)
def test_number_parsing_is_safe_without_the_length_limit(question: str, typed: str) -> None:
    ctx = ParseContext(today=dt.date(2026, 11, 30))
    result = AnswerParser(LONG).parse(LONG.question_by_id[question], typed, ctx)
    assert isinstance(result, AnswerError)


# -- patient codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "12-3-80",  # D-M-YY with a one-digit month
        "1-3-80",
        "1-12-1980",
        "3-12-2025",
        "2025-3-12",  # YYYY-M-D
        "80-3-12",  # YY-M-D
        "29-2-00",  # 29 February 2000
        "12-03-80",
        "120380",
        "2025-03-12",
    ],
)
def test_a_code_that_reads_as_a_date_is_refused(say: Say, code: str) -> None:
    step = say("patient_code", code)
    assert not step.accepted
    assert "reads as a date" in (step.error or "")


@pytest.mark.parametrize("code", ["12.3.80", "12/3/80", "12 3 80", "1980.3.12", "1980/3/1"])
def test_reads_as_date_knows_the_other_separators(code: str) -> None:
    assert reads_as_date(code)


@pytest.mark.parametrize("code", ["P-0001", "NAV-03", "FR-001", "U-001", "AB12", "31-2-80"])
def test_codes_that_are_no_date_are_accepted(say: Say, code: str) -> None:
    step = say("patient_code", code)
    assert step.accepted, step.error


@pytest.mark.parametrize("typed", ["NAV-03", "nav-03", "Nav-03", "  nav-03 "])
def test_a_patient_code_is_recorded_in_one_form_whatever_its_case(say: Say, typed: str) -> None:
    step = say("patient_code", typed)
    assert step.answer is not None
    assert step.answer.value == "NAV-03"


@pytest.mark.parametrize("typed", ["nav-03", " NAV-03\n", "Nav-03", "ｎａｖ-03"])
def test_normalise_patient_code_gives_the_stored_form_for_lookups(typed: str) -> None:
    assert normalise_patient_code(typed) == "NAV-03"


# -- 'none' in French --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "shown"),
    [
        ("last_radiotherapy_date", "aucune"),  # une radiothérapie
        ("last_systemic_therapy_date", "aucun"),  # un traitement
        ("last_live_vaccine_date", "aucun"),  # un vaccin
    ],
)
def test_none_agrees_with_the_question_in_french(say: Say, question: str, shown: str) -> None:
    assert say(question, "aucun", "fr").display == shown
    assert say(question, "none", "en").display == "none"


def test_the_radiotherapy_reason_reads_aucune(engine: Engine) -> None:
    with engine.attached("last_radiotherapy_date", {}, "fr") as conv:
        engine.answer(conv, "aucune")
        reason = engine.evaluate(conv).results["N07"].reason
    # « aucune », and nothing about a delay or a site that were never asked.
    assert reason == "Dernière radiothérapie aucune (exclut si < 21 jours hors encéphale/membres)"
