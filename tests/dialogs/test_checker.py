"""``protocol check`` on the bundled AcSé file and on one broken fixture per finding.

Each broken fixture says in its header what is wrong with it (``# stage:`` load or check,
``# item:``, ``# problem:``); the tests read that header, so adding a fixture adds a case.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from dialogs.checker import Finding, representative_answers, run_check, thresholds
from dialogs.errors import DialogError, ProtocolError
from dialogs.graph import edges, to_dot, to_mermaid
from dialogs.machine import COMPLETE
from dialogs.protocol import PROTOCOL_DIR, Protocol, load_protocol

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini.yaml"
ACSE = PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml"
BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))


def expectation(path: Path) -> dict[str, str]:
    header = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^# (stage|item|problem): (.*)$", line)
        if m:
            header[m.group(1)] = m.group(2).strip()
    return header


def by_stage(stage: str) -> list[Path]:
    return [p for p in BROKEN if expectation(p)["stage"] == stage]


@pytest.fixture(scope="module")
def acse() -> Protocol:
    return load_protocol(ACSE)


def test_every_broken_fixture_declares_what_is_wrong() -> None:
    assert len(BROKEN) >= 15
    for path in BROKEN:
        assert set(expectation(path)) == {"stage", "item", "problem"}, path.name


# -- loader errors ----------------------------------------------------------------------


@pytest.mark.parametrize("path", by_stage("load"), ids=lambda p: p.stem)
def test_loader_refuses_naming_file_item_and_problem(path: Path) -> None:
    want = expectation(path)
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path)
    err = caught.value
    assert isinstance(err, DialogError)
    assert err.path == str(path)
    if want["item"] != "-":
        assert err.item == want["item"]
    assert want["problem"] in err.problem
    assert str(path) in str(err) and want["problem"] in str(err)


# -- checker findings ----------------------------------------------------------------------


@pytest.mark.parametrize("path", by_stage("check"), ids=lambda p: p.stem)
def test_checker_finds_the_planted_problem(path: Path) -> None:
    want = expectation(path)
    protocol = load_protocol(path)  # loads: only the check can see the problem
    findings = run_check(protocol).findings
    assert findings, f"{path.name}: no finding"
    match = [f for f in findings if f.item == want["item"] and want["problem"] in f.problem]
    assert match, f"{path.name}: expected {want}, got {[str(f) for f in findings]}"
    text = str(match[0])
    assert text.startswith(f"{path}: {want['item']}: ")
    # The planted problem is the only one: no noise around it.
    assert len(findings) == 1, [str(f) for f in findings]


def test_a_failing_expression_finding_names_the_answers_that_trigger_it() -> None:
    path = FIXTURES / "broken" / "rule_compares_date_with_number.yaml"
    (finding,) = run_check(load_protocol(path)).findings
    assert "lab_date=" in finding.problem
    assert "'>=' not supported" in finding.problem


def test_finding_text_names_file_item_and_problem() -> None:
    assert str(Finding("I01", "bad", "p.yaml")) == "p.yaml: I01: bad"
    assert str(Finding(None, "bad", "p.yaml")) == "p.yaml: bad"


# -- sound protocols ---------------------------------------------------------------------


def test_mini_protocol_is_sound() -> None:
    report = run_check(load_protocol(MINI))
    assert report.findings == []
    # cohort (2 choices) x anc's representatives around 1.0, with cd4 asked below it
    assert report.paths > 2
    assert report.combinations > 0


def test_acse_passes_the_check_in_seconds(acse: Protocol) -> None:
    began = time.perf_counter()
    report = run_check(acse)
    elapsed = time.perf_counter() - began
    assert [str(f) for f in report.findings] == []
    assert elapsed < 10
    assert report.paths > 1_000
    assert report.states > len(acse.questions)


def test_representatives_straddle_each_threshold(acse: Protocol) -> None:
    reps = {q: [a.raw for a in answers] for q, answers in representative_answers(acse).items()}
    assert {"17", "18", "19", "unknown"} <= set(reps["age"])
    assert {"1.4", "1.5", "1.6"} <= set(reps["bilirubin_uln"])
    assert "none" in reps["last_radiotherapy_date"]
    assert {"none", "ongoing"} <= set(reps["last_investigational_date"])
    # a required question is never answered 'unknown'
    assert "unknown" not in reps["cohort"]
    # a threshold reached through a computed value (lab_gap > 14) reaches its question
    assert 14.0 in thresholds(acse)["lab_date"]


# -- graph ---------------------------------------------------------------------------------


def test_graph_edges_follow_the_fsm_candidates() -> None:
    protocol = load_protocol(MINI)
    out = {(e.source, e.target): e.label for e in edges(protocol)}
    assert out[("cohort", "subtype")] == "cohort == 'beta'"
    assert out[("cohort", "age")] is None  # skip edge past the conditional question
    assert ("cohort", "last_dose_date") not in out  # never past an unconditional one
    assert out[("anc", "cd4")] == "anc < 1.0"
    assert out[("anc", COMPLETE)] is None and out[("cd4", COMPLETE)] is None


def test_mermaid_and_dot_render_every_question(acse: Protocol) -> None:
    mermaid = to_mermaid(acse)
    dot = to_dot(acse)
    assert mermaid.startswith("flowchart TD\n")
    assert dot.startswith('digraph "acse-pembrolizumab v1" {') and dot.rstrip().endswith("}")
    for qid in acse.order:
        assert f"q_{qid}" in mermaid
        assert f'"{qid}"' in dot
    assert "#lt;" in mermaid  # 'lymphocytes < 1.0' escaped for Mermaid
    assert '"lymphocytes" -> "cd4" [label="lymphocytes < 1.0", style=dashed];' in dot
