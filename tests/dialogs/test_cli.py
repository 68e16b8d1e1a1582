"""``screenbot evaluate`` and ``screenbot protocol``, run as an investigator would run them.

Most tests call ``bot.cli.main`` in-process (fast, capsys sees the output); the
subprocess tests prove the installed entry point works end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from dialogs.protocol import PROTOCOL_DIR, load_protocol

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
ACSE = PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml"
TODAY = "2026-11-30"  # the planned start in the records is 2026-12-01


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def evaluate_json(tmp_path: Path, record: dict[str, Any], capsys: Any) -> dict[str, Any]:
    path = write(tmp_path, "record.json", record)
    assert main(["evaluate", str(path), "--json", "--today", TODAY]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object, on one line
    result: dict[str, Any] = json.loads(out)
    return result


# -- evaluate: the spec's verdicts ------------------------------------------------------------


def test_eligible_record_gives_eligible_with_the_full_json_shape(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    result = evaluate_json(tmp_path, eligible_record, capsys)
    assert result["verdict"] == "eligible"
    assert set(result) == {
        "verdict",
        "criteria",
        "reasons",
        "open_questions",
        "flagged",
        "earliest_start",
        "unused",
        "not_questions",
        "computed",
        "protocol",
    }
    assert result["not_questions"] == {}
    acse = load_protocol(ACSE)
    assert result["protocol"] == {"id": acse.id, "version": 1, "sha256": acse.sha256}
    assert set(result["criteria"]) == {c.id for c in acse.criteria}
    assert set(result["criteria"].values()) <= {"pass", "not_applicable"}
    assert set(result["reasons"]) == set(result["criteria"])
    assert result["earliest_start"] is None
    assert result["computed"]["lab_gap"]["value"] == 7


def test_a_17_year_old_is_not_eligible_on_i04(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    result = evaluate_json(tmp_path, {**eligible_record, "age": 17}, capsys)
    assert result["verdict"] == "not_eligible"
    assert result["criteria"]["I04"] == "fail"
    assert "17" in result["reasons"]["I04"]


def test_dexamethasone_2mg_fails_n03_with_its_prednisone_equivalent(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    record = {**eligible_record, "steroid_drug": "dexamethasone", "steroid_dose_mg": 2}
    result = evaluate_json(tmp_path, record, capsys)
    assert result["criteria"]["N03"] == "fail"
    assert "13.333 mg/day prednisone-equivalent" in result["reasons"]["N03"]
    assert result["computed"]["prednisone_eq"]["value"] == 13.3333


def test_recent_systemic_therapy_fails_i07_with_the_earliest_start(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    record = {**eligible_record, "last_systemic_therapy_date": "2026-11-21"}  # 10 days
    result = evaluate_json(tmp_path, record, capsys)
    assert result["verdict"] == "not_eligible"
    assert result["criteria"]["I07"] == "fail"
    assert result["earliest_start"] == "2026-12-12"


def test_labs_older_than_14_days_leave_the_record_incomplete(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    result = evaluate_json(tmp_path, {**eligible_record, "lab_date": "2026-11-16"}, capsys)
    assert result["verdict"] == "incomplete"
    assert {result["criteria"][c] for c in ("I09", "I10", "I11", "I12")} == {"unknown"}
    # Programs learn what to ask again by ID: the lab date (the labs are too old).
    assert result["open_questions"]["I09"] == ["lab_date"]


def test_an_unknown_answer_is_named_by_id_in_open_questions(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    result = evaluate_json(tmp_path, {**eligible_record, "ecog": None}, capsys)
    assert result["verdict"] == "incomplete"
    unknown = {cid for cid, status in result["criteria"].items() if status == "unknown"}
    assert set(result["open_questions"]) == unknown
    assert all(result["open_questions"][cid] == ["ecog"] for cid in unknown)


def test_answers_to_questions_never_asked_are_listed_as_unused(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    record = {**eligible_record, "gilbert": "no", "patient_code": "CLI-0042"}
    result = evaluate_json(tmp_path, record, capsys)
    assert result["unused"] == ["gilbert", "patient_code"]  # bilirubin is normal


def test_human_output_has_the_table_verdict_and_protocol_identity(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    path = write(tmp_path, "record.json", {**eligible_record, "age": 17})
    assert main(["evaluate", str(path), "--today", TODAY]) == 0
    out = capsys.readouterr().out
    assert "verdict: not_eligible" in out
    assert "I04" in out and "fail" in out
    assert f"protocol: acse-pembrolizumab v1 sha256 {load_protocol(ACSE).sha256}" in out
    assert "lab_gap: Blood tests 7 days before the planned start" in out


def test_protocol_option_evaluates_with_another_file(tmp_path: Path, capsys: Any) -> None:
    record = {"planned_start_date": "2026-12-01", "cohort": "alpha", "age": 30}
    path = write(tmp_path, "mini.json", record)
    argv = ["evaluate", str(path), "--json", "--protocol", str(FIXTURES / "mini.yaml")]
    assert main([*argv, "--today", TODAY]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"]["id"] == "mini"
    assert result["criteria"]["I01"] == "pass"
    assert result["verdict"] == "incomplete"  # ANC and dates unanswered


# -- evaluate: bad input --------------------------------------------------------------------


def test_a_value_that_does_not_parse_names_the_question_and_what_was_expected(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    path = write(tmp_path, "record.json", {**eligible_record, "age": "fifty"})
    assert main(["evaluate", str(path), "--today", TODAY]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "question 'age'" in captured.err
    assert '"fifty" is not accepted: Please type a whole number between 0 and 120.' in (
        captured.err
    )


def test_a_missing_required_answer_names_the_question(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    record = {k: v for k, v in eligible_record.items() if k != "cohort"}
    path = write(tmp_path, "record.json", record)
    assert main(["evaluate", str(path), "--json", "--today", TODAY]) == 2
    err = capsys.readouterr().err
    assert "question 'cohort'" in err and "required" in err


@pytest.mark.parametrize(
    ("today", "status"),
    [
        ("2026-11-30", 2),  # the test is dated the planned start, the day after --today
        ("2026-12-01", 0),  # replayed on the start day itself: the test was done that morning
    ],
)
def test_evaluate_refuses_a_test_dated_after_the_today_option(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any, today: str, status: int
) -> None:
    record = {**eligible_record, "pregnancy_test_date": "2026-12-01"}
    path = write(tmp_path, "record.json", record)
    assert main(["evaluate", str(path), "--json", "--today", today]) == status
    captured = capsys.readouterr()
    if status:
        assert "question 'pregnancy_test_date'" in captured.err
        assert "01/12/2026 is after today (30/11/2026)" in captured.err
    else:
        assert json.loads(captured.out)["criteria"]["I16"] == "pass"


def test_evaluate_refuses_future_labs_that_would_have_counted_as_fresh(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    # The QA record: labs and pregnancy test dated after --today gave "eligible".
    record = {**eligible_record, "lab_date": "2026-12-15", "pregnancy_test_date": "2026-12-18"}
    record["planned_start_date"] = "2026-12-20"
    path = write(tmp_path, "record.json", record)
    assert main(["evaluate", str(path), "--json", "--today", TODAY]) == 2
    assert "question 'pregnancy_test_date'" in capsys.readouterr().err


def test_bad_json_exits_2(tmp_path: Path, capsys: Any) -> None:
    path = write(tmp_path, "record.json", '{"age": 54,')
    assert main(["evaluate", str(path), "--today", TODAY]) == 2
    assert f"{path}: not valid JSON" in capsys.readouterr().err


def test_a_record_that_is_not_an_object_exits_2(tmp_path: Path, capsys: Any) -> None:
    path = write(tmp_path, "record.json", "[1, 2]")
    assert main(["evaluate", str(path)]) == 2
    assert "a record must be a JSON object" in capsys.readouterr().err


def test_missing_file_exits_2_with_a_clear_message(tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "nope.json"
    assert main(["evaluate", str(missing)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err


def test_a_broken_protocol_option_exits_2_naming_it(tmp_path: Path, capsys: Any) -> None:
    record = write(tmp_path, "record.json", {})
    broken = FIXTURES / "broken" / "unknown_unit.yaml"
    assert main(["evaluate", str(record), "--protocol", str(broken)]) == 2
    assert f"{broken}: anc: unit 'furlong' is not defined" in capsys.readouterr().err


# -- evaluate: batches ---------------------------------------------------------------------


def test_batch_reports_bad_lines_and_carries_on(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    lines = [
        json.dumps(eligible_record),
        '{"cohort": ',
        json.dumps({**eligible_record, "age": 17}),
        json.dumps({**eligible_record, "anc": "2.1 furlongs"}),
        "",
    ]
    path = write(tmp_path, "batch.jsonl", "\n".join(lines) + "\n")
    assert main(["evaluate", str(path), "--today", TODAY]) == 2
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["line"], r["verdict"]) for r in out] == [(1, "eligible"), (3, "not_eligible")]
    assert f"{path}:2: not valid JSON" in captured.err
    assert f"{path}:4: question 'anc'" in captured.err and "furlongs" in captured.err
    assert "2 of 4 records could not be evaluated" in captured.err


def test_batch_of_good_records_exits_0_even_with_json_flag_absent(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    path = write(tmp_path, "batch.jsonl", json.dumps(eligible_record) + "\n")
    assert main(["evaluate", str(path), "--today", TODAY]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["verdict"] == "eligible"


def test_a_misspelt_key_is_warned_about_and_strict_refuses_it(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    """« prior_anti_pd_1: yes » was only one more name in "unused", and the verdict read
    incomplete, exit 0: a pipeline never knew an answer was lost."""
    record = {k: v for k, v in eligible_record.items() if k != "prior_anti_pd1"}
    path = write(tmp_path, "misspelt.json", json.dumps({**record, "prior_anti_pd_1": "yes"}))
    assert main(["evaluate", str(path), "--json", "--today", TODAY]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["not_questions"] == {"prior_anti_pd_1": "prior_anti_pd1"}
    assert "prior_anti_pd_1" in out["unused"]
    assert captured.err == (
        f"screenbot evaluate: {path}: warning: 'prior_anti_pd_1' is no question of this protocol "
        "(did you mean 'prior_anti_pd1'?): ignored, listed as unused\n"
    )
    assert main(["evaluate", str(path), "--strict", "--today", TODAY]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        f"{path}: question 'prior_anti_pd_1': no such question in acse-pembrolizumab v1 "
        "(did you mean 'prior_anti_pd1'?)"
    ) in captured.err


@pytest.mark.parametrize("text", ["", "\n  \n"], ids=["empty", "blank-lines"])
def test_an_empty_batch_is_refused_not_taken_as_all_evaluated(
    tmp_path: Path, text: str, capsys: Any
) -> None:
    """Exit 0 with no output: a pipeline fed an empty export read "all evaluated"."""
    path = write(tmp_path, "batch.jsonl", text)
    assert main(["evaluate", str(path), "--today", TODAY]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: no records: the file is empty" in captured.err


def test_a_key_given_twice_is_refused_in_a_record_and_in_a_batch(
    tmp_path: Path, eligible_record: dict[str, Any], capsys: Any
) -> None:
    """The last of two « consent_signed » won, silently: « no » then « yes » was eligible."""
    body = json.dumps(eligible_record)[:-1] + ', "consent_signed": "no"}'
    single = write(tmp_path, "twice.json", body)
    assert main(["evaluate", str(single), "--today", TODAY]) == 2
    said = "question 'consent_signed': given twice in the record: which answer is meant?"
    assert f"{single}: {said}" in capsys.readouterr().err
    batch = write(tmp_path, "twice.jsonl", json.dumps(eligible_record) + "\n" + body + "\n")
    assert main(["evaluate", str(batch), "--today", TODAY]) == 2
    captured = capsys.readouterr()
    assert [json.loads(line)["line"] for line in captured.out.splitlines()] == [1]
    assert f"{batch}:2: {said}" in captured.err


# -- protocol check / graph ----------------------------------------------------------------


def test_protocol_check_ok_line_on_acse(capsys: Any) -> None:
    assert main(["protocol", "check", str(ACSE)]) == 0
    out = capsys.readouterr().out
    sha = load_protocol(ACSE).sha256
    assert out.startswith(f"OK: acse-pembrolizumab v1 sha256 {sha} (62 questions, 37 criteria, ")
    assert " paths explored in " in out


def test_protocol_check_lists_findings_and_exits_1(capsys: Any) -> None:
    broken = FIXTURES / "broken" / "unreachable_when_false.yaml"
    assert main(["protocol", "check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: {broken}: 1 finding(s)" in out
    assert f"{broken}: subtype: never asked" in out


def test_protocol_check_reports_a_load_error_and_checks_the_other_files(capsys: Any) -> None:
    broken = FIXTURES / "broken" / "duplicate_question.yaml"
    assert main(["protocol", "check", str(broken), str(FIXTURES / "mini.yaml")]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: {broken}: age: question defined more than once" in out
    assert "OK: mini v1" in out


def test_protocol_graph_formats(capsys: Any) -> None:
    mini = str(FIXTURES / "mini.yaml")
    assert main(["protocol", "graph", mini]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD\n")
    assert main(["protocol", "graph", mini, "--format", "dot"]) == 0
    assert '"anc" -> "cd4" [label="anc < 1.0", style=dashed];' in capsys.readouterr().out


def test_protocol_without_subcommand_is_a_usage_error(capsys: Any) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["protocol"])
    assert caught.value.code == 2
    assert "SUBCOMMAND" in capsys.readouterr().err


# -- the real entry point ---------------------------------------------------------------------


@pytest.mark.slow
def test_installed_command_checks_every_bundled_protocol() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "protocol", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: acse-pembrolizumab v1" in done.stdout


@pytest.mark.slow
def test_screenbot_evaluate_as_a_subprocess(
    tmp_path: Path, eligible_record: dict[str, Any]
) -> None:
    path = write(tmp_path, "record.json", {**eligible_record, "age": "x"})
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", str(path), "--today", TODAY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "question 'age'" in done.stderr
