"""A later protocol version is a new file: amendments need no code, and v1 stays as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dialogs.checker import check_protocol
from dialogs.protocol import default_protocol_path
from dialogs.record import evaluate_record
from dialogs.registry import ProtocolRegistry
from tests.fixtures import ACSE_TODAY

TODAY = ACSE_TODAY  # the day the records are written for: their labs are not after it


def _amended(v1: dict[str, Any]) -> dict[str, Any]:
    """The public record's amendments: a seventh cohort and a minimum age of 15."""
    v2 = yaml.safe_load(yaml.safe_dump(v1, allow_unicode=True))
    v2["version"] = 2
    cohort = next(q for q in v2["questions"] if q["id"] == "cohort")
    cohort["choices"].append(
        {
            "value": "nk_t_lymphoma",
            "label": {"en": "NK/T-cell lymphoma", "fr": "Lymphome NK/T"},
        }
    )
    age = next(c for c in v2["criteria"] if c["id"] == "I04")
    age["pass"] = age["pass"].replace("18", "15")
    age["explain"] = {k: v.replace("18", "15") for k, v in age["explain"].items()}
    return v2


def test_amendments_are_expressed_in_the_file_alone(
    tmp_path: Path, eligible_record: dict[str, Any]
) -> None:
    v1_path = default_protocol_path()
    v1 = yaml.safe_load(v1_path.read_text(encoding="utf-8"))
    (tmp_path / "acse-pembrolizumab-v1.yaml").write_text(
        v1_path.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "acse-pembrolizumab-v2.yaml").write_text(
        yaml.safe_dump(_amended(v1), allow_unicode=True), encoding="utf-8"
    )
    registry = ProtocolRegistry.from_directory(tmp_path, clock=lambda: TODAY)
    v2 = registry.latest()
    assert v2.protocol.version == 2
    assert check_protocol(v2.protocol) == []

    teenager = {**eligible_record, "age": 16}
    old = evaluate_record(registry.engine_for("acse-pembrolizumab", 1), teenager)
    new = evaluate_record(v2, teenager)
    assert old.evaluation.results["I04"].status == "fail"
    assert new.evaluation.results["I04"].status == "pass"

    nk = {**eligible_record, "cohort": "nk_t_lymphoma"}
    assert evaluate_record(v2, nk).evaluation.results["I05"].status == "pass"
