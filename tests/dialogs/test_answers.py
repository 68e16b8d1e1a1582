"""Answer parsing: what an investigator types, in English or French, and what it means."""

from __future__ import annotations

import datetime as dt

import pytest

from dialogs.answers import AnswerError, AnswerParser, ParseContext, reads_as_date
from dialogs.messages import CATALOGUE
from dialogs.protocol import parse_protocol
from dialogs.values import UNKNOWN, Answer, Quantity
from tests.dialogs.conftest import Say

PROTOCOL = parse_protocol(
    """
id: types
version: 1
title: {en: Types, fr: Types}
order: [planned_start_date, code, yn, pick, years, ratio, count, hb, when_last]
units:
  - {id: g_l, kind: cells, canonical: g_l, factor: 1, display: "×10⁹/L", aliases: ["G/L", "10^9/L"]}
  - {id: mm3, kind: cells, canonical: g_l, factor: 0.001, display: "/mm³", aliases: ["/mm3", "/µL"]}
  - {id: g_dl, kind: hb, canonical: g_dl, factor: 1, display: g/dL, aliases: [g/dl]}
  - {id: g_per_l, kind: hb, canonical: g_dl, factor: 0.1, display: g/L, aliases: [g/l]}
  - {id: mmol_l, kind: hb, canonical: g_dl, factor: 1.611, display: mmol/L, aliases: [mmol/l]}
questions:
  - {id: planned_start_date, type: date, required: true, not_after_start: false,
     label: {en: Start, fr: Début}}
  - {id: code, type: text, required: true, pseudonym: true, min_length: 2, max_length: 32,
     label: {en: Code, fr: Code}}
  - {id: yn, type: yesno, label: {en: Y/N, fr: O/N}}
  - id: pick
    type: choice
    label: {en: Pick, fr: Choix}
    choices:
      - {value: germ_cell, label: {en: Germ cell, fr: Cellules germinales}, aliases: [germinale]}
      - {value: thyroid, label: {en: Thyroid, fr: Thyroïde}}
  - {id: years, type: integer, minimum: 0, maximum: 120, label: {en: Age, fr: Âge},
     words: [ans, years, grade, G]}
  - {id: ratio, type: number, uln: true, minimum: 0, label: {en: ULN, fr: LSN}}
  - {id: count, type: quantity, units: [g_l, mm3], minimum: 0, label: {en: ANC, fr: PNN}}
  - {id: hb, type: quantity, units: [g_dl, g_per_l, mmol_l], label: {en: Hb, fr: Hb}}
  - {id: when_last, type: date, specials: [none, ongoing], label: {en: Last, fr: Dernier}}
criteria: []
""",
    "types.yaml",
)
PARSER = AnswerParser(PROTOCOL)
START = dt.date(2026, 11, 30)


def parse(qid: str, text: str, lang: str = "en") -> Answer | AnswerError:
    ctx = ParseContext(today=dt.date(2026, 11, 23), planned_start=START, lang=lang)
    return PARSER.parse(PROTOCOL.question_by_id[qid], text, ctx)


def value(qid: str, text: str) -> object:
    result = parse(qid, text)
    assert isinstance(result, Answer), result
    return result.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", "yes"), ("Y", "yes"), ("Oui", "yes"), ("o", "yes"), ("non", "no"), ("N", "no")],
)
def test_yes_no_in_english_and_french(text: str, expected: str) -> None:
    assert value("yn", text) == expected


@pytest.mark.parametrize("text", ["unknown", "Inconnu", "ne sais pas", "Ne  sais  pas", "?"])
def test_unknown_words(text: str) -> None:
    assert value("yn", text) is UNKNOWN


def test_choice_by_value_label_alias_and_number() -> None:
    assert value("pick", "germ_cell") == "germ_cell"
    assert value("pick", "Germ cell") == "germ_cell"
    assert value("pick", "germinale") == "germ_cell"
    assert value("pick", "thyroïde") == "thyroid"
    assert value("pick", "2") == "thyroid"
    err = parse("pick", "3", "fr")
    assert isinstance(err, AnswerError)
    assert err.message == "Merci de choisir parmi : 1. Cellules germinales, 2. Thyroïde."


@pytest.mark.parametrize(
    ("text", "expected"),
    [("54 ans", 54), ("54ans", 54), ("54 years", 54), ("Grade 2", 2), ("G2", 2), ("54.", 54)],
)
def test_integer_with_the_question_s_words_or_a_phone_s_full_stop(text: str, expected: int) -> None:
    assert value("years", text) == expected
    assert parse("years", text).raw == text  # type: ignore[union-attr]  # stored as typed


@pytest.mark.parametrize("text", ["ans", "54 mois", "2 grade 3", "5 4", "G", "54 ans 2"])
def test_words_around_an_integer_never_make_up_a_number(text: str) -> None:
    assert isinstance(parse("years", text), AnswerError)


@pytest.mark.parametrize(
    ("qid", "text", "expected"),
    [
        ("ratio", "1,2 LSN.", 1.2),
        ("count", "1500/mm3.", Quantity(1.5, "g_l", "cells", 1500, "/mm³")),
        ("when_last", "20/11/2026.", dt.date(2026, 11, 20)),
        ("when_last", "aucun.", "none"),
    ],
)
def test_a_phone_s_full_stop_after_a_value_is_not_part_of_it(
    qid: str, text: str, expected: object
) -> None:
    assert value(qid, text) == expected


@pytest.mark.parametrize("text", ["18.5", "-1", "121", "dix"])
def test_integer_out_of_range_or_not_whole(text: str) -> None:
    assert isinstance(parse("years", text), AnswerError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2", 1.2), ("1,2", 1.2), ("1.2 x ULN", 1.2), ("1,2 LSN", 1.2), ("1.5xULN", 1.5)],
)
def test_uln_multiples(text: str, expected: float) -> None:
    assert value("ratio", text) == pytest.approx(expected)


def test_uln_with_another_suffix_is_refused() -> None:
    assert isinstance(parse("ratio", "1.2 mg"), AnswerError)


@pytest.mark.parametrize(
    ("text", "canonical", "typed_unit"),
    [
        ("1500/mm3", 1.5, "/mm³"),
        ("1 500 /mm³", 1.5, "/mm³"),
        ("1500 /µL", 1.5, "/mm³"),
        ("1,5 G/L", 1.5, "×10⁹/L"),
        ("1.5 10^9/L", 1.5, "×10⁹/L"),
    ],
)
def test_cell_counts_convert_to_one_unit(text: str, canonical: float, typed_unit: str) -> None:
    q = value("count", text)
    assert isinstance(q, Quantity)
    assert q == pytest.approx(canonical) and q.input_unit == typed_unit


@pytest.mark.parametrize(
    ("text", "g_dl"), [("9 g/dL", 9.0), ("90 g/L", 9.0), ("89 g/L", 8.9), ("5.6 mmol/L", 9.0216)]
)
def test_haemoglobin_units(text: str, g_dl: float) -> None:
    assert value("hb", text) == pytest.approx(g_dl)


def test_a_number_without_unit_is_refused_never_guessed() -> None:
    err = parse("count", "1500")
    assert isinstance(err, AnswerError)
    assert "×10⁹/L, /mm³" in err.message


def test_an_unknown_unit_is_named() -> None:
    err = parse("hb", "9 mg/dL", "fr")
    assert isinstance(err, AnswerError)
    assert err.message.startswith("Je ne connais pas l'unité « mg/dl »")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-02", dt.date(2026, 11, 2)),
        ("02/11/2026", dt.date(2026, 11, 2)),
        ("2/11/2026", dt.date(2026, 11, 2)),
        ("today", dt.date(2026, 11, 23)),
        ("aujourd'hui", dt.date(2026, 11, 23)),
        ("Aujourd’hui", dt.date(2026, 11, 23)),
        ("aujourd hui", dt.date(2026, 11, 23)),  # no apostrophe on the phone keyboard
        ("none", "none"),
        ("aucun", "none"),
        ("en cours", "ongoing"),
    ],
)
def test_dates_and_special_words(text: str, expected: object) -> None:
    assert value("when_last", text) == expected


def test_day_first_never_month_first() -> None:
    assert isinstance(parse("when_last", "11/13/2026"), AnswerError)  # no 13th month


def test_impossible_date_is_named() -> None:
    err = parse("when_last", "31/02/2026")
    assert isinstance(err, AnswerError) and "not a valid calendar date" in err.message


def test_date_after_planned_start_is_refused() -> None:
    err = parse("when_last", "01/12/2026")
    assert isinstance(err, AnswerError) and "after the planned start date" in err.message


@pytest.mark.parametrize(
    ("code", "stored"), [("PEM-001", "PEM-001"), ("AB12", "AB12"), ("lyon-7", "LYON-7")]
)
def test_pseudonymous_codes_accepted(code: str, stored: str) -> None:
    assert value("code", code) == stored


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("DUPONT", "at least one digit"),
        ("12-05-1962", "reads as a date"),
        ("12051962", "reads as a date"),
        ("120562", "reads as a date"),
        ("1962-05-12", "reads as a date"),
        ("Jean Dupont 1", "Only letters, digits"),
        ("X", "between 2 and 32"),
    ],
)
def test_identifying_codes_refused(code: str, why: str) -> None:
    err = parse("code", code)
    assert isinstance(err, AnswerError) and why in err.message


def test_required_question_refuses_unknown() -> None:
    err = parse("code", "unknown")
    assert isinstance(err, AnswerError) and "required" in err.message


def test_reads_as_date_is_not_fooled_by_codes() -> None:
    assert not reads_as_date("PEM-001")
    assert not reads_as_date("999999")


def test_every_message_exists_in_both_languages() -> None:
    assert all(set(entry) == {"en", "fr"} for entry in CATALOGUE.values())


def test_control_characters_are_dropped_from_what_is_stored() -> None:
    result = parse("years", "5\x004")
    assert isinstance(result, Answer)
    assert result.value == 54 and result.raw == "54"


def test_a_month_first_date_is_told_the_day_comes_first(say: Say) -> None:
    step = say("lab_date", "12/31/2026")
    assert not step.accepted
    assert step.error == "12/31/2026 is not a valid calendar date (day first: DD/MM/YYYY)."
