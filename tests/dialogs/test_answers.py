"""Answer parsing: what an investigator types, in English or French, and what it means."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from dialogs.answers import AnswerError, AnswerParser, ParseContext, reads_as_date
from dialogs.messages import CATALOGUE
from dialogs.protocol import Protocol, parse_protocol
from dialogs.values import UNKNOWN, Answer, Quantity
from tests.dialogs.conftest import Say

PROTOCOL = parse_protocol(
    """
id: types
version: 1
title: {en: Types, fr: Types}
order: [planned_start_date, code, yn, pick, years, ratio, count, hb, when_last, drawn]
units:
  - {id: g_l, kind: cells, canonical: g_l, factor: 1, display: "×10⁹/L",
     aliases: ["G/L", "10^9/L", "10^3/mm3", "x10^3/mm3", "10^3/µL", "x10^3/µL"]}
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
  - {id: ratio, type: number, uln: true, minimum: 0, maximum: 20, label: {en: ULN, fr: LSN}}
  - {id: count, type: quantity, units: [g_l, mm3], minimum: 0, label: {en: ANC, fr: PNN}}
  - {id: hb, type: quantity, units: [g_dl, g_per_l, mmol_l], label: {en: Hb, fr: Hb}}
  - {id: when_last, type: date, specials: [none, ongoing], label: {en: Last, fr: Dernier}}
  - {id: drawn, type: date, not_after_today: true, label: {en: Drawn on, fr: Prélevé le}}
criteria: []
""",
    "types.yaml",
)
PARSER = AnswerParser(PROTOCOL)
START = dt.date(2026, 11, 30)
TODAY = dt.date(2026, 11, 23)


def parse(
    qid: str, text: str, lang: str = "en", start: dt.date | None = START
) -> Answer | AnswerError:
    ctx = ParseContext(today=TODAY, planned_start=start, lang=lang)
    return PARSER.parse(PROTOCOL.question_by_id[qid], text, ctx)


def error(qid: str, text: str, lang: str = "en", start: dt.date | None = START) -> str:
    result = parse(qid, text, lang, start)
    assert isinstance(result, AnswerError), result
    return result.message


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
    # Not numbered: Telegram's buttons are not, and refuse a number.
    assert err.message == "Merci de choisir parmi : Cellules germinales, Thyroïde."


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


# -- dates of past events: never after today -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        (
            "24/11/2026",
            "en",
            "24/11/2026 is after today (23/11/2026): this date records something that has "
            "already happened; please check it.",
        ),
        (
            "2026-11-29",
            "fr",
            "29/11/2026 est postérieure à aujourd'hui (23/11/2026) : cette date est celle d'un "
            "événement déjà passé ; merci de vérifier.",
        ),
        # After the start too: the earlier bound (today) is the one to meet.
        ("17/12/2026", "en", "17/12/2026 is after today (23/11/2026)"),
    ],
)
def test_a_past_event_dated_after_today_is_refused(text: str, lang: str, expected: str) -> None:
    assert error("drawn", text, lang).startswith(expected)


def test_with_the_start_before_today_the_start_is_the_bound_named() -> None:
    # A screening recorded after the fact: the planned start was 20/11, today is 23/11.
    message = error("drawn", "21/11/2026", start=dt.date(2026, 11, 20))
    assert message == "21/11/2026 is after the planned start date (20/11/2026): please check it."


@pytest.mark.parametrize("text", ["23/11/2026", "today", "aujourd'hui", "22/11/2026"])
def test_a_past_event_dated_today_or_before_is_accepted(text: str) -> None:
    assert isinstance(parse("drawn", text, start=None), Answer)


def test_without_the_flag_a_date_after_today_is_still_accepted() -> None:
    # when_last is not declared not_after_today: only the planned start bounds it.
    assert value("when_last", "29/11/2026") == dt.date(2026, 11, 29)


# -- notations the parser refuses, and says why ------------------------------------------------


@pytest.mark.parametrize("text", ["mai 2025", "févr. 2026", "2025", "31/04", "31 avril"])
def test_a_date_without_a_day_is_not_blamed_on_its_year(text: str) -> None:
    # 'mai 2025' also matches month-day-year as 20 May '25: the year is not the problem.
    assert error("when_last", text, "fr").startswith("Merci de saisir une date au format")


@pytest.mark.parametrize(
    ("qid", "text", "lang", "expected"),
    [
        # Today is 23/11/2026.  A past event: the last such day up to today.
        (
            "drawn",
            "12/11",
            "fr",
            "12/11 : l'année manque. Merci de saisir la date complète, par ex. 12/11/2026.",
        ),
        (
            "drawn",
            "12 décembre",
            "en",
            "12 décembre: the year is missing. Please type the whole date, e.g. 12/12/2025.",
        ),
        ("drawn", "1er déc.", "fr", "par ex. 01/12/2025."),
        # Otherwise the next one from today (a planned start is ahead).
        ("planned_start_date", "5/12", "en", "e.g. 05/12/2026."),
        ("when_last", "Nov 12", "en", "e.g. 12/11/2027."),
    ],
)
def test_a_date_without_its_year_says_so_with_the_likely_one(
    qid: str, text: str, lang: str, expected: str
) -> None:
    """« 12/11 » on a phone: the generic "type a date as DD/MM/YYYY" did not say that the
    year was what was missing."""
    assert expected in error(qid, text, lang)


@pytest.mark.parametrize(
    ("qid", "text", "lang", "expected"),
    [
        ("drawn", "12/05/25", "en", "12/05/25: the year needs four digits (DD/MM/YYYY)."),
        ("drawn", "30/5/25", "fr", "30/5/25 : l'année doit comporter quatre chiffres"),
        ("when_last", "12.05.25", "en", "12.05.25: the year needs four digits (DD/MM/YYYY)."),
        ("when_last", "12 mai 25", "fr", "12 mai 25 : l'année doit comporter quatre chiffres"),
    ],
)
def test_a_two_digit_year_is_refused_saying_the_year_needs_four_digits(
    qid: str, text: str, lang: str, expected: str
) -> None:
    assert error(qid, text, lang).startswith(expected)


@pytest.mark.parametrize(
    ("qid", "text", "lang", "expected"),
    [
        (
            "count",
            "> 90 G/L",
            "en",
            "A value with '>' or '<' cannot be recorded: please type the exact value alone. "
            "If the report gives only the bound, typing 90 G/L records the bound as the "
            "value: check it against the criterion's limit, or type /unknown.",
        ),
        ("count", ">1500/mm3", "en", "typing 1500/mm3 records the bound as the value"),
        ("ratio", "< 0,5", "fr", "Une valeur avec « > » ou « < » ne peut pas être enregistrée"),
        ("ratio", "≤0,5 LSN", "fr", "saisir 0,5 LSN l'enregistre comme valeur"),
        ("years", ">= 18", "en", "typing 18 records the bound"),
        # The number alone would be refused next for its missing unit: the units are named.
        ("count", ">1500", "fr", "la valeur exacte seule, avec son unité, parmi : ×10⁹/L"),
    ],
)
def test_a_value_with_a_comparison_sign_is_told_to_type_the_number_alone(
    qid: str, text: str, lang: str, expected: str
) -> None:
    assert expected in error(qid, text, lang)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        (
            "80 µmol/L",
            "en",
            "80 µmol/L is a concentration, not a multiple of the ULN: please type the value "
            "divided by the laboratory's upper limit of normal (e.g. 1.2).",
        ),
        (
            "12 mg/L",
            "fr",
            "12 mg/L est une concentration, pas un multiple de la LSN : merci de saisir la "
            "valeur divisée par la limite supérieure de la normale du laboratoire (par ex. 1,2).",
        ),
        ("0,9 mg/dl", "en", "0,9 mg/dl is a concentration"),
        ("45 UI/L", "en", "45 UI/L is a concentration"),
        ("80 umol", "en", "80 umol is a concentration"),
    ],
)
def test_a_concentration_at_a_uln_question_says_a_multiple_is_expected(
    text: str, lang: str, expected: str
) -> None:
    assert error("ratio", text, lang).startswith(expected)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        (
            "80",
            "en",
            "80 x ULN is not plausible (at most 20 x ULN): if it is the lab value itself, "
            "please type it divided by the laboratory's upper limit of normal (e.g. 1.2).",
        ),
        ("106,5 LSN", "fr", "106,5 LSN n'est pas plausible (20 LSN au plus)"),
    ],
)
def test_a_uln_multiple_above_its_maximum_is_refused(text: str, lang: str, expected: str) -> None:
    assert error("ratio", text, lang).startswith(expected)


def test_a_uln_multiple_at_its_maximum_is_accepted() -> None:
    assert value("ratio", "20 x ULN") == 20


# -- powers of ten in cell counts -----------------------------------------------------------


@pytest.mark.parametrize("text", ["1,5 10³/mm³", "1,5 x10^3/mm3", "1.5 ×10³/µL", "1,5 10^3/µL"])
def test_a_count_in_thousands_per_mm3_is_read_as_10_9_per_litre(text: str) -> None:
    parsed = value("count", text)
    assert isinstance(parsed, Quantity)
    assert parsed == pytest.approx(1.5) and parsed.input_unit == "×10⁹/L"


def test_a_number_that_reads_two_ways_is_refused_never_guessed() -> None:
    # '2 103/mm3': 2103/mm³ with a thousands space, or 2 ×10³/mm³?
    message = error("count", "2 103/mm3")
    assert message.startswith("2 103/mm3 can be read as 2103 /mm³ or as 2 ×10⁹/L")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hier", dt.date(2026, 11, 22)),
        ("yesterday", dt.date(2026, 11, 22)),
        ("avant-hier", dt.date(2026, 11, 21)),
        ("day before yesterday", dt.date(2026, 11, 21)),
        ("J-10", dt.date(2026, 11, 20)),  # ten days before day 1, the planned start
        ("j - 8", dt.date(2026, 11, 22)),
        ("D-30", dt.date(2026, 10, 31)),
    ],
)
def test_yesterday_and_days_before_day_1(text: str, expected: dt.date) -> None:
    """« J-3 » is how a French trial team dates an exam (3 days before the first dose)."""
    assert value("drawn", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("il y a 3 jours", dt.date(2026, 11, 20)),
        ("Il y a 3 j", dt.date(2026, 11, 20)),
        ("3 days ago", dt.date(2026, 11, 20)),
        ("il y a un jour", dt.date(2026, 11, 22)),
        ("il y a 2 semaines", dt.date(2026, 11, 9)),
        ("Il y a une semaine.", dt.date(2026, 11, 16)),
        ("a week ago", dt.date(2026, 11, 16)),
        ("2 weeks ago", dt.date(2026, 11, 9)),
        ("Hier.", dt.date(2026, 11, 22)),
        ("il y a deux semaines", dt.date(2026, 11, 9)),
        ("Il y a trois jours", dt.date(2026, 11, 20)),
        ("ten days ago", dt.date(2026, 11, 13)),
        ("two weeks ago", dt.date(2026, 11, 9)),
        ("il y a trente jours", dt.date(2026, 10, 24)),
        ("il y a douze jours", dt.date(2026, 11, 11)),
        ("twenty days ago", dt.date(2026, 11, 3)),
    ],
)
def test_days_and_weeks_ago_count_back_from_today(text: str, expected: dt.date) -> None:
    """« il y a 3 jours »: an exam dated from memory, on a phone."""
    assert value("drawn", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "il y a 2 mois",
        "Il y a un mois.",
        "3 months ago",
        "a year ago",
        "il y a quelques jours",
        "il y a quinze jours",
        "le mois dernier",
        "l’année dernière",
        "last month",
        "a few days ago",
        "la semaine dernière",
        "last week",
    ],
)
def test_a_span_that_is_no_day_is_refused_as_a_span(text: str) -> None:
    # A month back is not one date: a 28-day lab window cannot be checked against it.
    # The generic "type a date" did not say that the day itself was missing.
    assert error("drawn", text) == (
        f"“{text.rstrip('.')}” is a span of time, not a day: the rules count days. Please "
        "type the date "
        "as DD/MM/YYYY."
    )


def test_a_span_is_refused_in_french_with_the_question_s_own_words() -> None:
    assert error("when_last", "il y a 2 mois", lang="fr").startswith(
        "« il y a 2 mois » est une durée, pas un jour : les règles comptent en jours. Merci de "
        "saisir la date au format JJ/MM/AAAA"
    )


def test_days_ago_is_only_for_the_date_of_something_past() -> None:
    # « 2 weeks ago » for a planned start was taken, with "a mistyped year?" after it.
    assert error("planned_start_date", "2 weeks ago").startswith("Please type a date as")


def test_a_day_count_before_day_1_is_only_for_past_events() -> None:
    # 'J-3' of the planned start itself, or of a question not dated back from it: refused.
    assert isinstance(parse("when_last", "J-3"), AnswerError)
    assert isinstance(parse("drawn", "J-3"), AnswerError)  # 27/11: after today (23/11)


# -- QA findings: days ahead, choice prefixes, units of other questions, doses per day ------


@pytest.fixture(scope="module")
def acse_parse(acse_protocol: Protocol) -> Callable[..., Answer | AnswerError]:
    """``acse_parse(question_id, text, lang="en")`` on protocol v1, today 23/11/2026 and
    the planned start 30/11/2026 (as the typed-protocol helpers above)."""
    parser = AnswerParser(acse_protocol)

    def run(qid: str, text: str, lang: str = "en") -> Answer | AnswerError:
        ctx = ParseContext(today=TODAY, planned_start=START, lang=lang)
        return parser.parse(acse_protocol.question_by_id[qid], text, ctx)

    return run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demain", dt.date(2026, 11, 24)),
        ("Demain.", dt.date(2026, 11, 24)),
        ("tomorrow", dt.date(2026, 11, 24)),
        ("après-demain", dt.date(2026, 11, 25)),
        ("apres-demain", dt.date(2026, 11, 25)),
        ("Après demain", dt.date(2026, 11, 25)),
        ("day after tomorrow", dt.date(2026, 11, 25)),
        ("the day after tomorrow", dt.date(2026, 11, 25)),
    ],
)
def test_tomorrow_is_a_planned_start(text: str, expected: dt.date) -> None:
    """« On commence demain »: the planned start was refused as "type a date"."""
    assert value("planned_start_date", text) == expected


def test_tomorrow_for_a_date_that_is_no_past_event_still_meets_the_start() -> None:
    assert value("when_last", "demain") == dt.date(2026, 11, 24)  # before the start (30/11)
    late = parse("when_last", "après-demain", start=dt.date(2026, 11, 24))
    assert isinstance(late, AnswerError) and late.after_start


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        (
            "demain",
            "fr",
            "« demain » (24/11/2026) est après aujourd'hui : cette date est celle d'un "
            "événement déjà passé. Merci de saisir le jour où il a eu lieu, au format "
            "JJ/MM/AAAA.",
        ),
        (
            "tomorrow",
            "en",
            "“tomorrow” (24/11/2026) is after today: this date records something that has "
            "already happened. Please type the day it happened, as DD/MM/YYYY.",
        ),
        (
            "après-demain",
            "fr",
            "« après-demain » (25/11/2026) est après aujourd'hui : cette date est celle d'un "
            "événement déjà passé. Merci de saisir le jour où il a eu lieu, au format "
            "JJ/MM/AAAA.",
        ),
    ],
)
def test_tomorrow_for_a_past_event_says_it_is_after_today(
    text: str, lang: str, expected: str
) -> None:
    assert error("drawn", text, lang) == expected


@pytest.mark.parametrize(
    ("qid", "text", "expected"),
    [
        ("cns_metastases", "asymptomatic", "asymptomatic_untreated"),
        ("cns_metastases", "Asympt", "asymptomatic_untreated"),
        ("cns_metastases", "asymptomatiques", "asymptomatic_untreated"),
        ("cns_metastases", "asymptomatic unt", "asymptomatic_untreated"),  # the value
        ("cns_metastases", "sympt", "symptomatic"),  # a prefix, never inside a word
        ("cns_metastases", "trait", "treated"),
        ("steroid_drug", "prednisol", "prednisolone"),
        ("steroid_drug", "Méthylpred", "methylprednisolone"),
        ("steroid_drug", "methylpred", "methylprednisolone"),  # accents aside
        ("steroid_drug", "DEXAMETH", "dexamethasone"),
        ("steroid_drug", "betameth", "betamethasone"),
        ("cohort", "cancer de la thyroide", "thyroid"),  # whole, without its accent
        ("cohort", "lymphome", "pcnsl"),
        ("cohort", "germ", "germ_cell"),
        ("cohort", "neuroendoc", "neuroendocrine"),
    ],
)
def test_a_choice_typed_as_the_start_of_one_name_is_read(
    acse_parse: Callable[..., Answer | AnswerError], qid: str, text: str, expected: str
) -> None:
    result = acse_parse(qid, text)
    assert isinstance(result, Answer), result
    assert result.value == expected


@pytest.mark.parametrize(
    ("qid", "text", "expected"),
    [
        ("cns_metastases", "none", "none"),
        ("cns_metastases", "non", "none"),
        ("steroid_drug", "dexa", "dexamethasone"),
        ("steroid_drug", "Prednisone", "prednisone"),
        ("cohort", "sarc", "sarcoma"),
        ("sex", "f", "female"),
    ],
)
def test_exact_choice_names_are_read_as_before(
    acse_parse: Callable[..., Answer | AnswerError], qid: str, text: str, expected: str
) -> None:
    result = acse_parse(qid, text)
    assert isinstance(result, Answer), result
    assert result.value == expected


@pytest.mark.parametrize(
    ("qid", "text"),
    [
        ("cns_metastases", "asy"),  # under four characters: too little to pick
        ("cns_metastases", "tr"),
        ("cns_metastases", "untreated"),  # inside a name, not its start
        ("cns_metastases", "non traitées"),  # not 'non' (none)
        ("steroid_drug", "solu"),  # Solupred or Solumédrol
    ],
)
def test_a_choice_prefix_too_short_or_inside_a_name_is_refused(
    acse_parse: Callable[..., Answer | AnswerError], qid: str, text: str
) -> None:
    assert isinstance(acse_parse(qid, text), AnswerError)


@pytest.mark.parametrize(
    ("qid", "text", "lang", "expected"),
    [
        (
            "steroid_drug",
            "pred",
            "en",
            "“pred” is the start of more than one choice: Prednisone, Prednisolone. Please "
            "type more of the name.",
        ),
        (
            "steroid_drug",
            "Predniso",
            "fr",
            "« predniso » est le début de plusieurs choix : Prednisone (Cortancyl), "
            "Prednisolone (Solupred). Merci de saisir davantage du nom.",
        ),
        (
            "cohort",
            "cancer",
            "fr",
            "« cancer » est le début de plusieurs choix : Cancer de l'ovaire, Cancer de la "
            "thyroïde. Merci de saisir davantage du nom.",
        ),
        (
            "cohort",
            "tumeur",
            "en",
            # Through the French labels: shown, or "is the start of" would be false.
            "“tumeur” is the start of more than one choice: Neuroendocrine tumour or "
            "carcinoma (Tumeur ou carcinome neuroendocrine), Germ cell tumour (Tumeur "
            "germinale). Please type more of the name.",
        ),
    ],
)
def test_an_ambiguous_choice_prefix_lists_the_choices_it_starts(
    acse_parse: Callable[..., Answer | AnswerError], qid: str, text: str, lang: str, expected: str
) -> None:
    result = acse_parse(qid, text, lang)
    assert isinstance(result, AnswerError), result
    assert result.message == expected


@pytest.mark.parametrize(
    ("qid", "text", "lang", "expected"),
    [
        (
            "anc",
            "13 g/dl",
            "fr",
            "g/dL n'est pas une unité pour cette question. Unités acceptées : ×10⁹/L, /mm³.",
        ),
        (
            "anc",
            "13 g/dl",
            "en",
            "g/dL is not a unit for this question. Accepted units: ×10⁹/L, /mm³.",
        ),
        (
            "hemoglobin",
            "9 mg/dL",
            "en",
            "mg/dL is not a unit for this question. Accepted units: g/dL, g/L, mmol/L.",
        ),
        (
            "steroid_dose_mg",
            "16 g/dl",
            "fr",
            "g/dL n'est pas une unité pour cette question. Unités acceptées : mg.",
        ),
    ],
)
def test_a_unit_of_another_question_is_told_so(
    acse_parse: Callable[..., Answer | AnswerError], qid: str, text: str, lang: str, expected: str
) -> None:
    """« Je ne connais pas l'unité « g/dl » » read as if the bot could not read g/dL."""
    result = acse_parse(qid, text, lang)
    assert isinstance(result, AnswerError), result
    assert result.message == expected


def test_a_unit_no_question_has_is_still_unknown(
    acse_parse: Callable[..., Answer | AnswerError],
) -> None:
    result = acse_parse("anc", "13 furlongs", "fr")
    assert isinstance(result, AnswerError), result
    assert result.message.startswith("Je ne connais pas l'unité « furlongs »")


@pytest.mark.parametrize(
    ("qid", "text", "lang", "expected"),
    [
        (
            "anc",
            "23/11/2026",
            "fr",
            "23/11/2026 est une date, mais un nombre est attendu ici. Merci de saisir un "
            "nombre avec son unité, parmi : ×10⁹/L, /mm³.",
        ),
        (
            "anc",
            "23/11/2026",
            "en",
            "23/11/2026 is a date, but a number is expected here. Please type a number with "
            "its unit, one of: ×10⁹/L, /mm³.",
        ),
        (
            "anc",
            "2026-11-23",
            "en",
            "2026-11-23 is a date, but a number is expected here. Please type a number with "
            "its unit, one of: ×10⁹/L, /mm³.",
        ),
        (
            "steroid_dose_mg",
            "23/11/2026",
            "en",
            "23/11/2026 is a date, but a number is expected here. Please type a number "
            "greater than 0 and at most 2000.",
        ),
        (
            "age",
            "12/05/25",
            "fr",
            "12/05/25 est une date, mais un nombre est attendu ici. Merci de saisir un nombre "
            "entier entre 0 et 120.",
        ),
    ],
)
def test_a_date_typed_for_a_number_is_told_a_number_is_expected(
    acse_parse: Callable[..., Answer | AnswerError], qid: str, text: str, lang: str, expected: str
) -> None:
    """'23/11/2026' at the ANC was told « Je ne connais pas l'unité « /11/2026 » »."""
    result = acse_parse(qid, text, lang)
    assert isinstance(result, AnswerError), result
    assert result.message == expected


def test_a_decimal_point_number_is_no_date(
    acse_parse: Callable[..., Answer | AnswerError],
) -> None:
    result = acse_parse("steroid_dose_mg", "12.11")
    assert isinstance(result, Answer) and result.value == pytest.approx(12.11)


@pytest.mark.parametrize(
    "text",
    ["16 mg/day", "16 mg/d", "16 mg/j", "16 mg/jour", "16 mg par jour", "16 mg per day", "16/j"],
)
def test_a_daily_dose_typed_per_day_is_read(
    acse_parse: Callable[..., Answer | AnswerError], text: str
) -> None:
    """'Its daily dose, in mg?': '16 mg/day' restates the question, and was refused with
    "I don't know the unit 'mg/day'"."""
    result = acse_parse("steroid_dose_mg", text)
    assert isinstance(result, Answer), result
    assert result.value == 16


def test_a_dose_per_another_period_is_still_refused(
    acse_parse: Callable[..., Answer | AnswerError],
) -> None:
    result = acse_parse("steroid_dose_mg", "16 mg/semaine", "fr")
    assert isinstance(result, AnswerError), result
    assert result.message == "Je ne connais pas l'unité « mg/semaine ». Unités acceptées : mg."


def test_a_per_day_suffix_only_where_the_label_asks_per_day(
    acse_parse: Callable[..., Answer | AnswerError],
) -> None:
    # The ANC label asks for no amount per day: '1,5 G/L/j' is no unit of it.
    assert isinstance(acse_parse("anc", "1,5 G/L/j"), AnswerError)
    assert isinstance(acse_parse("anc", "1500/mm3/d"), AnswerError)
