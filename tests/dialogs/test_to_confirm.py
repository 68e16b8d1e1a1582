"""Answered questions the dialog asks again, each with Keep: ``to_confirm``.

New labs (a changed lab date) make the values measured on the old date questions to
confirm; a screening reopened at an answer waits there until it is answered or kept.
Without this the machine moves to the first question *without* an answer, so a new lab
date kept the old values silently, and /back then Keep after a reopening completed the
screening again at once.
"""

from __future__ import annotations

import pytest

from dialogs.engine import Engine
from dialogs.machine import COMPLETE
from dialogs.protocol import Protocol
from tests.dialogs.test_start_date_change import (
    LABS,
    answer_record_through,
    answer_record_to_the_end,
    asked,
    keep,
    say,
)

# Declared in the protocol file (``dated_by: lab_date``): the measurements, not the
# clinical facts asked among them (Gilbert's syndrome, liver metastases).
LAB_VALUES = (
    "anc", "platelets", "hemoglobin", "lymphocytes", "cd4", "creatinine_clearance",
    "creatinine_uln", "bilirubin_uln", "asat_uln", "alat_uln", "calcium_normal",
    "magnesium_normal",
)  # fmt: skip


def test_the_lab_date_dates_the_values_measured_on_it(acse_protocol: Protocol) -> None:
    assert acse_protocol.dated_values == {LABS: frozenset(LAB_VALUES)}


@pytest.fixture
def finished(engine: Engine) -> tuple[str, dict]:  # type: ignore[type-arg]
    conv = engine.start("en", skip_chat_only=True)
    try:
        answer_record_to_the_end(engine, conv)
        return conv.state, dict(conv.answers)
    finally:
        engine.release(conv)


@pytest.mark.parametrize("way", ["answer", "keep"])
def test_a_new_lab_date_asks_each_lab_value_again(
    engine: Engine,
    finished: tuple[str, dict],
    way: str,  # type: ignore[type-arg]
) -> None:
    _, answers = finished
    with engine.attached(LABS, answers, "en") as conv:
        say(engine, conv, "30/11/2026")  # was 24/11/2026
        asked_again = []
        while (qid := asked(engine, conv)) != COMPLETE:
            asked_again.append(qid)
            prompt = engine.prompt(conv)
            assert prompt is not None and prompt.current is not None and prompt.keepable
            if way == "keep":
                keep(conv)
            else:
                say(engine, conv, answers[qid].raw)
        applicable = [q for q in LAB_VALUES if conv.applies(q) is True]
        assert asked_again == applicable and len(applicable) >= 9
        assert conv.to_confirm == set()


def test_the_same_lab_date_again_asks_nothing_again(
    engine: Engine,
    finished: tuple[str, dict],  # type: ignore[type-arg]
) -> None:
    _, answers = finished
    with engine.attached(LABS, answers, "en") as conv:
        say(engine, conv, answers[LABS].raw)
        assert conv.state == COMPLETE and conv.to_confirm == set()


def test_a_first_lab_date_confirms_nothing(engine: Engine) -> None:
    conv = engine.start("en", skip_chat_only=True)
    try:
        answer_record_through(engine, conv, LABS)
        assert conv.to_confirm == set() and asked(engine, conv) == "anc"
    finally:
        engine.release(conv)


def test_a_question_to_confirm_waits_until_kept_even_after_back(
    engine: Engine,
    finished: tuple[str, dict],  # type: ignore[type-arg]
) -> None:
    """Reopened at the FFPE question: /back to the one before, Keep, and it is asked."""
    _, answers = finished
    with engine.attached("ffpe_available", answers, "en", to_confirm=["ffpe_available"]) as conv:
        assert engine.back(conv) is not None and conv.state != "ffpe_available"
        keep(conv)
        assert conv.state == "ffpe_available"
        keep(conv)
        assert conv.state == COMPLETE and conv.to_confirm == set()
