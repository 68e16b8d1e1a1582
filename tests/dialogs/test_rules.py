"""The spec's rules, one parametrised test per criterion, on protocol v1.

Every case starts from an eligible sarcoma record (conftest ``eligible_record``), changes
one or two answers, and asserts the criterion's status, that no other criterion moved
(unless the case says which ones do), and that the verdict follows.  Boundaries come from
the spec's Rules table and Interpretations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from dialogs.errors import RecordError
from dialogs.expressions import ckd_epi_2021

START = dt.date(2026, 12, 1)  # eligible_record's planned_start_date
DROP = object()  # remove the answer from the record (absent = unknown)

Evaluate = Callable[..., Any]
Case = tuple[dict[str, Any], str, dict[str, Any]]


def ago(days: int, fr: bool = False) -> str:
    """The date ``days`` before the planned start, typed ISO or DD/MM/YYYY."""
    day = START - dt.timedelta(days=days)
    return day.strftime("%d/%m/%Y") if fr else day.isoformat()


def after(days: int) -> dt.date:
    return START + dt.timedelta(days=days)


VERDICT = {
    "fail": "not_eligible",
    "unknown": "incomplete",
    "pass": "eligible",
    "not_applicable": "eligible",
}


def check(
    evaluate: Evaluate,
    base: dict[str, Any],
    changes: dict[str, Any],
    cid: str,
    status: str,
    extra: dict[str, Any] | None = None,
) -> Any:
    """Apply ``changes``, evaluate, and assert ``cid``'s status and the verdict.

    ``extra`` may hold: ``others`` {criterion: status} for criteria the change also moves,
    ``earliest`` (date or None), ``reason`` (substring), ``flagged`` (bool),
    ``computed`` {id: value (approx)}, ``verdict`` (override), ``today`` (the day to
    evaluate on: a lab drawn on the planned start day is typed on that day, not before).
    """
    extra = extra or {}
    record = dict(base)
    for key, value in changes.items():
        if value is DROP:
            record.pop(key, None)
        else:
            record[key] = value
    result = evaluate(record, **({"today": extra["today"]} if "today" in extra else {}))
    ev = result.evaluation
    res = ev.results[cid]
    assert res.status == status, (cid, res.status, res.reason)
    others: dict[str, str] = extra.get("others", {})
    for other_id, other in ev.results.items():
        if other_id == cid:
            continue
        expected = others.get(other_id)
        if expected is None:
            assert other.status in ("pass", "not_applicable"), (
                other_id,
                other.status,
                other.reason,
            )
        else:
            assert other.status == expected, (other_id, other.status, other.reason)
    statuses = {status, *others.values()}
    verdict = (
        "not_eligible"
        if "fail" in statuses
        else "incomplete"
        if "unknown" in statuses
        else "eligible"
    )
    assert ev.verdict == extra.get("verdict", verdict), (ev.verdict, res.reason)
    assert VERDICT[status] == "eligible" or ev.verdict != "eligible"
    if "earliest" in extra:
        assert res.earliest_start == extra["earliest"], res.earliest_start
    if "reason" in extra:
        assert extra["reason"] in res.reason, res.reason
    if "flagged" in extra:
        assert bool(res.flagged) is extra["flagged"], res.flagged
    for computed_id, value in extra.get("computed", {}).items():
        assert ev.computed[computed_id].value == pytest.approx(value, abs=0.01), (
            computed_id,
            ev.computed[computed_id].value,
        )
    return result


def case(id_: str, changes: dict[str, Any], status: str, **extra: Any) -> Any:
    return pytest.param(changes, status, extra, id=id_)


# ---------------------------------------------------------------------------------------
# The base record


def test_eligible_record_is_eligible(evaluate_acse: Evaluate, eligible_record: dict) -> None:
    assert eligible_record["planned_start_date"] == START.isoformat()
    result = evaluate_acse(eligible_record)
    ev = result.evaluation
    assert ev.verdict == "eligible", {k: (r.status, r.reason) for k, r in ev.results.items()}
    assert set(ev.results) == {f"I{n:02d}" for n in range(1, 19)} | {
        f"N{n:02d}" for n in range(1, 20)
    }
    assert all(r.status == "pass" for r in ev.results.values())
    assert result.unused == ()
    assert ev.computed["prednisone_eq"].value == 0
    assert ev.computed["egfr"].value == pytest.approx(85)


# ---------------------------------------------------------------------------------------
# Inclusion criteria

YESNO_I = {
    "I01": "consent_signed",
    "I03": "advanced_refractory",
    "I06": "ffpe_available",
    "I14": "life_expectancy_90d",
    "I18": "social_security",
}


@pytest.mark.parametrize(
    ("cid", "changes", "status"),
    [
        pytest.param(cid, {qid: answer}, status, id=f"{cid}-{status}-{answer}")
        for cid, qid in YESNO_I.items()
        for answer, status in (
            ("yes", "pass"),
            ("no", "fail"),
            ("oui", "pass"),
            ("non", "fail"),
            ("inconnu", "unknown"),
            (None, "unknown"),
        )
    ],
)
def test_yesno_inclusion(
    evaluate_acse: Evaluate, eligible_record: dict, cid: str, changes: dict, status: str
) -> None:
    check(evaluate_acse, eligible_record, changes, cid, status)


NET = {"cohort": "neuroendocrine"}


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I02-pass", {}, "pass"),
        case("I02-fail-histology", {"histology_confirmed": "no"}, "fail"),
        case("I02-unknown-histology", {"histology_confirmed": "unknown"}, "unknown"),
        case(
            "I02-pass-net-poorly-2",
            {**NET, "net_subtype": "poorly_differentiated", "net_prior_lines": 2},
            "pass",
        ),
        case(
            "I02-fail-net-poorly-1",
            {**NET, "net_subtype": "poorly_differentiated", "net_prior_lines": 1},
            "fail",
        ),
        case(
            "I02-pass-net-well-4",
            {**NET, "net_subtype": "well_differentiated", "net_prior_lines": 4},
            "pass",
        ),
        case(
            "I02-fail-net-well-3",
            {**NET, "net_subtype": "well_differentiated", "net_prior_lines": 3},
            "fail",
        ),
        case(
            "I02-pass-net-carcinoid-2",
            {**NET, "net_subtype": "carcinoid", "net_prior_lines": 2},
            "pass",
        ),
        case(
            "I02-fail-net-carcinoid-1",
            {**NET, "net_subtype": "carcinoid", "net_prior_lines": 1},
            "fail",
        ),
        case(
            "I02-fail-net-0-lines",
            {**NET, "net_subtype": "carcinoïde", "net_prior_lines": 0},
            "fail",
        ),
        case(
            "I02-pass-net-subtype-unknown-4-lines",
            {**NET, "net_subtype": None, "net_prior_lines": 4},
            "pass",
        ),
        case(
            "I02-unknown-net-subtype-unknown-2-lines",
            {**NET, "net_subtype": None, "net_prior_lines": 2},
            "unknown",
        ),
        case(
            "I02-unknown-net-lines-unknown",
            {**NET, "net_subtype": "carcinoid", "net_prior_lines": "inconnu"},
            "unknown",
        ),
        case(
            "I02-fail-net-histology-no",
            {**NET, "net_subtype": "carcinoid", "net_prior_lines": 5, "histology_confirmed": "no"},
            "fail",
        ),
        case(
            "I02-pass-thyroid-anaplastic",
            {"cohort": "thyroid", "thyroid_subtype": "anaplastic"},
            "pass",
        ),
        case(
            "I02-pass-thyroid-medullary-fr",
            {"cohort": "thyroïde", "thyroid_subtype": "médullaire"},
            "pass",
        ),
        case("I02-pass-ovarian", {"cohort": "ovaire"}, "pass"),
    ],
)
def test_I02(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I02", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I04-pass-18", {"age": 18}, "pass"),
        case("I04-fail-17", {"age": 17}, "fail"),
        case("I04-pass-90", {"age": "90"}, "pass"),
        case("I04-fail-0", {"age": 0}, "fail"),
        case("I04-unknown", {"age": None}, "unknown"),
    ],
)
def test_I04(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I04", status, extra)


PCNSL = {"cohort": "pcnsl", "leptomeningeal": DROP, "recist_measurable": DROP}
GERM = {"cohort": "germ_cell"}


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I05-pass-recist", {}, "pass"),
        case("I05-fail-recist-no", {"recist_measurable": "no"}, "fail"),
        case("I05-unknown-recist", {"recist_measurable": "unknown"}, "unknown"),
        case(
            "I05-pass-pcnsl-ipcg",
            {**PCNSL, "ipcg_measurable": "yes"},
            "pass",
            others={"N10": "not_applicable"},
        ),
        case(
            "I05-fail-pcnsl-ipcg-no",
            {**PCNSL, "ipcg_measurable": "no"},
            "fail",
            others={"N10": "not_applicable"},
        ),
        case("I05-pass-germ-recist", {**GERM, "recist_measurable": "yes"}, "pass"),
        case(
            "I05-pass-germ-markers",
            {**GERM, "recist_measurable": "no", "germ_cell_markers_abnormal": "yes"},
            "pass",
        ),
        case(
            "I05-fail-germ-no-markers",
            {**GERM, "recist_measurable": "non", "germ_cell_markers_abnormal": "non"},
            "fail",
        ),
        case(
            "I05-unknown-germ-markers",
            {**GERM, "recist_measurable": "no", "germ_cell_markers_abnormal": None},
            "unknown",
        ),
    ],
)
def test_I05(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I05", status, extra)


def test_I05_germ_cell_markers_not_asked_when_recist_measurable(
    evaluate_acse: Evaluate, eligible_record: dict
) -> None:
    record = {**eligible_record, **GERM, "germ_cell_markers_abnormal": "no"}
    result = evaluate_acse(record)
    assert result.evaluation.results["I05"].status == "pass"
    assert "germ_cell_markers_abnormal" in result.unused


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I07-pass-none", {"last_systemic_therapy_date": "none"}, "pass"),
        case("I07-pass-aucun", {"last_systemic_therapy_date": "aucun"}, "pass"),
        case("I07-pass-gap-21", {"last_systemic_therapy_date": ago(21)}, "pass"),
        case("I07-fail-gap-20", {"last_systemic_therapy_date": ago(20)}, "fail", earliest=after(1)),
        case(
            "I07-fail-gap-0-fr",
            {"last_systemic_therapy_date": ago(0, fr=True)},
            "fail",
            earliest=after(21),
            today=START,
        ),
        case("I07-unknown", {"last_systemic_therapy_date": "ne sais pas"}, "unknown"),
    ],
)
def test_I07(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    result = check(evaluate_acse, eligible_record, changes, "I07", status, extra)
    if status == "fail":
        assert result.evaluation.earliest_start == extra["earliest"]
        assert extra["earliest"].strftime("%d/%m/%Y") in result.evaluation.results["I07"].reason


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I08-pass-0", {"toxicity_grade": 0}, "pass"),
        case("I08-pass-1", {"toxicity_grade": 1}, "pass"),
        case("I08-fail-2", {"toxicity_grade": 2}, "fail"),
        case("I08-fail-5", {"toxicity_grade": "5"}, "fail"),
        case("I08-unknown", {"toxicity_grade": None}, "unknown"),
    ],
)
def test_I08(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I08", status, extra)


STALE = "labs older than 14 days before the planned start: repeat them"
ALL_LABS_UNKNOWN = {"I10": "unknown", "I11": "unknown", "I12": "unknown"}


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I09-pass-anc-1500-mm3", {"anc": "1500/mm3"}, "pass"),
        case("I09-pass-anc-1.0-G/L", {"anc": "1.0 G/L"}, "pass"),
        case("I09-pass-anc-1,0-10^9/L", {"anc": "1,0 10^9/L"}, "pass"),
        case("I09-pass-anc-1000-per-uL", {"anc": "1000 /µL"}, "pass"),
        case("I09-fail-anc-999-mm3", {"anc": "999/mm3"}, "fail"),
        case("I09-fail-anc-0,9-G/L", {"anc": "0,9 G/L"}, "fail"),
        case("I09-pass-platelets-100", {"platelets": "100 G/L"}, "pass"),
        case("I09-pass-platelets-100000-mm3", {"platelets": "100 000/mm3"}, "pass"),
        case("I09-fail-platelets-99000-mm3", {"platelets": "99000/mm3"}, "fail"),
        case("I09-pass-hb-90-g/L", {"hemoglobin": "90 g/L"}, "pass"),
        case("I09-fail-hb-89-g/L", {"hemoglobin": "89 g/L"}, "fail"),
        case("I09-pass-hb-9-g/dL", {"hemoglobin": "9 g/dL"}, "pass"),
        case("I09-fail-hb-8,9-g/dL", {"hemoglobin": "8,9 g/dL"}, "fail"),
        case("I09-pass-hb-5.6-mmol/L", {"hemoglobin": "5.6 mmol/L"}, "pass"),  # 9.02 g/dL
        case("I09-fail-hb-5.5-mmol/L", {"hemoglobin": "5,5 mmol/l"}, "fail"),  # 8.86 g/dL
        case("I09-unknown-anc", {"anc": "inconnu"}, "unknown"),
        case("I09-fail-despite-unknown-platelets", {"anc": "0.5 G/L", "platelets": None}, "fail"),
        case("I09-pass-labs-14-days", {"lab_date": ago(14)}, "pass"),
        case("I09-pass-labs-today", {"lab_date": ago(0)}, "pass", today=START),
        case(
            "I09-unknown-labs-15-days",
            {"lab_date": ago(15)},
            "unknown",
            reason=STALE,
            others=ALL_LABS_UNKNOWN,
        ),
        case(
            "I09-unknown-labs-15-days-even-if-low",
            {"lab_date": ago(15), "anc": "0.5 G/L"},
            "unknown",
            reason=STALE,
            others=ALL_LABS_UNKNOWN,
        ),
        case("I09-unknown-lab-date", {"lab_date": None}, "unknown", others=ALL_LABS_UNKNOWN),
    ],
)
def test_I09(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I09", status, extra)


ANC_TEXTS = [
    "1500/mm3",
    "1.5 G/L",
    "1,5 x10^9/L",
    "1500 cells/µL",
    "1.5 ×10⁹/L",
    "1,5 G/l",
    "1500/mm³",
    "1.5 10e9/L",
]


@pytest.mark.parametrize("text", ANC_TEXTS)
def test_I09_anc_units_are_converted_to_g_l(
    evaluate_acse: Evaluate, eligible_record: dict, text: str
) -> None:
    # 1.5 G/L passes and 0.9 G/L fails: the conversion must land on the right side.
    check(evaluate_acse, eligible_record, {"anc": text}, "I09", "pass")
    low = text.replace("1500", "900").replace("1.5", "0.9").replace("1,5", "0,9")
    check(evaluate_acse, eligible_record, {"anc": low}, "I09", "fail")


CREAT_70_F54 = ckd_epi_2021(70 / 88.4, 54, "female")  # ≈ 88.6


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I10-pass-50-mL/min", {"creatinine_clearance": "50 mL/min"}, "pass"),
        case(
            "I10-fail-49-mL/min",
            {"creatinine_clearance": "49 mL/min"},
            "fail",
            others={"N11": "fail"},
        ),
        case(
            "I10-fail-49,5-mL/min/1.73m2",
            {"creatinine_clearance": "49,5 mL/min/1.73m2"},
            "fail",
            others={"N11": "fail"},
        ),
        case(
            "I10-pass-ckd-epi-70-umol/L",
            {"creatinine_clearance": "70 µmol/L"},
            "pass",
            computed={"egfr": 88.58},
        ),
        case(
            "I10-pass-ckd-epi-70-umol/L-ascii",
            {"creatinine_clearance": "70 umol/l"},
            "pass",
            computed={"egfr": CREAT_70_F54},
        ),
        case(
            "I10-fail-ckd-epi-150-umol/L",
            {"creatinine_clearance": "150 µmol/L"},
            "fail",
            computed={"egfr": 35.49},
            others={"N11": "fail"},
        ),
        case(
            "I10-fail-ckd-epi-2-mg/dL",
            {"creatinine_clearance": "2.0 mg/dL"},
            "fail",
            computed={"egfr": 29.14},
            others={"N11": "fail"},
        ),
        case(
            "I10-pass-ckd-epi-male-100-umol/L",
            {"creatinine_clearance": "100 µmol/L", "sex": "male"},
            "pass",
            computed={"egfr": 77.14},
            others={"I16": "not_applicable", "I17": "not_applicable"},
        ),
        case(
            "I10-unknown-age-with-serum-creatinine",
            {"creatinine_clearance": "70 µmol/L", "age": None},
            "unknown",
            others={"I04": "unknown", "N11": "unknown"},
        ),
        case("I10-unknown", {"creatinine_clearance": None}, "unknown", others={"N11": "unknown"}),
        case(
            "I10-unknown-labs-15-days",
            {"lab_date": ago(15)},
            "unknown",
            reason=STALE,
            others={"I09": "unknown", "I11": "unknown", "I12": "unknown"},
        ),
    ],
)
def test_I10(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I10", status, extra)


def test_I10_ckd_epi_is_explained(evaluate_acse: Evaluate, eligible_record: dict) -> None:
    result = evaluate_acse({**eligible_record, "creatinine_clearance": "70 µmol/L"})
    text = result.evaluation.computed["egfr"].text
    assert "CKD-EPI 2021" in text and "70" in text and "54" in text, text


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I11-pass-bili-1,5-LSN", {"bilirubin_uln": "1,5 LSN"}, "pass"),
        case("I11-pass-bili-1,2-LSN", {"bilirubin_uln": "1,2 LSN"}, "pass"),
        case("I11-pass-bili-1.2-x-ULN", {"bilirubin_uln": "1.2 x ULN"}, "pass"),
        case("I11-fail-bili-1.6", {"bilirubin_uln": "1.6", "gilbert": "no"}, "fail"),
        case("I11-pass-bili-1.6-gilbert", {"bilirubin_uln": "1.6", "gilbert": "oui"}, "pass"),
        case(
            "I11-unknown-bili-1.6-gilbert-unknown",
            {"bilirubin_uln": 1.6, "gilbert": None},
            "unknown",
        ),
        case("I11-pass-asat-3", {"asat_uln": 3}, "pass"),
        case("I11-fail-asat-3.1", {"asat_uln": 3.1, "liver_metastases": "no"}, "fail"),
        case(
            "I11-pass-asat-5-liver-mets", {"asat_uln": "5 x ULN", "liver_metastases": "yes"}, "pass"
        ),
        case("I11-fail-asat-5.1-liver-mets", {"asat_uln": 5.1, "liver_metastases": "yes"}, "fail"),
        case("I11-fail-alat-4", {"alat_uln": "4 LSN", "liver_metastases": "non"}, "fail"),
        case(
            "I11-pass-alat-4-liver-mets", {"alat_uln": "4 LSN", "liver_metastases": "oui"}, "pass"
        ),
        case("I11-unknown-alat", {"alat_uln": "inconnu"}, "unknown"),
        case(
            "I11-unknown-labs-15-days",
            {"lab_date": ago(15)},
            "unknown",
            reason=STALE,
            others={"I09": "unknown", "I10": "unknown", "I12": "unknown"},
        ),
    ],
)
def test_I11(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I11", status, extra)


def test_I11_gilbert_and_liver_metastases_not_asked_when_normal(
    evaluate_acse: Evaluate, eligible_record: dict
) -> None:
    result = evaluate_acse({**eligible_record, "gilbert": "yes", "liver_metastases": "yes"})
    assert set(result.unused) == {"gilbert", "liver_metastases"}
    assert result.evaluation.results["I11"].status == "pass"


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I12-pass", {}, "pass"),
        case("I12-fail-calcium", {"calcium_normal": "no"}, "fail"),
        case("I12-fail-magnesium", {"magnesium_normal": "non"}, "fail"),
        case("I12-unknown-magnesium", {"magnesium_normal": None}, "unknown"),
        case(
            "I12-unknown-labs-15-days",
            {"lab_date": ago(15)},
            "unknown",
            reason=STALE,
            others={"I09": "unknown", "I10": "unknown", "I11": "unknown"},
        ),
    ],
)
def test_I12(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I12", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I13-pass-0", {"ecog": 0}, "pass"),
        case("I13-pass-1", {"ecog": 1}, "pass"),
        case("I13-fail-2", {"ecog": 2}, "fail"),
        case("I13-unknown", {"ecog": None}, "unknown"),
    ],
)
def test_I13(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I13", status, extra)


MALE = {"sex": "male"}
MALE_NA = {"I16": "not_applicable", "I17": "not_applicable"}
NO_CBP = {"childbearing_potential": "no"}
NO_CBP_NA = {"I15": "not_applicable", "I16": "not_applicable"}


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I15-pass", {}, "pass"),
        case("I15-fail", {"contraception_agreed": "no"}, "fail"),
        case("I15-unknown", {"contraception_agreed": None}, "unknown"),
        case("I15-na-not-sexually-active", {"sexually_active": "no"}, "not_applicable"),
        case(
            "I15-na-no-childbearing-potential",
            NO_CBP,
            "not_applicable",
            others={"I16": "not_applicable"},
        ),
        case("I15-pass-male", {**MALE, "contraception_agreed": "yes"}, "pass", others=MALE_NA),
        case("I15-fail-male", {**MALE, "contraception_agreed": "no"}, "fail", others=MALE_NA),
        case(
            "I15-na-male-not-active",
            {**MALE, "sexually_active": "non"},
            "not_applicable",
            others=MALE_NA,
        ),
        case(
            "I15-unknown-male-activity-unknown",
            {**MALE, "sexually_active": None},
            "unknown",
            others=MALE_NA,
        ),
    ],
)
def test_I15(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I15", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I16-pass-2-days", {}, "pass"),
        case("I16-pass-3-days", {"pregnancy_test_date": ago(3)}, "pass"),
        case("I16-pass-same-day", {"pregnancy_test_date": ago(0, fr=True)}, "pass", today=START),
        case(
            "I16-unknown-4-days",
            {"pregnancy_test_date": ago(4)},
            "unknown",
            reason="older than 3 days",
        ),
        case("I16-fail-positive", {"pregnancy_test_negative": "no"}, "fail"),
        case("I16-unknown-test", {"pregnancy_test_negative": None}, "unknown"),
        case("I16-unknown-date", {"pregnancy_test_date": None}, "unknown"),
        case("I16-na-male", MALE, "not_applicable", others={"I17": "not_applicable"}),
        case(
            "I16-na-no-childbearing-potential",
            NO_CBP,
            "not_applicable",
            others={"I15": "not_applicable"},
        ),
    ],
)
def test_I16(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I16", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("I17-pass-not-breastfeeding", {}, "pass"),
        case(
            "I17-pass-stop-agreed",
            {"breastfeeding": "yes", "breastfeeding_stop_agreed": "yes"},
            "pass",
        ),
        case(
            "I17-fail-stop-not-agreed",
            {"breastfeeding": "oui", "breastfeeding_stop_agreed": "non"},
            "fail",
        ),
        case("I17-unknown", {"breastfeeding": "yes", "breastfeeding_stop_agreed": None}, "unknown"),
        case("I17-na-male", MALE, "not_applicable", others={"I16": "not_applicable"}),
    ],
)
def test_I17(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "I17", status, extra)


def test_male_record_lists_female_answers_as_unused(
    evaluate_acse: Evaluate, eligible_record: dict
) -> None:
    result = evaluate_acse({**eligible_record, **MALE})
    assert set(result.unused) == {
        "childbearing_potential",
        "pregnancy_test_negative",
        "pregnancy_test_date",
        "breastfeeding",
    }
    statuses = result.evaluation.statuses()
    assert (statuses["I15"], statuses["I16"], statuses["I17"]) == (
        "pass",
        "not_applicable",
        "not_applicable",
    )
    assert result.evaluation.verdict == "eligible"


# ---------------------------------------------------------------------------------------
# Non-inclusion criteria (pass = the excluding condition is absent)

YESNO_N = {
    "N01": "prior_anti_pd1",
    "N02": "other_trial_available",
    "N04": "autoimmune_systemic_2y",
    "N05": "pneumonitis",
    "N06": "mab_hypersensitivity",
    "N13": "other_malignancy_5y",
    "N14": "active_infection",
    "N15": "hbv_hcv_hiv_tb",
    "N17": "substance_abuse",
    "N18": "compliance_concerns",
    "N19": "investigator_concern",
}


@pytest.mark.parametrize(
    ("cid", "changes", "status"),
    [
        pytest.param(cid, {qid: answer}, status, id=f"{cid}-{status}-{answer}")
        for cid, qid in YESNO_N.items()
        for answer, status in (
            ("no", "pass"),
            ("yes", "fail"),
            ("non", "pass"),
            ("o", "fail"),
            ("inconnu", "unknown"),
            (DROP, "unknown"),
        )
    ],
)
def test_yesno_non_inclusion(
    evaluate_acse: Evaluate, eligible_record: dict, cid: str, changes: dict, status: str
) -> None:
    check(evaluate_acse, eligible_record, changes, cid, status)


def steroid(drug: str, dose: Any, **more: Any) -> dict[str, Any]:
    return {"steroid_drug": drug, "steroid_dose_mg": dose, **more}


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N03-pass-none", steroid("none", DROP), "pass", computed={"prednisone_eq": 0}),
        case(
            "N03-pass-prednisone-10",
            steroid("prednisone", 10),
            "pass",
            computed={"prednisone_eq": 10},
        ),
        case(
            "N03-fail-prednisone-12.5",
            steroid("prednisone", "12,5"),
            "fail",
            computed={"prednisone_eq": 12.5},
        ),
        case("N03-pass-prednisolone-10mg", steroid("prednisolone", "10 mg"), "pass"),
        case(
            "N03-pass-dexamethasone-1.5",
            steroid("dexamethasone", 1.5),
            "pass",
            computed={"prednisone_eq": 10},
        ),
        case(
            "N03-fail-dexamethasone-2",
            steroid("dexaméthasone", 2),
            "fail",
            computed={"prednisone_eq": 13.333333},
        ),
        # Just above the limit fails (interpretation 3): the equivalent was rounded to
        # 0.1 mg before the comparison, and these passed.
        case("N03-fail-prednisone-10.04", steroid("prednisone", "10,04"), "fail"),
        case("N03-fail-hydrocortisone-40.1", steroid("hydrocortisone", "40,1"), "fail"),
        case("N03-fail-methylprednisolone-8.04", steroid("methylprednisolone", "8,04"), "fail"),
        case("N03-fail-dexamethasone-1.51", steroid("dexamethasone", "1,51"), "fail"),
        case(
            "N03-pass-betamethasone-1.2",
            steroid("betamethasone", 1.2),
            "pass",
            computed={"prednisone_eq": 10},
        ),
        case(
            "N03-pass-methylprednisolone-8",
            steroid("methylprednisolone", 8),
            "pass",
            computed={"prednisone_eq": 10},
        ),
        case(
            "N03-fail-methylprednisolone-16",
            steroid("medrol", 16),
            "fail",
            computed={"prednisone_eq": 20},
        ),
        case(
            "N03-pass-hydrocortisone-40",
            steroid("hydrocortisone", 40),
            "pass",
            computed={"prednisone_eq": 10},
        ),
        case("N03-fail-hydrocortisone-60", steroid("hydrocortisone", 60), "fail"),
        case("N03-fail-sarcoma-prednisone-20", steroid("prednisone", 20), "fail"),
        case(
            "N03-pass-pcnsl-prednisone-20",
            steroid("prednisone", 20, **PCNSL, ipcg_measurable="yes"),
            "pass",
            others={"N10": "not_applicable"},
            computed={"steroid_limit": 20},
        ),
        case(
            "N03-fail-pcnsl-prednisone-25",
            steroid("prednisone", 25, **PCNSL, ipcg_measurable="yes"),
            "fail",
            others={"N10": "not_applicable"},
        ),
        case(
            "N03-pass-germ-cell-dexamethasone-3",
            steroid("dexamethasone", 3, **GERM),
            "pass",
            computed={"prednisone_eq": 20, "steroid_limit": 20},
        ),
        case("N03-fail-germ-cell-prednisone-20.5", steroid("prednisone", "20,5", **GERM), "fail"),
        case("N03-fail-germ-cell-prednisone-20.04", steroid("prednisone", "20,04", **GERM), "fail"),
        case("N03-unknown-dose", steroid("prednisone", None), "unknown"),
        case("N03-unknown-drug", steroid("unknown", DROP), "unknown"),
    ],
)
def test_N03(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "N03", status, extra)


@pytest.mark.parametrize(
    ("changes", "cid", "quoted"),
    [
        pytest.param({"anc": "999/mm3"}, "I09", "(= 0.999 ×10⁹/L)", id="I09-anc-999"),
        pytest.param({"platelets": "99999/mm3"}, "I09", "(= 99.999 ×10⁹/L)", id="I09-plt"),
        pytest.param({"hemoglobin": "89,9 g/L"}, "I09", "(= 8.99 g/dL)", id="I09-hb"),
        pytest.param({"creatinine_clearance": "49,99 mL/min"}, "I10", "49.99", id="I10"),
        pytest.param({"bilirubin_uln": "1,51", "gilbert": "no"}, "I11", "1.51", id="I11"),
        pytest.param({"asat_uln": "3,01", "liver_metastases": "no"}, "I11", "3.01", id="I11-asat"),
        pytest.param(steroid("prednisone", "10,04"), "N03", "10.04 mg/day", id="N03"),
        pytest.param(  # CKD-EPI 2021 gives 49.9998: three decimals would show 50
            {"age": 70, "sex": "male", "creatinine_clearance": "132,1 µmol/L"},
            "I10",
            "49.9998",
            id="I10-egfr",
        ),
    ],
)
def test_a_failing_value_is_never_quoted_rounded_onto_its_limit(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, cid: str, quoted: str
) -> None:
    """With one decimal, '1.51 x ULN' failing '≤ 1.5' read '1.5 x ULN (≤ 1.5)'."""
    result = evaluate_acse({**eligible_record, **changes}).evaluation.results[cid]
    assert result.status == "fail"
    assert quoted in result.reason, result.reason


def test_N03_prednisone_equivalent_is_shown(evaluate_acse: Evaluate, eligible_record: dict) -> None:
    result = evaluate_acse({**eligible_record, **steroid("dexamethasone", 1.5)})
    ev = result.evaluation
    assert "10" in ev.computed["prednisone_eq"].text
    assert "1.5" in ev.results["N03"].reason and "10" in ev.results["N03"].reason


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N07-pass-none", {"last_radiotherapy_date": "none"}, "pass"),
        case("N07-pass-gap-21", {"last_radiotherapy_date": ago(21)}, "pass"),
        case(
            "N07-fail-gap-20-other",
            {"last_radiotherapy_date": ago(20), "radiotherapy_site": "other"},
            "fail",
            earliest=after(1),
        ),
        case(
            "N07-fail-gap-5-autre",
            {"last_radiotherapy_date": ago(5, fr=True), "radiotherapy_site": "autre"},
            "fail",
            earliest=after(16),
        ),
        case(
            "N07-pass-gap-20-brain",
            {"last_radiotherapy_date": ago(20), "radiotherapy_site": "brain"},
            "pass",
        ),
        case(
            "N07-pass-gap-2-extremities",
            {"last_radiotherapy_date": ago(2), "radiotherapy_site": "membres"},
            "pass",
        ),
        case(
            "N07-unknown-site",
            {"last_radiotherapy_date": ago(10), "radiotherapy_site": None},
            "unknown",
        ),
        case("N07-unknown-date", {"last_radiotherapy_date": None}, "unknown"),
    ],
)
def test_N07(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "N07", status, extra)


def test_N07_site_not_asked_at_21_days(evaluate_acse: Evaluate, eligible_record: dict) -> None:
    result = evaluate_acse(
        {**eligible_record, "last_radiotherapy_date": ago(21), "radiotherapy_site": "other"}
    )
    assert "radiotherapy_site" in result.unused
    assert result.evaluation.results["N07"].status == "pass"


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N08-pass-none", {"last_investigational_date": "none"}, "pass"),
        case("N08-pass-gap-21", {"last_investigational_date": ago(21)}, "pass"),
        case("N08-fail-gap-20", {"last_investigational_date": ago(20)}, "fail", earliest=after(1)),
        case("N08-fail-ongoing", {"last_investigational_date": "ongoing"}, "fail", earliest=None),
        case("N08-fail-en-cours", {"last_investigational_date": "en cours"}, "fail", earliest=None),
        case("N08-unknown", {"last_investigational_date": None}, "unknown"),
    ],
)
def test_N08(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "N08", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N09-pass-none", {"cns_metastases": "none"}, "pass", flagged=False),
        case("N09-fail-symptomatic", {"cns_metastases": "symptomatic"}, "fail"),
        case(
            "N09-pass-treated-stable",
            {"cns_metastases": "treated", "cns_stable": "yes"},
            "pass",
            flagged=False,
        ),
        case(
            "N09-fail-treated-not-stable",
            {"cns_metastases": "traitées", "cns_stable": "non"},
            "fail",
        ),
        case(
            "N09-unknown-treated-stability",
            {"cns_metastases": "treated", "cns_stable": None},
            "unknown",
        ),
        case(
            "N09-pass-asymptomatic-untreated-flagged",
            {"cns_metastases": "asymptomatic_untreated"},
            "pass",
            flagged=True,
        ),
        case("N09-unknown", {"cns_metastases": None}, "unknown"),
    ],
)
def test_N09(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "N09", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N10-pass", {"leptomeningeal": "no"}, "pass"),
        case("N10-fail", {"leptomeningeal": "yes"}, "fail"),
        case("N10-unknown", {"leptomeningeal": None}, "unknown"),
        case("N10-na-pcnsl", {**PCNSL, "ipcg_measurable": "yes"}, "not_applicable"),
    ],
)
def test_N10(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "N10", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N11-pass-1.5", {"creatinine_uln": "1,5 LSN"}, "pass"),
        case("N11-fail-1.6", {"creatinine_uln": "1.6 x ULN"}, "fail"),
        case(
            "N11-fail-clearance-49",
            {"creatinine_clearance": "49 mL/min"},
            "fail",
            others={"I10": "fail"},
        ),
        case(
            "N11-pass-ckd-epi-110-umol/L",
            {"creatinine_clearance": "110 µmol/L"},
            "pass",
            computed={"egfr": 51.5},
        ),
        case(
            "N11-fail-ckd-epi-120-umol/L",
            {"creatinine_clearance": "120 µmol/L"},
            "fail",
            computed={"egfr": 46.39},
            others={"I10": "fail"},
        ),
        case(
            "N11-fail-1.6-clearance-unknown",
            {"creatinine_uln": 1.6, "creatinine_clearance": None},
            "fail",
            others={"I10": "unknown"},
        ),
        case("N11-unknown", {"creatinine_uln": None}, "unknown"),
    ],
)
def test_N11(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "N11", status, extra)


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N12-pass-lymphocytes-1000-mm3", {"lymphocytes": "1000/mm3"}, "pass"),
        case("N12-fail-800-cd4-400", {"lymphocytes": "800/mm3", "cd4": 400}, "fail"),
        case("N12-pass-800-cd4-600", {"lymphocytes": "800/mm3", "cd4": "600"}, "pass"),
        case("N12-pass-800-cd4-500", {"lymphocytes": "0,8 G/L", "cd4": "500/mm3"}, "pass"),
        case("N12-fail-cd4-499-per-uL", {"lymphocytes": "0.8 G/L", "cd4": "499 /µL"}, "fail"),
        case("N12-unknown-cd4", {"lymphocytes": "800/mm3", "cd4": None}, "unknown"),
        case("N12-unknown-lymphocytes", {"lymphocytes": None}, "unknown"),
    ],
)
def test_N12(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    check(evaluate_acse, eligible_record, changes, "N12", status, extra)


def test_N12_cd4_not_asked_with_normal_lymphocytes(
    evaluate_acse: Evaluate, eligible_record: dict
) -> None:
    result = evaluate_acse({**eligible_record, "cd4": 100})
    assert result.unused == ("cd4",)
    assert result.evaluation.results["N12"].status == "pass"


@pytest.mark.parametrize(
    ("changes", "status", "extra"),
    [
        case("N16-pass-none", {"last_live_vaccine_date": "none"}, "pass"),
        case("N16-pass-jamais", {"last_live_vaccine_date": "jamais"}, "pass"),
        case("N16-pass-gap-30", {"last_live_vaccine_date": ago(30)}, "pass"),
        case("N16-fail-gap-29", {"last_live_vaccine_date": ago(29)}, "fail", earliest=after(1)),
        case(
            "N16-fail-gap-10-fr",
            {"last_live_vaccine_date": ago(10, fr=True)},
            "fail",
            earliest=after(20),
        ),
        case("N16-unknown", {"last_live_vaccine_date": None}, "unknown"),
    ],
)
def test_N16(
    evaluate_acse: Evaluate, eligible_record: dict, changes: dict, status: str, extra: dict
) -> None:
    result = check(evaluate_acse, eligible_record, changes, "N16", status, extra)
    if status == "fail":
        assert result.evaluation.earliest_start == extra["earliest"]


def test_earliest_start_is_the_latest_of_the_temporal_fails(
    evaluate_acse: Evaluate, eligible_record: dict
) -> None:
    result = evaluate_acse(
        {
            **eligible_record,
            "last_systemic_therapy_date": ago(20),  # I07 passes from START + 1
            "last_live_vaccine_date": ago(10),  # N16 passes from START + 20
        }
    )
    ev = result.evaluation
    assert ev.results["I07"].earliest_start == after(1)
    assert ev.results["N16"].earliest_start == after(20)
    assert ev.earliest_start == after(20)
    assert ev.verdict == "not_eligible"


# ---------------------------------------------------------------------------------------
# Record format: French input, unknowns, errors, unused answers


def test_french_record_is_eligible(evaluate_acse: Evaluate, eligible_record: dict) -> None:
    record = {
        key: {"yes": "oui", "no": "non", "none": "aucun"}.get(value, value)
        if isinstance(value, str)
        else value
        for key, value in eligible_record.items()
    }
    record.update(
        {
            "planned_start_date": "01/12/2026",
            "cohort": "sarcome",
            "sex": "Femme",
            "cns_metastases": "aucune",
            "steroid_drug": "Aucune",
            "last_systemic_therapy_date": "20/10/2026",
            "pregnancy_test_date": "29/11/2026",
            "lab_date": "24/11/2026",
            "anc": "2,1 G/L",
            "platelets": "210 000/mm3",
            "hemoglobin": "115 g/L",
            "lymphocytes": "1 300/mm3",
            "creatinine_clearance": "85 mL/min",
            "creatinine_uln": "0,8 LSN",
            "bilirubin_uln": "0,6 LSN",
            "asat_uln": "1,1 x LSN",
            "alat_uln": "0,9",
        }
    )
    result = evaluate_acse(record)
    ev = result.evaluation
    assert ev.verdict == "eligible", {k: (r.status, r.reason) for k, r in ev.results.items()}
    assert result.unused == ()


def test_planned_start_today(evaluate_acse: Evaluate, eligible_record: dict) -> None:
    # today = 30/11/2026, one day before the usual start: every gap shrinks by one.
    record = {
        **eligible_record,
        "planned_start_date": "aujourd'hui",
        "pregnancy_test_date": "2026-11-27",
    }  # 3 days before today
    result = evaluate_acse(record)
    assert result.evaluation.verdict == "eligible"


@pytest.mark.parametrize("unknown", [None, "unknown", "inconnu", "ne sais pas", DROP], ids=repr)
def test_unknown_answer_makes_the_screening_incomplete(
    evaluate_acse: Evaluate, eligible_record: dict, unknown: Any
) -> None:
    check(evaluate_acse, eligible_record, {"ecog": unknown}, "I13", "unknown")


@pytest.mark.parametrize(
    ("qid", "value"),
    [
        ("anc", "1.5"),  # a count without its unit: never guessed
        ("anc", "1.5 furlongs"),
        ("anc", "1500 G/L"),  # out of range: 1500 ×10⁹/L
        ("hemoglobin", "9 g/L"),  # 0.9 g/dL: out of range (Interpretation 1)
        ("creatinine_clearance", "85"),
        ("age", "dix-sept"),
        ("age", 121),
        ("ecog", 6),
        ("consent_signed", "peut-être"),
        ("cohort", "melanoma"),
        ("lab_date", "2026-12-02"),  # after the planned start
        ("lab_date", "2026-12-01"),  # the planned start, but after today (30/11/2026)
        ("pregnancy_test_date", "2026-12-01"),
        ("last_systemic_therapy_date", "2026-12-01"),
        ("last_radiotherapy_date", "2026-12-01"),
        ("last_investigational_date", "2026-12-01"),
        ("last_live_vaccine_date", "2026-12-01"),
        ("creatinine_uln", 80),  # a creatinine in µmol/L, not a multiple of the ULN
        ("bilirubin_uln", "12 µmol/L"),
        ("asat_uln", "45 UI/L"),
        ("lab_date", "11/31/2026"),  # never MM/DD
        ("last_investigational_date", "2026-02-30"),
        ("steroid_dose_mg", 0),
        ("bilirubin_uln", "1,2 mg/dL"),
    ],
    ids=lambda v: str(v),
)
def test_bad_value_raises_record_error_naming_the_question(
    evaluate_acse: Evaluate, eligible_record: dict, qid: str, value: Any
) -> None:
    record = {**eligible_record, qid: value}
    if qid == "steroid_dose_mg":
        record["steroid_drug"] = "prednisone"
    with pytest.raises(RecordError) as err:
        evaluate_acse(record)
    assert err.value.question_id == qid


@pytest.mark.parametrize("qid", ["planned_start_date", "cohort", "sex"])
def test_required_answer_missing_raises(
    evaluate_acse: Evaluate, eligible_record: dict, qid: str
) -> None:
    record = {**eligible_record, qid: None}
    with pytest.raises(RecordError) as err:
        evaluate_acse(record)
    assert err.value.question_id == qid


def test_unused_answers_are_listed(evaluate_acse: Evaluate, eligible_record: dict) -> None:
    record = {
        **eligible_record,
        "patient_code": "CLI-0042",  # chat only: not part of a record
        "ipcg_measurable": "yes",  # pcnsl only
        "net_prior_lines": 3,  # neuroendocrine only
        "cns_stable": "yes",  # treated CNS metastases only
        "not_a_question": "whatever",
    }
    result = evaluate_acse(record)
    assert set(result.unused) == {
        "patient_code",
        "ipcg_measurable",
        "net_prior_lines",
        "cns_stable",
        "not_a_question",
    }
    assert result.evaluation.verdict == "eligible"
