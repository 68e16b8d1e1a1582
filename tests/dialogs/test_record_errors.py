"""A record is another system's output: what a chat forgives is an error here, named.

A key given twice or a choice given as its menu number changed an answer without a word,
and the verdict with it; a misspelt key lost its answer, also without a word.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialogs.engine import Engine
from dialogs.errors import RecordError
from dialogs.protocol import PROTOCOL_DIR, load_protocol
from dialogs.record import Stranger, evaluate_record, parse_record
from tests.fixtures import ACSE_TODAY

ACSE = load_protocol(PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml")


def refusal(record: dict[str, Any]) -> RecordError:
    with pytest.raises(RecordError) as caught:
        evaluate_record(Engine(ACSE, lambda: ACSE_TODAY), record)
    return caught.value


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
            "missing: this question is required "
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
    error = refusal(record)
    assert error.question_id == drop
    assert error.message == said


MISSPELT = [
    pytest.param("prior_anti_pd_1", "prior_anti_pd1", "yes", id="N01-yes-was-lost"),
    pytest.param("Consent_signed", "consent_signed", "no", id="I01-no-was-lost"),
    pytest.param("ANC", "anc", "0.5 G/L", id="I09-count-was-lost"),
]


@pytest.mark.parametrize(("key", "meant", "value"), MISSPELT)
def test_a_key_that_is_no_question_is_listed_unused_and_named_with_the_question_meant(
    eligible_record: dict[str, Any], key: str, meant: str, value: str
) -> None:
    """The spec: answers to questions never asked are ignored and listed as unused.  But
    « prior_anti_pd_1: yes » was lost without a word, and the verdict read incomplete, not
    not_eligible: such a key is named apart, with the question meant."""
    record = {k: v for k, v in eligible_record.items() if k != meant} | {key: value}
    result = evaluate_record(Engine(ACSE, lambda: ACSE_TODAY), record)
    assert result.unused == (key,)
    assert result.strangers == (Stranger(key, meant),)
    assert str(result.strangers[0]) == (
        f"{key!r} is no question of this protocol (did you mean {meant!r}?)"
    )


@pytest.mark.parametrize(("key", "meant", "value"), MISSPELT)
def test_strict_refuses_a_key_that_is_no_question(
    eligible_record: dict[str, Any], key: str, meant: str, value: str
) -> None:
    record = {k: v for k, v in eligible_record.items() if k != meant} | {key: value}
    with pytest.raises(RecordError) as caught:
        evaluate_record(Engine(ACSE, lambda: ACSE_TODAY), record, strict=True)
    assert caught.value.question_id == key
    assert caught.value.message == (
        f"no such question in acse-pembrolizumab v1 (did you mean {meant!r}?)"
    )


def test_a_key_like_no_question_at_all_is_named_without_a_guess(
    eligible_record: dict[str, Any],
) -> None:
    result = evaluate_record(Engine(ACSE, lambda: ACSE_TODAY), {**eligible_record, "zzz": 1})
    assert result.strangers == (Stranger("zzz", None),)
    assert str(result.strangers[0]) == "'zzz' is no question of this protocol"


def test_a_question_a_branch_skips_is_still_only_listed_unused(
    eligible_record: dict[str, Any],
) -> None:
    """The spec's rule stands for the protocol's own questions: a sarcoma patient's IPCG
    answer, or the chat-only patient code, is ignored and listed as unused."""
    result = evaluate_record(
        Engine(ACSE, lambda: ACSE_TODAY),
        {**eligible_record, "ipcg_measurable": "yes", "patient_code": "P-1"},
    )
    assert result.unused == ("ipcg_measurable", "patient_code")
    assert result.strangers == ()
    assert result.evaluation.verdict == "eligible"


def test_a_key_given_twice_is_refused() -> None:
    """json.loads keeps the last: « consent_signed: no » then « yes » read as consented,
    and the verdict was eligible."""
    with pytest.raises(RecordError) as caught:
        parse_record('{"consent_signed": "no", "cohort": "sarcoma", "consent_signed": "yes"}')
    assert caught.value.question_id == "consent_signed"
    assert caught.value.message == "given twice in the record: which answer is meant?"


def test_a_record_without_repeats_parses_as_json_does() -> None:
    text = '{"cohort": "sarcoma", "age": 54, "nested": {"a": 1}}'
    assert parse_record(text) == json.loads(text)


@pytest.mark.parametrize(
    ("question", "value", "choices"),
    [
        pytest.param("sex", 1, "female, male", id="sex-1-is-male-in-ISO-5218"),
        pytest.param("sex", "2", "female, male", id="sex-2-as-text"),
        pytest.param(
            "cohort",
            1,
            "sarcoma, ovarian, pcnsl, thyroid, neuroendocrine, germ_cell",
            id="cohort",
        ),
    ],
)
def test_a_choice_given_as_a_menu_number_is_refused(
    eligible_record: dict[str, Any], question: str, value: Any, choices: str
) -> None:
    """« sex: 1 » read as female (the chat's first button); ISO 5218 codes 1 as male."""
    error = refusal({**eligible_record, question: value})
    assert error.question_id == question
    assert error.message == (
        f"{json.dumps(value)}: a record has no menu, write the choice: {choices}"
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [
        pytest.param(True, "true is not accepted: ", id="json-true"),
        pytest.param({"value": 1.5}, '{"value": 1.5}: expected text', id="json-object"),
        pytest.param([54], "[54]: expected text", id="json-array"),
    ],
)
def test_a_refused_value_is_shown_as_the_record_wrote_it(
    eligible_record: dict[str, Any], value: Any, said: str
) -> None:
    """« True is not accepted », « {'value': 1.5, …} »: Python's spelling, not the file's."""
    error = refusal({**eligible_record, "age": value})
    assert error.question_id == "age"
    assert error.message.startswith(said), error.message
