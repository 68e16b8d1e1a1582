"""A record with a required answer missing: said as missing, with the key likely meant."""

from __future__ import annotations

from typing import Any

import pytest

from dialogs.engine import Engine
from dialogs.errors import RecordError
from dialogs.protocol import PROTOCOL_DIR, load_protocol
from dialogs.record import evaluate_record

ACSE = load_protocol(PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml")


@pytest.mark.parametrize(
    ("drop", "extra", "said"),
    [
        pytest.param("sex", {}, "missing: this question is required", id="absent"),
        pytest.param(
            "cohort",
            {"Cohort": "sarcoma"},
            "missing: this question is required (is 'Cohort' meant to be 'cohort'?)",
            id="wrong-case",
        ),
        pytest.param(
            "planned_start_date",
            {"planned_start": "2026-12-01"},
            "(is 'planned_start' meant to be 'planned_start_date'?)",
            id="near-name",
        ),
    ],
)
def test_a_missing_required_answer_is_said_missing(
    eligible_record: dict[str, Any], drop: str, extra: dict[str, Any], said: str
) -> None:
    """It read « None is not accepted: 'unknown' is not accepted here »: as if the record
    held a null, and nothing pointed at the misspelt key."""
    record = {k: v for k, v in eligible_record.items() if k != drop} | extra
    with pytest.raises(RecordError) as caught:
        evaluate_record(Engine(ACSE), record)
    assert caught.value.question_id == drop
    assert said in str(caught.value)
