"""Unknown criteria name the questions to chase as the investigator was asked them.

An investigator (often French, on a phone) never sees a question ID: "unknown: anc" or
"not answered yet: lab_date" says nothing to them.  Reasons name questions by their
labels, in the conversation's language; the IDs stay in ``open_questions`` (and in the
stored ``to_json()``) for programs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.dialogs.conftest import Screen


def _why(reason: str) -> str:
    """The part of an unknown reason after the criterion's explanation."""
    return reason.split(" — ", 1)[1]


@pytest.mark.parametrize(
    ("criterion", "changes", "lang", "why", "ids"),
    [
        pytest.param(
            "I09",
            {"anc": None},
            "en",
            "unknown: Absolute neutrophil count (with unit)",
            ("anc",),
            id="I09-en-unknown-anc",
        ),
        pytest.param(
            "I09",
            {"anc": None},
            "fr",
            "inconnu : PNN — polynucléaires neutrophiles (avec l'unité)",
            ("anc",),
            id="I09-fr-unknown-anc",
        ),
        pytest.param(
            "I09",
            {"lab_date": None, "anc": None},
            "fr",
            # The freshness check and the rule: everything to chase, in the order asked.
            "inconnu : Date du bilan biologique ci-dessous ; "
            "PNN — polynucléaires neutrophiles (avec l'unité)",
            ("lab_date", "anc"),
            id="I09-fr-unknown-lab-date-and-anc",
        ),
        pytest.param(
            "N11",
            {"creatinine_clearance": None},
            "fr",
            # eGFR is computed: named by the question behind it.
            "inconnu : Clairance de la créatinine (MDRD ou CKD-EPI), ou créatininémie "
            "(avec l'unité)",
            ("creatinine_clearance",),
            id="N11-fr-computed-egfr-names-its-input",
        ),
        pytest.param(
            "I10",
            {"age": None, "creatinine_clearance": "70 µmol/L"},
            "fr",
            "inconnu : Âge (années)",
            ("age",),
            id="I10-fr-ckd-epi-needs-age",
        ),
        pytest.param(
            "N03",
            {"steroid_drug": "prednisone", "steroid_dose_mg": None},
            "en",
            "unknown: Its daily dose, in mg",
            ("steroid_dose_mg",),
            id="N03-en-unknown-dose",
        ),
        pytest.param(
            "N03",
            {"steroid_drug": None},
            "fr",
            # The dose is asked only for a corticosteroid: the drug is what to chase.
            "inconnu : Corticothérapie systémique en cours",
            ("steroid_drug",),
            id="N03-fr-unknown-drug",
        ),
        pytest.param(
            "I16",
            {"pregnancy_test_date": None},
            "en",
            "unknown: Date of that pregnancy test",
            ("pregnancy_test_date",),
            id="I16-en-unknown-test-date",
        ),
        pytest.param(
            "I05",
            {"cohort": "germ_cell", "recist_measurable": None},
            "en",
            # The markers were skipped (asked only without RECIST measurable disease):
            # RECIST decides whether they are asked at all, so RECIST is what to chase.
            "unknown: Measurable disease per RECIST v1.1",
            ("recist_measurable",),
            id="I05-en-skipped-markers-name-what-decides",
        ),
        pytest.param(
            "I02",
            {"cohort": "neuroendocrine", "net_subtype": None, "net_prior_lines": 3},
            "fr",
            "inconnu : Groupe de la tumeur neuroendocrine",
            ("net_subtype",),
            id="I02-fr-unknown-neuroendocrine-group",
        ),
    ],
)
def test_an_unknown_criterion_names_its_questions_by_their_labels(
    screen: Screen,
    eligible_record: dict[str, Any],
    criterion: str,
    changes: dict[str, Any],
    lang: str,
    why: str,
    ids: tuple[str, ...],
) -> None:
    result = screen({**eligible_record, **changes}, lang).results[criterion]

    assert result.status == "unknown"
    assert _why(result.reason) == why
    assert result.open_questions == ids
    for qid in ids:
        assert not re.search(rf"\b{qid}\b", result.reason), (qid, result.reason)


def test_a_question_whose_condition_is_unknown_is_named_by_what_decides_it(
    screen: Screen, eligible_record: dict[str, Any]
) -> None:
    """Not asked because its condition is unknown is not answered "unknown": no answer to
    "Sexually active?" leaves I15 (contraception) unknown, and the reason says why."""
    i15 = screen({**eligible_record, "sexually_active": None}, "fr").results["I15"]

    assert (i15.status, i15.reason) == ("unknown", "inconnu : Sexuellement actif/active")
    assert i15.open_questions == ("sexually_active",)


@pytest.mark.parametrize(
    ("criterion", "lang", "reason", "ids"),
    [
        pytest.param(
            "I09",
            "en",
            "ANC ? (≥ 1.0 ×10⁹/L), platelets ? (≥ 100 ×10⁹/L), haemoglobin ? (≥ 9 g/dL)"
            " — not answered yet: Date of the blood tests below; Absolute neutrophil count"
            " (with unit); Platelets (with unit); Haemoglobin (with unit)",
            ("lab_date", "anc", "platelets", "hemoglobin"),
            id="I09-en",
        ),
        pytest.param(
            "I09",
            "fr",
            "PNN ? (≥ 1,0 G/L), plaquettes ? (≥ 100 G/L), hémoglobine ? (≥ 9 g/dL)"
            " — pas encore renseigné : Date du bilan biologique ci-dessous ; PNN —"
            " polynucléaires neutrophiles (avec l'unité) ; Plaquettes (avec l'unité) ;"
            " Hémoglobine (avec l'unité)",
            ("lab_date", "anc", "platelets", "hemoglobin"),
            id="I09-fr",
        ),
        pytest.param(
            "I11",
            "en",
            # Gilbert's syndrome and liver metastases may never be asked: not listed.
            "Bilirubin ? x ULN (≤ 1.5, Gilbert's syndrome: ?), ASAT ? and ALAT ? x ULN"
            " (≤ 3, or ≤ 5 with liver metastases: ?) — not answered yet: Date of the blood"
            " tests below; Total bilirubin as a multiple of the ULN; ASAT (AST) as a"
            " multiple of the ULN; ALAT (ALT) as a multiple of the ULN",
            ("lab_date", "bilirubin_uln", "asat_uln", "alat_uln"),
            id="I11-en",
        ),
        pytest.param(
            "N12",
            "fr",
            "Lymphocytes ? (≥ 1000/mm³), ou CD4+ ? (≥ 500/mm³)"
            " — pas encore renseigné : Lymphocytes (avec l'unité)",
            ("lymphocytes",),
            id="N12-fr",
        ),
    ],
)
def test_labs_not_back_yet_are_listed_by_label_in_the_order_they_are_asked(
    screen: Screen,
    eligible_record: dict[str, Any],
    criterion: str,
    lang: str,
    reason: str,
    ids: tuple[str, ...],
) -> None:
    """Pre-screening done, the chat waits at the blood tests: what is left to type."""
    evaluation = screen(eligible_record, lang, until="lab_date")

    result = evaluation.results[criterion]
    assert (result.status, result.reason) == ("unknown", reason)
    assert result.open_questions == ids


def test_the_ids_stay_in_what_storage_keeps(
    screen: Screen, eligible_record: dict[str, Any]
) -> None:
    """Programs reading a stored verdict get the question IDs, not labels to parse."""
    evaluation = screen(eligible_record, "fr", until="lab_date")

    stored = json.loads(json.dumps(evaluation.results["I10"].to_json()))
    assert stored["status"] == "unknown"
    assert stored["open_questions"] == ["lab_date", "creatinine_clearance"]
    assert evaluation.results["I01"].to_json()["open_questions"] == []


def test_stale_labs_point_at_the_lab_date(screen: Screen, eligible_record: dict[str, Any]) -> None:
    """The freshness case's own reason says to repeat the labs; its IDs say which answer."""
    i09 = screen({**eligible_record, "lab_date": "2026-11-01"}, "en").results["I09"]

    assert i09.status == "unknown"
    assert i09.reason.startswith("labs older than 14 days before the planned start")
    assert i09.open_questions == ("lab_date",)


@pytest.mark.parametrize(
    ("criterion", "lang", "reason"),
    [
        ("N17", "en", "not answered yet: Active alcohol or drug abuse"),
        ("N17", "fr", "pas encore renseigné : Consommation abusive active d'alcool ou de drogues"),
        ("N18", "en", "not answered yet: Psychological, familial, social or geographical "
         "factors that would hamper compliance with the protocol"),
        ("N19", "fr", "pas encore renseigné : Toute autre situation qui, selon "
         "l'investigateur, rend la participation non souhaitable"),
    ]
)  # fmt: skip
def test_a_label_and_one_unknown_value_are_not_said_twice(
    screen: Screen, eligible_record: dict[str, Any], criterion: str, lang: str, reason: str
) -> None:
    """ "Active alcohol or drug abuse: ? — not answered yet: Active alcohol or drug abuse"
    said the same thing twice, under a criterion label saying it a third time."""
    result = screen(eligible_record, lang, until="substance_abuse").results[criterion]

    assert (result.status, result.reason) == ("unknown", reason)
