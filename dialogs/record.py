"""The ``evaluate`` record format: one patient's answers as a JSON object.

A record goes through the same engine as a chat, question by question in the order the
engine asks, so a record and a chat can never disagree about a verdict.

A record comes from another system, not from a person at a prompt, so what a chat
forgives is an error here: a key given twice, a choice given as a number (a record has
no menu, and ISO 5218 codes sex 1 = male where the chat's menu has 1 = female).

A key that is no question of the protocol is, as the spec says of answers never asked,
ignored and listed as unused; but a misspelt ``prior_anti_pd_1`` lost its "yes" and the
verdict went from not eligible to incomplete without a word, so such keys are also named
apart (``strangers``, with the question likely meant), and ``strict`` refuses them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dialogs.engine import Engine
from dialogs.errors import RecordError
from dialogs.evaluation import Evaluation
from dialogs.protocol import AnswerType


@dataclass(frozen=True, slots=True)
class Stranger:
    """A record key that is no question of the protocol."""

    key: str
    meant: str | None  # the question most likely meant, if one is close

    @property
    def hint(self) -> str:
        return f" (did you mean {self.meant!r}?)" if self.meant else ""

    def __str__(self) -> str:
        return f"{self.key!r} is no question of this protocol{self.hint}"


@dataclass(frozen=True, slots=True)
class RecordResult:
    evaluation: Evaluation
    unused: tuple[str, ...]  # every key not asked, strangers included (the spec's list)
    asked: tuple[str, ...]
    strangers: tuple[Stranger, ...] = ()


def record_text(value: Any) -> str:
    """A record value as an investigator would have typed it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    raise TypeError(f"unsupported value {value!r}: expected text, a number, a boolean or null")


def parse_record(text: str) -> Any:
    """JSON text to a record, refusing a key given twice (``json.loads`` keeps the last
    silently: ``"consent_signed": "no"`` then ``"yes"`` read as consented).

    Raises ``json.JSONDecodeError`` for text that is not JSON, RecordError for a repeated key.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                raise RecordError(key, "given twice in the record: which answer is meant?")
            seen[key] = value
        return seen

    return json.loads(text, object_pairs_hook=pairs)


def shown(value: Any) -> str:
    """A record value as it is written in the record (JSON), for error messages."""
    return json.dumps(value, ensure_ascii=False)


def evaluate_record(
    engine: Engine, record: Mapping[str, Any], *, strict: bool = False
) -> RecordResult:
    """Feed a record through the engine in full mode; raises RecordError on a bad value,
    and with ``strict`` on a key that is no question of the protocol."""
    if not isinstance(record, Mapping):
        raise RecordError("-", "a record must be a JSON object of {question_id: answer}")
    strangers = tuple(strangers_in(engine, record))
    if strict and strangers:
        first = strangers[0]
        raise RecordError(first.key, f"no such question in {_named(engine)}{first.hint}")
    conv = engine.start("en", skip_chat_only=True)
    asked: list[str] = []
    try:
        while (prompt := engine.prompt(conv)) is not None:
            qid = prompt.question_id
            asked.append(qid)
            value = record.get(qid)
            try:
                text = record_text(value)
            except TypeError:
                raise RecordError(
                    qid, f"{shown(value)}: expected text, a number, true/false or null"
                ) from None
            question = engine.question(qid)
            if question.type is AnswerType.choice and _MENU_NUMBER.fullmatch(text):
                choices = ", ".join(c.value for c in question.choices)
                raise RecordError(
                    qid, f"{shown(value)}: a record has no menu, write the choice: {choices}"
                )
            step = engine.answer(conv, text)
            if not step.accepted:
                if qid not in record:
                    raise RecordError(qid, _missing(engine, qid, record))
                raise RecordError(qid, f"{shown(value)} is not accepted: {step.error}")
        evaluation = engine.evaluate(conv)
    finally:
        engine.release(conv)
    unused = tuple(k for k in record if k not in asked)
    return RecordResult(evaluation, unused, tuple(asked), strangers)


# A choice's number in the chat's menu ("2", " 3 ", "1."), never a choice's own value.
_MENU_NUMBER = re.compile(r"\s*[0-9]+\.?\s*")


def strangers_in(engine: Engine, record: Mapping[str, Any]) -> Iterator[Stranger]:
    """The keys that are no question of the protocol, each with the question likely meant
    (``Cohort``, ``prior_anti_pd_1``, ``ANC``)."""
    ids = [q.id for q in engine.protocol.questions]
    folded = {qid.casefold(): qid for qid in ids}
    for key in record:
        if key in engine.protocol.question_by_id:
            continue
        name = str(key)
        near = folded.get(name.casefold()) or next(
            iter(difflib.get_close_matches(name, ids, n=1, cutoff=0.6)), None
        )
        yield Stranger(name, near)


def _named(engine: Engine) -> str:
    return f"{engine.protocol.id} v{engine.protocol.version}"


def _missing(engine: Engine, qid: str, record: Mapping[str, Any]) -> str:
    """A required answer absent from the record: said as missing (not as a refused
    'None'), with the key that was most likely meant for it ('Cohort', 'start_date')."""
    meant = next((s for s in strangers_in(engine, record) if s.meant == qid), None)
    hint = f" (is {meant.key!r} meant to be {qid!r}?)" if meant else ""
    return f"missing: this question is required{hint}"
