"""Reasons a coordinator reads: they name the questions to chase, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dialogs.engine import Engine
from dialogs.protocol import Protocol
from dialogs.values import Answer, Quantity

Evaluate = Callable[[Mapping[str, Any]], Any]


def test_unknown_clearance_names_the_question_not_the_computed_value(
    evaluate_acse: Evaluate, eligible_record: dict[str, Any]
) -> None:
    result = evaluate_acse({**eligible_record, "creatinine_clearance": None})
    n11 = result.evaluation.results["N11"]
    assert n11.status == "unknown"
    assert n11.reason.endswith(
        " — unknown: Creatinine clearance (MDRD or CKD-EPI), or serum creatinine (with unit)"
    )
    assert n11.open_questions == ("creatinine_clearance",)
    assert "egfr" not in n11.reason.split(" — ")[-1]


def test_unknown_age_behind_a_serum_creatinine_names_age(
    evaluate_acse: Evaluate, eligible_record: dict[str, Any]
) -> None:
    record = {**eligible_record, "age": None, "creatinine_clearance": "70 µmol/L"}
    i10 = evaluate_acse(record).evaluation.results["I10"]
    assert i10.status == "unknown"
    assert i10.reason.endswith(" — unknown: Age (years)")
    assert i10.open_questions == ("age",)


def test_clearance_is_shown_with_its_unit_once(
    evaluate_acse: Evaluate, eligible_record: dict[str, Any]
) -> None:
    result = evaluate_acse({**eligible_record, "creatinine_clearance": "85 mL/min"})
    assert "mL/min mL/min" not in result.evaluation.results["I10"].reason
    assert "85 mL/min" in result.evaluation.results["I10"].reason


def test_french_reasons_use_a_decimal_comma(acse_protocol: Protocol) -> None:
    engine = Engine(acse_protocol)
    ev = engine.evaluate_answers(
        {"anc": Answer("anc", "1500/mm3", Quantity(1.5, "g_l", "cells", 1500, "/mm³"))}, "fr"
    )
    assert "1500 /mm³ (= 1,5 ×10⁹/L)" in ev.results["I09"].reason


def test_only_informative_computed_values_are_announced(acse_protocol: Protocol) -> None:
    engine = Engine(acse_protocol)
    with engine.attached("planned_start_date", {}, "en") as conv:
        engine.answer(conv, "2026-12-01")
        assert engine.answer(conv, "sarcoma").notices == ()  # the steroid limit is not news
        engine.goto(conv, "lab_date")
        step = engine.answer(conv, "2026-11-24")
        assert step.notices == ("Blood tests 7 days before the planned start (at most 14)",)


def test_no_corticosteroid_announces_no_prednisone_equivalent(acse_protocol: Protocol) -> None:
    engine = Engine(acse_protocol)
    with engine.attached("steroid_drug", {}, "en") as conv:
        assert engine.answer(conv, "none").notices == ()  # not "None — mg/day = 0 mg/day"
    with engine.attached("steroid_drug", {}, "en") as conv:
        engine.answer(conv, "prednisone")
        step = engine.answer(conv, "20")
        assert step.notices == ("Prednisone 20 mg/day = 20 mg/day prednisone-equivalent",)
