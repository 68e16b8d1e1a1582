"""The ``evaluate`` record format: one patient's answers as a JSON object.

A record goes through the same engine as a chat, question by question in the order the
engine asks, so a record and a chat can never disagree about a verdict.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dialogs.engine import Engine
from dialogs.errors import RecordError
from dialogs.evaluation import Evaluation


@dataclass(frozen=True, slots=True)
class RecordResult:
    evaluation: Evaluation
    unused: tuple[str, ...]
    asked: tuple[str, ...]


def record_text(value: Any) -> str:
    """A record value as an investigator would have typed it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    raise TypeError(f"unsupported value {value!r}: expected text, a number, a boolean or null")


def evaluate_record(engine: Engine, record: Mapping[str, Any]) -> RecordResult:
    """Feed a record through the engine in full mode; raises RecordError on a bad value."""
    if not isinstance(record, Mapping):
        raise RecordError("-", "a record must be a JSON object of {question_id: answer}")
    conv = engine.start("en", skip_chat_only=True)
    asked: list[str] = []
    try:
        while (prompt := engine.prompt(conv)) is not None:
            qid = prompt.question_id
            asked.append(qid)
            try:
                text = record_text(record.get(qid))
            except TypeError as exc:
                raise RecordError(qid, str(exc)) from exc
            step = engine.answer(conv, text)
            if not step.accepted:
                if qid not in record:
                    raise RecordError(qid, _missing(engine, qid, record))
                shown = record.get(qid)
                raise RecordError(qid, f"{shown!r} is not accepted: {step.error}")
        evaluation = engine.evaluate(conv)
    finally:
        engine.release(conv)
    unused = tuple(k for k in record if k not in asked)
    return RecordResult(evaluation, unused, tuple(asked))


def _missing(engine: Engine, qid: str, record: Mapping[str, Any]) -> str:
    """A required answer absent from the record: said as missing (not as a refused
    'None'), with the key that was most likely meant for it ('Cohort', 'start_date')."""
    ids = {q.id for q in engine.protocol.questions}
    strangers = [k for k in record if isinstance(k, str) and k not in ids]
    folded = {k.casefold(): k for k in strangers}
    near = folded.get(qid.casefold()) or next(
        iter(difflib.get_close_matches(qid, strangers, n=1, cutoff=0.6)), None
    )
    hint = f" (is {near!r} meant to be {qid!r}?)" if near else ""
    return f"missing: this question is required{hint}"
