"""Fixtures for the AcSé Pembrolizumab protocol rule tests.

The protocol file under test is the bundled version 1, loaded by path so that adding a
version 2 does not silently change what these tests check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from dialogs.engine import Engine, Step
from dialogs.evaluation import Evaluation
from dialogs.protocol import PROTOCOL_DIR, Protocol, load_protocol
from dialogs.record import RecordResult, evaluate_record, record_text
from tests.fixtures import ACSE_ELIGIBLE, ACSE_TODAY, load_record

ACSE_V1 = PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml"
# The day the records are evaluated (ACSE_TODAY, from tests.fixtures), and the planned
# start every date is counted back from.
ACSE_START = ACSE_TODAY + dt.timedelta(days=1)


@pytest.fixture(scope="session")
def acse_protocol() -> Protocol:
    return load_protocol(ACSE_V1)


@pytest.fixture(scope="session")
def evaluate_acse(acse_protocol: Protocol) -> Callable[..., RecordResult]:
    """``evaluate(record, today=ACSE_TODAY) -> RecordResult`` on protocol v1.

    ``today`` matters to dates of past events (labs, last doses), which cannot be after
    it: a boundary case on the planned start day itself is evaluated on that day.
    """
    engines: dict[dt.date, Engine] = {}

    def run(record: Mapping[str, Any], today: dt.date = ACSE_TODAY) -> RecordResult:
        if today not in engines:
            engines[today] = Engine(acse_protocol, clock=lambda: today)
        return evaluate_record(engines[today], record)

    return run


@pytest.fixture
def eligible_record() -> dict[str, Any]:
    """An eligible sarcoma patient, typed as an investigator would (woman of childbearing
    potential, so every reproduction criterion applies).  Planned start 01/12/2026."""
    return load_record(ACSE_ELIGIBLE)


Say = Callable[..., Step]


@pytest.fixture(scope="module")
def engine(acse_protocol: Protocol) -> Engine:
    return Engine(acse_protocol, clock=lambda: ACSE_TODAY)


@pytest.fixture
def say(engine: Engine) -> Say:
    """``say(question_id, text, lang="en")``: the engine's reply to one typed answer."""

    def run(question_id: str, text: str, lang: str = "en") -> Step:
        with engine.attached(question_id, {}, lang) as conv:
            return engine.answer(conv, text)

    return run


Screen = Callable[..., Evaluation]


@pytest.fixture(scope="module")
def screen(engine: Engine) -> Screen:
    """``screen(record, lang="en", until=None)``: a chat in ``lang`` that types the record's
    answers question by question, as an investigator would, and the evaluation it ends on.

    ``until`` stops before that question is answered (blood tests not back yet); the
    evaluate command always runs in English, the investigator's chat need not.
    """

    def run(record: Mapping[str, Any], lang: str = "en", until: str | None = None) -> Evaluation:
        with engine.attached("planned_start_date", {}, lang) as conv:
            while (prompt := engine.prompt(conv)) is not None and prompt.question_id != until:
                step = engine.answer(conv, record_text(record.get(prompt.question_id)))
                assert step.accepted, (prompt.question_id, step.error)
            return engine.evaluate(conv)

    return run
