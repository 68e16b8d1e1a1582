"""Cell counts, decimal commas and out-of-range messages on protocol v1, as typed in chat.

Each test opens a conversation at one question of the AcSé protocol, types an answer the
way an investigator would, and reads what the engine says back.  The QA transcripts these
come from: '1,500/mm3' (English thousands) and '1.500/mm3' (French thousands) were read
as 1.5 cells/mm³ and failed I09; '400 g/L' was told "expected between 2 and 25 g_dl".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from dialogs.engine import Engine, Step
from dialogs.errors import RecordError
from dialogs.protocol import AnswerType, Protocol
from dialogs.values import Quantity
from tests.dialogs.conftest import Say


def accepted_value(step: Step) -> Quantity:
    assert step.accepted, step.error
    assert step.answer is not None and isinstance(step.answer.value, Quantity)
    return step.answer.value


# -- thousands separators in counts per mm³ ----------------------------------------------


@pytest.mark.parametrize(
    ("question", "typed", "count", "shown"),
    [
        ("anc", "1500/mm3", 1500, "1500 /mm³ (= 1.5 ×10⁹/L)"),
        ("anc", "1,500/mm3", 1500, "1500 /mm³ (= 1.5 ×10⁹/L)"),  # English thousands
        ("anc", "1.500/mm3", 1500, "1500 /mm³ (= 1.5 ×10⁹/L)"),  # French thousands
        ("anc", "1 500/mm3", 1500, "1500 /mm³ (= 1.5 ×10⁹/L)"),
        ("anc", "1\u202f500 /mm³", 1500, "1500 /mm³ (= 1.5 ×10⁹/L)"),  # narrow no-break space
        ("anc", "1\u00a0500 /µL", 1500, "1500 /mm³ (= 1.5 ×10⁹/L)"),
        ("platelets", "150,000/mm3", 150000, "150\u00a0000 /mm³ (= 150 ×10⁹/L)"),
        ("platelets", "150.000/mm3", 150000, "150\u00a0000 /mm³ (= 150 ×10⁹/L)"),
        ("platelets", "1,000,000/mm3", 1000000, "1\u00a0000\u00a0000 /mm³ (= 1000 ×10⁹/L)"),
        ("lymphocytes", "1,200 cells/µL", 1200, "1200 /mm³ (= 1.2 ×10⁹/L)"),
        ("cd4", "1,500", 1500, "1500 /mm³"),  # a bare number is read as /mm³
        ("cd4", "450", 450, "450 /mm³"),
    ],
)
def test_a_separator_before_three_digits_groups_thousands_in_a_count(
    say: Say, question: str, typed: str, count: int, shown: str
) -> None:
    step = say(question, typed)
    value = accepted_value(step)
    assert value.input_value == count
    assert step.display == shown


@pytest.mark.parametrize(
    ("question", "typed"),
    [
        ("anc", "1,5/mm3"),
        ("anc", "1.5 /mm³"),
        ("anc", "0,500/mm3"),  # a leading zero: a decimal, not 500
        ("anc", "1500.0/mm3"),
        ("anc", "1,500.000/mm3"),  # mixed separators: no guess
        ("platelets", "150,5/mm3"),
        ("lymphocytes", "1,25 /µL"),
        ("cd4", "450,5"),
    ],
)
def test_a_fractional_count_per_mm3_is_refused_never_rounded(
    say: Say, question: str, typed: str
) -> None:
    step = say(question, typed)
    assert not step.accepted
    assert "is not a whole number: a count per mm³ has no decimals" in (step.error or "")


def test_the_fractional_count_message_in_french(say: Say) -> None:
    step = say("anc", "1,5/mm3", "fr")
    assert step.error == (
        "1,5 /mm³ n'est pas un nombre entier : un compte par mm³ n'a pas de décimales "
        "(1 500/mm³ = 1500/mm³). Unités acceptées : ×10⁹/L, /mm³."
    )


@pytest.mark.parametrize(
    ("question", "typed", "canonical"),
    [
        ("anc", "1,5 G/L", 1.5),
        ("anc", "1,500 G/L", 1.5),  # ×10⁹/L has real decimals: the comma is one
        ("anc", "1.5 10^9/L", 1.5),
        ("lymphocytes", "1,2 ×10⁹/L", 1.2),
        ("lymphocytes", "15 109/L", 15),  # '109/L' is the unit, not more digits
        ("hemoglobin", "9,5 g/dL", 9.5),
        ("hemoglobin", "95 g/L", 9.5),
        ("creatinine_clearance", "1,2 mg/dL", 1.2),
    ],
)
def test_decimal_commas_keep_working_outside_counts(
    say: Say, question: str, typed: str, canonical: float
) -> None:
    assert float(accepted_value(say(question, typed))) == pytest.approx(canonical)


def test_an_anc_typed_with_a_thousands_comma_is_eligible(
    evaluate_acse: Callable[[Mapping[str, Any]], Any], eligible_record: dict[str, Any]
) -> None:
    record = {**eligible_record, "anc": "1,500/mm3", "platelets": "150.000/mm3"}
    result = evaluate_acse(record)
    assert result.evaluation.results["I09"].status == "pass"
    assert result.evaluation.verdict == "eligible"


# -- out-of-range messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "typed", "lang", "error"),
    [
        ("anc", "150 ×10⁹/L", "en", "150 ×10⁹/L is out of range: expected at most 100 ×10⁹/L."),
        (
            "anc",
            "150000/mm3",
            "en",
            "150\u00a0000 /mm³ is out of range: expected at most 100\u00a0000 /mm³.",
        ),
        (
            "anc",
            "-1500/mm3",
            "en",
            "-1500 /mm³ is out of range: expected between 0 and 100\u00a0000 /mm³.",
        ),
        (
            "hemoglobin",
            "400 g/L",
            "en",
            "400 g/L is out of range: expected between 20 and 250 g/L.",
        ),
        (
            "hemoglobin",
            "30 g/dL",
            "fr",
            "30 g/dL est hors limites : attendu entre 2 et 25 g/dL.",
        ),
        (
            "hemoglobin",
            "300,5 g/L",
            "fr",
            "300,5 g/L est hors limites : attendu entre 20 et 250 g/L.",
        ),
        (
            "hemoglobin",
            "1 mmol/L",
            "fr",
            "1 mmol/L est hors limites : attendu entre 1,25 et 15,51 mmol/L.",
        ),
        (
            "creatinine_clearance",
            "500 mL/min",
            "en",
            "500 mL/min is out of range: expected at most 300 mL/min.",
        ),
        (
            "creatinine_clearance",
            "500 mL/min",
            "fr",
            "500 mL/min est hors limites : attendu au plus 300 mL/min.",
        ),
        (
            "platelets",
            "5000 G/L",
            "fr",
            "5000 ×10⁹/L est hors limites : attendu au plus 3000 ×10⁹/L.",
        ),
    ],
)
def test_out_of_range_names_the_limit_in_the_unit_typed(
    say: Say, question: str, typed: str, lang: str, error: str
) -> None:
    step = say(question, typed, lang)
    assert not step.accepted
    assert step.error == error


@pytest.mark.parametrize(
    ("question", "typed"),
    [
        ("hemoglobin", "20 g/L"),
        ("hemoglobin", "250 g/L"),
        ("hemoglobin", "1,25 mmol/L"),  # the limits the mmol/L message states
        ("hemoglobin", "15,51 mmol/L"),
        ("anc", "100 000/mm3"),
        ("creatinine_clearance", "300 mL/min"),
    ],
)
def test_a_limit_the_message_states_is_itself_accepted(say: Say, question: str, typed: str) -> None:
    assert say(question, typed).accepted


# -- exclusive bounds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "error"),
    [
        ("en", "Please type a number greater than 0 and at most 2000."),
        ("fr", "Merci de saisir un nombre strictement supérieur à 0 et inférieur ou égal à 2000."),
    ],
)
def test_a_zero_steroid_dose_is_told_the_bound_is_exclusive(
    say: Say, lang: str, error: str
) -> None:
    step = say("steroid_dose_mg", "0", lang)
    assert not step.accepted
    assert step.error == error


@pytest.mark.parametrize("typed", ["0,5", "0.5 mg", "2000"])
def test_steroid_doses_inside_the_exclusive_range_are_accepted(say: Say, typed: str) -> None:
    assert say("steroid_dose_mg", typed).accepted


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0 µmol/L", "0 µmol/L is out of range: expected between 8.84 and 2652 µmol/L."),
        ("0 mg/dL", "0 mg/dL is out of range: expected between 0.1 and 30 mg/dL."),
        ("0,0001 mg/dL", "0.0001 mg/dL is out of range: expected between 0.1 and 30 mg/dL."),
        # µmol/L typed as mg/dL: no longer read as a creatinine of 88 mg/dL.
        ("88 mg/dL", "88 mg/dL is out of range: expected between 0.1 and 30 mg/dL."),
        ("4000 µmol/L", "4000 µmol/L is out of range: expected between 8.84 and 2652 µmol/L."),
    ],
)
def test_a_serum_creatinine_outside_what_can_be_measured_is_refused(
    say: Say, typed: str, expected: str
) -> None:
    step = say("creatinine_clearance", typed)
    assert not step.accepted
    assert step.error == expected


def test_a_clearance_of_zero_is_still_a_clearance(say: Say) -> None:
    assert say("creatinine_clearance", "0 mL/min").accepted


# -- dates of past events (QA: a lab date 15 days ahead made month-old labs "fresh") -------


def test_every_date_of_a_past_event_is_declared_not_after_today(acse_protocol: Protocol) -> None:
    dates = {q.id for q in acse_protocol.questions if q.type is AnswerType.date}
    flagged = {q.id for q in acse_protocol.questions if q.not_after_today}
    assert flagged == dates - {"planned_start_date"}
    assert flagged >= {"lab_date", "pregnancy_test_date", "last_systemic_therapy_date"}


@pytest.mark.parametrize(
    ("question", "typed", "lang", "error"),
    [
        (
            "lab_date",
            "15/12/2026",
            "en",
            "15/12/2026 is after today (30/11/2026): this date records something that has "
            "already happened; please check it.",
        ),
        (
            "pregnancy_test_date",
            "01/12/2026",
            "fr",
            "01/12/2026 est postérieure à aujourd'hui (30/11/2026) : cette date est celle "
            "d'un événement déjà passé ; merci de vérifier.",
        ),
        ("last_systemic_therapy_date", "2026-12-01", "en", "01/12/2026 is after today"),
        ("last_radiotherapy_date", "1er déc. 2026", "en", "01/12/2026 is after today"),
        ("last_investigational_date", "01/12/2026", "en", "01/12/2026 is after today"),
        ("last_live_vaccine_date", "01/12/2026", "en", "01/12/2026 is after today"),
    ],
)
def test_a_past_event_dated_after_today_is_refused(
    say: Say, question: str, typed: str, lang: str, error: str
) -> None:
    step = say(question, typed, lang)
    assert not step.accepted
    assert (step.error or "").startswith(error)


@pytest.mark.parametrize("question", ["lab_date", "pregnancy_test_date"])
def test_a_test_done_today_is_accepted(say: Say, question: str) -> None:
    assert say(question, "30/11/2026").accepted
    assert say(question, "aujourd'hui", "fr").accepted


def test_the_planned_start_may_be_after_today(say: Say) -> None:
    assert say("planned_start_date", "15/12/2026").accepted


def test_a_stale_lab_typed_with_a_month_slip_cannot_pass_as_fresh(
    evaluate_acse: Callable[..., Any], eligible_record: dict[str, Any]
) -> None:
    # The QA case: labs drawn 17/10 typed 17/12 were 14 days "before" a start on 31/12.
    record = {**eligible_record, "planned_start_date": "2026-12-31", "lab_date": "2026-12-17"}
    with pytest.raises(RecordError) as caught:
        evaluate_acse(record)
    assert caught.value.question_id == "lab_date"
    assert "after today (30/11/2026)" in caught.value.message


# -- ULN multiples: a lab value typed as a multiple ------------------------------------------


@pytest.mark.parametrize(
    ("question", "typed", "error"),
    [
        ("creatinine_uln", "80", "80 x ULN is not plausible (at most 20 x ULN)"),
        ("creatinine_uln", "106", "106 x ULN is not plausible (at most 20 x ULN)"),
        ("bilirubin_uln", "60", "60 x ULN is not plausible (at most 50 x ULN)"),
        ("asat_uln", "150", "150 x ULN is not plausible (at most 100 x ULN)"),
        ("alat_uln", "101 x ULN", "101 x ULN is not plausible (at most 100 x ULN)"),
        ("creatinine_uln", "80 µmol/L", "80 µmol/L is a concentration, not a multiple of the ULN"),
        ("bilirubin_uln", "12 µmol/l", "12 µmol/l is a concentration, not a multiple of the ULN"),
        ("bilirubin_uln", "12 mg/L", "12 mg/L is a concentration, not a multiple of the ULN"),
        ("asat_uln", "45 UI/L", "45 UI/L is a concentration, not a multiple of the ULN"),
        ("alat_uln", "30 U/L", "30 U/L is a concentration, not a multiple of the ULN"),
    ],
)
def test_a_lab_value_typed_as_a_uln_multiple_is_refused_saying_why(
    say: Say, question: str, typed: str, error: str
) -> None:
    step = say(question, typed)
    assert not step.accepted
    assert (step.error or "").startswith(error)


def test_the_uln_concentration_message_in_french(say: Say) -> None:
    step = say("creatinine_uln", "80 µmol/L", "fr")
    assert step.error == (
        "80 µmol/L est une concentration, pas un multiple de la LSN : merci de saisir la "
        "valeur divisée par la limite supérieure de la normale du laboratoire (par ex. 1,2)."
    )


@pytest.mark.parametrize(
    ("question", "typed"),
    [
        ("creatinine_uln", "20"),
        ("creatinine_uln", "1,52 LSN"),
        ("bilirubin_uln", "50 x ULN"),
        ("asat_uln", "100"),
        ("alat_uln", "4,5"),
    ],
)
def test_uln_multiples_up_to_their_maximum_are_accepted(
    say: Say, question: str, typed: str
) -> None:
    assert say(question, typed).accepted


# -- French lab notations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "mg_dl", "shown"),
    [
        ("9 mg/L", 0.9, "9 mg/L (= 0.9 mg/dL)"),
        ("12,5 mg/l", 1.25, "12.5 mg/L (= 1.25 mg/dL)"),
    ],
)
def test_a_serum_creatinine_in_mg_per_litre_is_read_as_tenths_of_mg_dl(
    say: Say, typed: str, mg_dl: float, shown: str
) -> None:
    step = say("creatinine_clearance", typed)
    value = accepted_value(step)
    assert value.kind == "serum_creatinine" and float(value) == pytest.approx(mg_dl)
    assert step.display == shown


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0 mg/L", "0 mg/L is out of range: expected between 1 and 300 mg/L."),
        ("0,5 mg/L", "0.5 mg/L is out of range: expected between 1 and 300 mg/L."),
        ("880 mg/L", "880 mg/L is out of range: expected between 1 and 300 mg/L."),
    ],
)
def test_a_serum_creatinine_in_mg_per_litre_keeps_the_creatinine_limits(
    say: Say, typed: str, expected: str
) -> None:
    step = say("creatinine_clearance", typed)
    assert not step.accepted
    assert step.error == expected


def test_a_creatinine_in_mg_per_litre_gives_the_same_egfr_as_in_mg_dl(
    evaluate_acse: Callable[..., Any], eligible_record: dict[str, Any]
) -> None:
    in_mg_l = evaluate_acse({**eligible_record, "creatinine_clearance": "9 mg/L"})
    in_mg_dl = evaluate_acse({**eligible_record, "creatinine_clearance": "0.9 mg/dL"})
    egfr = in_mg_l.evaluation.computed["egfr"].value
    assert egfr == pytest.approx(in_mg_dl.evaluation.computed["egfr"].value)
    assert in_mg_l.evaluation.results["I10"].status == "pass"


@pytest.mark.parametrize(
    ("question", "typed", "canonical"),
    [
        ("anc", "1,5 10³/mm³", 1.5),  # QA: was "1,5 103 /mm³ n'est pas un nombre entier"
        ("anc", "1,5 10^3/mm3", 1.5),
        ("anc", "1,5 x10³/mm³", 1.5),
        ("platelets", "210 10³/mm³", 210),
        ("lymphocytes", "0,8 10³/µL", 0.8),
        ("lymphocytes", "1,3 103/mm3", 1.3),  # '1,3 103' cannot be a count: one reading
    ],
)
def test_thousands_per_mm3_are_read_as_10_9_per_litre(
    say: Say, question: str, typed: str, canonical: float
) -> None:
    value = accepted_value(say(question, typed, "fr"))
    assert float(value) == pytest.approx(canonical)
    assert value.input_value == pytest.approx(canonical) and value.input_unit == "×10⁹/L"


def test_a_count_that_reads_as_thousands_or_units_is_refused(say: Say) -> None:
    step = say("anc", "2 103/mm3", "fr")
    assert not step.accepted
    assert (step.error or "").startswith(
        "2 103/mm3 peut se lire 2103 /mm³ ou 2 ×10⁹/L : merci de le saisir à nouveau"
    )


@pytest.mark.parametrize(
    ("question", "typed", "lang", "error"),
    [
        (
            "creatinine_clearance",
            "> 90 mL/min",
            "en",
            "A value with '>' or '<' cannot be recorded: please type the exact value alone. "
            "If the report gives only the bound, typing 90 mL/min records the bound as the "
            "value: check it against the criterion's limit, or type /unknown.",
        ),
        (
            "creatinine_clearance",
            ">90 mL/min/1,73m2",
            "fr",
            "Une valeur avec « > » ou « < » ne peut pas être enregistrée : merci de saisir "
            "la valeur exacte seule.",
        ),
        # "(e.g. 90)" was refused next for its missing unit: the units are named instead.
        ("creatinine_clearance", ">90", "en", "exact value alone, with its unit, one of: mL/min"),
        # "> 1.5" typed "1.5" would pass a limit of ≤ 1.5: the bound is never offered as
        # the value without the warning.
        ("bilirubin_uln", "< 0,5", "fr", "saisir 0,5 l'enregistre comme valeur : vérifiez-la"),
        ("age", "> 18", "en", "typing 18 records the bound as the value"),
    ],
)
def test_a_value_with_a_comparison_sign_is_told_to_type_the_number_alone(
    say: Say, question: str, typed: str, lang: str, error: str
) -> None:
    step = say(question, typed, lang)
    assert not step.accepted
    assert error in (step.error or "")


@pytest.mark.parametrize(
    ("typed", "lang", "error"),
    [
        ("12/05/25", "en", "12/05/25: the year needs four digits (DD/MM/YYYY)."),
        ("30/5/25", "fr", "30/5/25 : l'année doit comporter quatre chiffres (JJ/MM/AAAA)."),
    ],
)
def test_a_two_digit_year_is_told_the_year_needs_four_digits(
    say: Say, typed: str, lang: str, error: str
) -> None:
    step = say("lab_date", typed, lang)
    assert not step.accepted
    assert step.error == error


# -- what a quantity question expects (QA: "with its unit" while a bare number is read) -----


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Please type a number: alone, it is read in /mm³; with a unit, one of: /mm³."),
        (
            "fr",
            "Merci de saisir un nombre : seul, il est lu en /mm³ ; avec une unité, parmi : /mm³.",
        ),
    ],
)
def test_the_cd4_hint_says_a_bare_number_is_read_in_its_default_unit(
    engine: Engine, lang: str, expected: str
) -> None:
    assert engine.expected("cd4", lang) == expected


def test_a_quantity_without_a_default_unit_still_asks_for_the_unit(engine: Engine) -> None:
    assert engine.expected("anc", "en") == (
        "Please type a number with its unit, one of: ×10⁹/L, /mm³."
    )
