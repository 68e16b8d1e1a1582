"""Fixtures for the AcSé Pembrolizumab protocol rule tests.

The protocol file under test is the bundled version 1, loaded by path so that adding a
version 2 does not silently change what these tests check.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from dialogs.protocol import PROTOCOL_DIR, Protocol, load_protocol

ACSE_V1 = PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml"
# The day the records are evaluated, and the planned start every date is counted back from.
ACSE_TODAY = dt.date(2026, 11, 30)
ACSE_START = dt.date(2026, 12, 1)


@pytest.fixture(scope="session")
def acse_protocol() -> Protocol:
    return load_protocol(ACSE_V1)


@pytest.fixture(scope="session")
def evaluate_acse(acse_protocol: Protocol) -> Callable[[Mapping[str, Any]], Any]:
    """``evaluate(record) -> RecordResult`` on protocol v1, with today = ACSE_TODAY."""
    from dialogs.record import evaluate_record

    params = list(inspect.signature(evaluate_record).parameters)
    if params and params[0] == "protocol":
        # Contract: evaluate_record(protocol, record, today)
        def run(record: Mapping[str, Any]) -> Any:
            return evaluate_record(acse_protocol, record, ACSE_TODAY)

        return run

    from dialogs.engine import Engine

    engine = Engine(acse_protocol, clock=lambda: ACSE_TODAY)

    def run_engine(record: Mapping[str, Any]) -> Any:
        return evaluate_record(engine, record)

    return run_engine


@pytest.fixture
def eligible_record() -> dict[str, Any]:
    """An eligible sarcoma patient, typed as an investigator would (woman of childbearing
    potential, so every reproduction criterion applies).  Planned start 01/12/2026."""
    return {
        "planned_start_date": "2026-12-01",
        "cohort": "sarcoma",
        "histology_confirmed": "yes",
        "advanced_refractory": "yes",
        "prior_anti_pd1": "no",
        "other_trial_available": "no",
        "consent_signed": "yes",
        "age": 54,
        "sex": "female",
        "ecog": 1,
        "life_expectancy_90d": "yes",
        "recist_measurable": "yes",
        "ffpe_available": "yes",
        "social_security": "yes",
        "cns_metastases": "none",
        "leptomeningeal": "no",
        "autoimmune_systemic_2y": "no",
        "pneumonitis": "no",
        "mab_hypersensitivity": "no",
        "other_malignancy_5y": "no",
        "active_infection": "no",
        "hbv_hcv_hiv_tb": "no",
        "substance_abuse": "no",
        "compliance_concerns": "no",
        "investigator_concern": "no",
        "last_systemic_therapy_date": "2026-10-20",  # 42 days
        "toxicity_grade": 1,
        "last_radiotherapy_date": "none",
        "last_investigational_date": "none",
        "last_live_vaccine_date": "none",
        "steroid_drug": "none",
        "childbearing_potential": "yes",
        "pregnancy_test_negative": "yes",
        "pregnancy_test_date": "2026-11-29",  # 2 days
        "breastfeeding": "no",
        "sexually_active": "yes",
        "contraception_agreed": "yes",
        "lab_date": "2026-11-24",  # 7 days
        "anc": "2.1 G/L",
        "platelets": "210 G/L",
        "hemoglobin": "11.5 g/dL",
        "lymphocytes": "1.3 G/L",
        "creatinine_clearance": "85 mL/min",
        "creatinine_uln": 0.8,
        "bilirubin_uln": 0.6,
        "asat_uln": 1.1,
        "alat_uln": 0.9,
        "calcium_normal": "yes",
        "magnesium_normal": "yes",
    }
