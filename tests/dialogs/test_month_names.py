"""Dates written with a month name, as a French investigator types them on a phone.

From QA in the terminal chat: '23 novembre 2026' was refused ("please type a date"), and a
patient code '12NOV1980' (a birth date) was accepted as a pseudonym, because only digit
dates were recognised.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dialogs.answers import reads_as_date
from tests.dialogs.conftest import Say


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("23 novembre 2024", dt.date(2024, 11, 23)),
        ("1er décembre 2024", dt.date(2024, 12, 1)),
        ("1 DECEMBRE 2024", dt.date(2024, 12, 1)),
        ("15 août 2024", dt.date(2024, 8, 15)),
        ("15 aout 2024", dt.date(2024, 8, 15)),
        ("3 févr. 2025", dt.date(2025, 2, 3)),
        ("23-nov-2024", dt.date(2024, 11, 23)),
        ("23 Nov 2024", dt.date(2024, 11, 23)),
        ("November 23, 2024", dt.date(2024, 11, 23)),
        ("Nov 23rd 2024", dt.date(2024, 11, 23)),
    ],
)
def test_a_date_with_a_month_name_is_read(say: Say, typed: str, day: dt.date) -> None:
    step = say("lab_date", typed, "fr")
    assert step.accepted, step.error
    assert step.answer is not None and step.answer.value == day


@pytest.mark.parametrize("typed", ["23 novembre 24", "23 brumaire 2024", "novembre 2024"])
def test_a_month_name_with_a_two_digit_year_or_no_day_is_refused(say: Say, typed: str) -> None:
    step = say("lab_date", typed, "fr")
    assert not step.accepted
    assert "JJ/MM/AAAA" in (step.error or "")


def test_an_impossible_named_date_says_so(say: Say) -> None:
    step = say("lab_date", "31 février 2024")
    assert not step.accepted
    assert "31 février 2024" in (step.error or "")


@pytest.mark.parametrize(
    "code", ["12NOV1980", "12-NOV-80", "12-nov-1980", "NOV-12-80", "1MAR2001", "29FEB00"]
)
def test_a_code_with_a_month_name_that_reads_as_a_date_is_refused(say: Say, code: str) -> None:
    assert reads_as_date(code)
    step = say("patient_code", code)
    assert not step.accepted
    assert "reads as a date" in (step.error or "")


@pytest.mark.parametrize("code", ["MAR-01", "SEP12", "NOV-2024-7", "DEC-001", "JAN2024-15"])
def test_site_prefixes_that_spell_a_month_are_still_codes(say: Say, code: str) -> None:
    step = say("patient_code", code)
    assert step.accepted, step.error
