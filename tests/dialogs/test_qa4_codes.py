"""Patient codes that hold a birth date, and the refusals a code gets, in English and French.

From QA round 4 (a French investigator, protocol v1 in chat): 'P12031970' and
'AB-12-03-1970' were accepted as pseudonyms, though a birth date identifies the patient;
'12/03/1970' was told "only letters, digits and '-'" (and so retyped '12-03-1970'); 'ÉLO-12'
got the same message though É is a letter; 'X' got « Merci de saisir entre 2 et 32
caractères. », which does not say what is asked.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dialogs.answers import contains_date
from tests.dialogs.conftest import Say

TODAY = dt.date(2026, 11, 30)

DATE_EN = (
    "This code reads as a date: a birth date identifies a patient. Please use the "
    "pseudonymous screening code."
)
DATE_FR = (
    "Ce code ressemble à une date : une date de naissance identifie le patient. Merci "
    "d'utiliser le code de screening pseudonymisé."
)


@pytest.mark.parametrize(
    "code",
    [
        "P12031970",  # DDMMYYYY after a letter
        "AB-12-03-1970",  # DD-MM-YYYY after a site code
        "ab-12/03/1970",  # DD/MM/YYYY, lower case
        "CLI-12.03.70",  # DD.MM.YY
        "P120370",  # DDMMYY: a whole run of six digits
        "P-700312",  # YYMMDD
        "P19700312",  # YYYYMMDD
        "FR-1970-03-12",  # YYYY-MM-DD
        "P12031970-01",  # a date, then a sequence number
        "P0112031970",  # DDMMYYYY glued to a sequence number
        "P12MARS1970",  # a month name
        "X-12-NOV-80",
        "AB3MARS2025",
        "P-12FÉVRIER1970",  # with its accent
        "P-NOV-12-80",  # the month first
        "P-1-12-03-1970",  # overlapping readings: 1/12/2003 and 12/03/1970
    ],
)
def test_a_code_holding_a_birth_date_is_refused_as_a_date(say: Say, code: str) -> None:
    assert say("patient_code", code).error == DATE_EN
    assert say("patient_code", code, "fr").error == DATE_FR


@pytest.mark.parametrize(
    ("code", "holds_a_date"),
    [
        # -- refused: a day, a month and a plausible birth year ------------------------
        ("12031970", True),  # the whole code (reads_as_date)
        ("P12031970", True),
        ("AB-12-03-1970", True),
        ("P120370", True),  # a run of exactly six digits: DDMMYY
        ("P-12MARS1970", True),
        ("P-12031906", True),  # 120 years before today: the oldest age asked
        # -- accepted: sequence numbers and site codes ---------------------------------
        ("P-0042", False),
        ("01-0042", False),  # two parts only
        ("ACSE-12345", False),  # five digits
        ("P-1970", False),  # a year alone
        ("P-12-1970", False),  # a month and a year: no day
        ("P-123456", False),  # six digits, but month 34 (and YYMMDD month 34)
        ("P-310299", False),  # 31/02 is no day, nor 99 (YYMMDD)
        ("P-1203701", False),  # seven digits: a window inside would refuse at random
        ("P-0012037", False),
        ("P-12031905", False),  # over 120 years ago: no patient's birth year
        ("AB-12-03-2087", False),  # after today: no birth year
        ("P-DEC-12-2087", False),
        ("JAN2024-15", False),  # a month name, a year and a number: no day before it
        ("NOV-2024-7", False),
        ("SEP12", False),
        ("MAR-01", False),
    ],
)
def test_the_rule_for_a_date_inside_a_code(code: str, holds_a_date: bool) -> None:
    assert contains_date(code, TODAY) is holds_a_date


@pytest.mark.parametrize(
    ("typed", "lang", "error"),
    [
        # The date is told before the characters: the most likely way to type a birth date.
        ("12/03/1970", "en", DATE_EN),
        ("12/03/1970", "fr", DATE_FR),
        ("P 12/03/1970", "fr", DATE_FR),
        # É is a letter: say which letters.
        (
            "ÉLO-12",
            "en",
            "Only letters, digits and '-' are allowed (letters without accents: A–Z).",
        ),
        (
            "ÉLO-12",
            "fr",
            "Seuls les lettres sans accent (A–Z), les chiffres et « - » sont autorisés.",
        ),
        # The length of what: the patient code.
        ("X", "en", "A patient code has between 2 and 32 characters."),
        ("X", "fr", "Un code patient comporte entre 2 et 32 caractères."),
        ("P-" + "0" * 31, "fr", "Un code patient comporte entre 2 et 32 caractères."),
    ],
)
def test_a_refused_code_is_told_what_is_wrong(say: Say, typed: str, lang: str, error: str) -> None:
    step = say("patient_code", typed, lang)
    assert not step.accepted
    assert step.error == error


def test_a_french_investigator_types_a_birth_date_then_the_screening_code(say: Say) -> None:
    """The QA transcript: each refusal says why, and the screening code goes through."""
    transcript = [
        ("12/03/1970", DATE_FR),
        ("P12031970", DATE_FR),
        ("AB-12-03-1970", DATE_FR),
        ("ÉLO-12", "Seuls les lettres sans accent (A–Z), les chiffres et « - » sont autorisés."),
        ("X", "Un code patient comporte entre 2 et 32 caractères."),
    ]
    for typed, error in transcript:
        assert say("patient_code", typed, "fr").error == error, typed
    step = say("patient_code", "elo-12", "fr")
    assert step.answer is not None and step.answer.value == "ELO-12"
