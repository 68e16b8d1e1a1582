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

from dialogs.engine import Step
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
