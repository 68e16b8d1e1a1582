"""Reasons leave out what was not asked: no "None — mg/day", no "— days before".

A criterion's explanation covers every path through the questions, but a patient takes
one: no corticosteroid means no dose, no radiotherapy means no delay and no site.  A
question that was not asked has no value, and the texts mark the parts that need one
(``[...]``, see ``dialogs.display.render``), so a reason reads as written for this
patient, in English and in French.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dialogs.display import question_label, render
from dialogs.engine import Engine
from dialogs.errors import ExpressionError
from dialogs.evaluation import Evaluation
from dialogs.messages import message
from dialogs.protocol import Protocol, parse_protocol
from dialogs.values import UNKNOWN
from tests.dialogs.conftest import Screen
from tests.fixtures import load_record

CRITERIA = [f"I{n:02d}" for n in range(1, 19)] + [f"N{n:02d}" for n in range(1, 20)]
LANGS = ("en", "fr")
MINI = Path(__file__).parent / "fixtures" / "mini.yaml"

# Realistic patients, each taking some optional branches and skipping others; every
# answer known, so every criterion passes, fails or does not apply.
PATIENTS: dict[str, dict[str, Any]] = {
    "sarcoma-woman-no-steroid-no-radiotherapy": {},
    "man": {"sex": "male"},
    "pcnsl": {"cohort": "pcnsl", "ipcg_measurable": "yes"},
    "neuroendocrine": {
        "cohort": "neuroendocrine",
        "net_subtype": "carcinoid",
        "net_prior_lines": 3,
    },
    "germ-cell-markers": {
        "cohort": "germ_cell",
        "recist_measurable": "no",
        "germ_cell_markers_abnormal": "yes",
    },
    "never-treated-still-in-a-trial": {
        "last_systemic_therapy_date": "none",
        "last_investigational_date": "ongoing",
    },
    "woman-not-of-childbearing-potential": {"childbearing_potential": "no"},
    "woman-not-sexually-active": {"sexually_active": "no"},
    "positive-pregnancy-test": {"pregnancy_test_negative": "no"},
    "symptomatic-cns-metastases": {"cns_metastases": "symptomatic"},
}


@pytest.fixture(scope="module")
def patients(screen: Screen) -> dict[tuple[str, str], Evaluation]:
    """Every patient screened once per language (the checks below only read them)."""
    screened: dict[tuple[str, str], Evaluation] = {}
    for name, changes in PATIENTS.items():
        for lang in LANGS:
            evaluation = screen({**load_record(), **changes}, lang)
            assert not evaluation.unknown, (name, [r.reason for r in evaluation.unknown])
            screened[name, lang] = evaluation
    return screened


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_no_reason_shows_a_question_that_was_not_asked(
    patients: dict[tuple[str, str], Evaluation], criterion: str, lang: str
) -> None:
    for name in PATIENTS:
        result = patients[name, lang].results[criterion]
        reason = result.reason
        if result.earliest_start is not None:
            when = result.earliest_start.strftime("%d/%m/%Y")
            reason = reason.removesuffix(" — " + message("earliest_start", lang, date=when))
        assert "—" not in reason, (name, reason)  # how a value not asked used to show
        assert "None" not in reason or criterion == "N09", (name, reason)  # "CNS: None"


@pytest.mark.parametrize("lang", LANGS)
def test_no_computed_value_shows_a_question_that_was_not_asked(
    patients: dict[tuple[str, str], Evaluation], lang: str
) -> None:
    for name in PATIENTS:
        for computed in patients[name, lang].computed.values():
            if computed.value is not None:
                assert "—" not in computed.text, (name, computed.id, computed.text)


@pytest.mark.parametrize(
    ("criterion", "patient", "lang", "reason"),
    [
        pytest.param(
            "N03",
            {},
            "en",
            "No systemic corticosteroid: 0 mg/day prednisone-equivalent"
            " (limit ≤ 10 mg/day, cohort Sarcoma)",
            id="N03-en-no-corticosteroid",
        ),
        pytest.param(
            "N03",
            {},
            "fr",
            "Pas de corticothérapie systémique : 0 mg/jour en équivalent prednisone"
            " (limite ≤ 10 mg/jour, cohorte Sarcome)",
            id="N03-fr-no-corticosteroid",
        ),
        pytest.param(
            "N03",
            {"steroid_drug": "dexamethasone", "steroid_dose_mg": "1,5"},
            "fr",
            "Dexaméthasone 1,5 mg/jour = 10 mg/jour en équivalent prednisone"
            " (limite ≤ 10 mg/jour, cohorte Sarcome)",
            id="N03-fr-dexamethasone",
        ),
        pytest.param(
            "I02",
            {},
            "en",
            "Histology confirmed: yes; cohort Sarcoma",
            id="I02-en-not-neuroendocrine",
        ),
        pytest.param(
            "I02",
            {"cohort": "neuroendocrine", "net_subtype": "carcinoid", "net_prior_lines": 3},
            "fr",
            "Histologie confirmée : oui ; cohorte Tumeur ou carcinome neuroendocrine ;"
            " groupe neuroendocrine Carcinoïde, 3 lignes antérieures (≥ 2 peu différencié"
            " ou carcinoïde, ≥ 4 bien différencié)",
            id="I02-fr-neuroendocrine",
        ),
        pytest.param(
            "I05",
            {"cohort": "pcnsl", "ipcg_measurable": "yes"},
            "en",
            "Cohort Primary CNS lymphoma; IPCG measurable yes",
            id="I05-en-pcnsl",
        ),
        pytest.param(
            "I05",
            {"cohort": "germ_cell", "recist_measurable": "no", "germ_cell_markers_abnormal": "yes"},
            "fr",
            "Cohorte Tumeur germinale ; mesurable RECIST non ; AFP/hCG/LDH anormaux oui",
            id="I05-fr-germ-cell-markers",
        ),
        pytest.param(
            "I07",
            {"last_systemic_therapy_date": "none"},
            "fr",
            "Dernier traitement systémique aucun (≥ 21 jours requis)",
            id="I07-fr-never-treated",
        ),
        pytest.param(
            "I11",
            {},
            "en",
            "Bilirubin 0.6 x ULN (≤ 1.5), ASAT 1.1 and ALAT 0.9 x ULN"
            " (≤ 3, or ≤ 5 with liver metastases)",
            id="I11-en-normal-liver-tests",
        ),
        pytest.param(
            "I11",
            {"bilirubin_uln": 2, "gilbert": "yes", "asat_uln": 4, "liver_metastases": "yes"},
            "en",
            "Bilirubin 2 x ULN (≤ 1.5, Gilbert's syndrome: yes), ASAT 4 and ALAT 0.9 x ULN"
            " (≤ 3, or ≤ 5 with liver metastases: yes)",
            id="I11-en-gilbert-and-liver-metastases",
        ),
        pytest.param(
            "I16",
            {"pregnancy_test_negative": "no"},
            "fr",
            "Test de grossesse négatif : non",
            id="I16-fr-positive-test",
        ),
        pytest.param("I17", {}, "en", "Breastfeeding no", id="I17-en-not-breastfeeding"),
        pytest.param(
            "N07",
            {},
            "fr",
            "Dernière radiothérapie aucune (exclut si < 21 jours hors encéphale/membres)",
            id="N07-fr-no-radiotherapy",
        ),
        pytest.param(
            "N08",
            {"last_investigational_date": "ongoing"},
            "en",
            "Last investigational drug / trial ongoing (≥ 21 days required; ongoing fails)",
            id="N08-en-ongoing",
        ),
        pytest.param("N09", {}, "en", "CNS metastases: None", id="N09-en-none"),
        pytest.param(
            "N09",
            {"cns_metastases": "treated", "cns_stable": "yes"},
            "fr",
            "Métastases cérébrales : Traitées ; stables : oui",
            id="N09-fr-treated-stable",
        ),
        pytest.param(
            "N12",
            {},
            "fr",
            "Lymphocytes 1,3 ×10⁹/L (≥ 1000/mm³)",
            id="N12-fr-no-cd4-needed",
        ),
        pytest.param(
            "N16",
            {},
            "en",
            "Last live vaccine none (≥ 30 days required)",
            id="N16-en-no-vaccine",
        ),
    ],
)
def test_the_reason_reads_as_written_for_this_patient(
    screen: Screen, criterion: str, patient: dict[str, Any], lang: str, reason: str
) -> None:
    evaluation = screen({**load_record(), **patient}, lang)

    assert evaluation.results[criterion].reason == reason


@pytest.mark.parametrize(
    ("patient", "lang", "text"),
    [
        ({}, "en", "No systemic corticosteroid: 0 mg/day prednisone-equivalent"),
        ({}, "fr", "Pas de corticothérapie systémique : 0 mg/jour en équivalent prednisone"),
        (
            {"steroid_drug": "prednisone", "steroid_dose_mg": 20},
            "en",
            "Prednisone 20 mg/day = 20 mg/day prednisone-equivalent",
        ),
    ],
)
def test_the_summary_shows_the_prednisone_equivalent_without_none(
    screen: Screen, patient: dict[str, Any], lang: str, text: str
) -> None:
    """The coordinator's summary lists computed values: no "None — mg/day = 0 mg/day"."""
    assert screen({**load_record(), **patient}, lang).computed["prednisone_eq"].text == text


def test_no_corticosteroid_still_announces_nothing(engine: Engine) -> None:
    """Answering "none" is not news worth a "Computed:" line in the chat (unchanged)."""
    with engine.attached("steroid_drug", {}, "fr") as conv:
        assert engine.answer(conv, "aucune").notices == ()


# ---------------------------------------------------------------------------------------
# The renderer's optional parts, on their own


@pytest.fixture(scope="module")
def mini() -> Protocol:
    return parse_protocol(MINI.read_text(encoding="utf-8"), str(MINI))


@pytest.mark.parametrize(
    ("template", "names", "shown"),
    [
        pytest.param("age {age}[, CD4 {cd4}]", {"age": 40, "cd4": None}, "age 40", id="dropped"),
        pytest.param(
            "age {age}[, CD4 {cd4}]", {"age": 40, "cd4": 300}, "age 40, CD4 300", id="kept"
        ),
        pytest.param(
            "age {age}[, CD4 {cd4}]",
            {"age": 40, "cd4": UNKNOWN},
            "age 40, CD4 ?",  # an unknown answer is something to chase: it shows
            id="unknown-shows",
        ),
        pytest.param(
            "[{cohort} {age} years = |no cohort: ]{age}",
            {"cohort": "alpha", "age": 40},
            "Alpha 40 years = 40",
            id="first-alternative",
        ),
        pytest.param(
            "[{cohort} {age} years = |no cohort: ]{age}",
            {"cohort": None, "age": 40},
            "no cohort: 40",
            id="second-alternative",
        ),
        pytest.param(
            "[[note]] {age}[ ({cd4})]", {"age": 40, "cd4": None}, "[note] 40", id="literal"
        ),
        pytest.param("{{age}} {age}", {"age": 40}, "{age} 40", id="braces-untouched"),
        pytest.param("date {lab_date}", {"lab_date": dt.date(2026, 11, 2)}, "date 02/11/2026"),
    ],
)
def test_optional_parts(mini: Protocol, template: str, names: dict[str, Any], shown: str) -> None:
    assert render(template, mini, names, "en") == shown


@pytest.mark.parametrize("template", ["age [{age}", "age {age}]", "[a [b] c]"])
def test_a_broken_optional_part_names_the_text(mini: Protocol, template: str) -> None:
    with pytest.raises(ExpressionError, match="cannot render"):
        render(template, mini, {"age": 40}, "en")


def test_a_label_loses_its_question_mark_whatever_the_space(mini: Protocol) -> None:
    """French puts a (no-break) space before "?"; a reason names the question without it."""
    text = MINI.read_text(encoding="utf-8").replace('fr: "Sous-type ?"', 'fr: "Sous-type\u202f?"')
    narrow = parse_protocol(text, str(MINI))
    assert question_label(narrow, "subtype", "fr") == "Sous-type"
    assert question_label(mini, "subtype", "fr") == "Sous-type"
    assert question_label(mini, "subtype", "en") == "Subtype"
