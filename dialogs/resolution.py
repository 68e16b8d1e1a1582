"""From answers to the names rules see: which questions apply, which wait, which are invalid.

One walk in question order decides, for each question, whether it applies (its ``when``
over earlier answers: True, False or unknown) and what its name means to rules: the
parsed value, ``None`` when not asked, or UNKNOWN.  The FSM guards, the evaluation and
the pending-items list all use this walk, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dialogs.errors import ExpressionError
from dialogs.expressions import Evaluator
from dialogs.protocol import Protocol
from dialogs.values import UNKNOWN, Answer


@dataclass(frozen=True, slots=True)
class Resolution:
    names: dict[str, Any]
    applies: dict[str, Any]  # True, False or UNKNOWN
    pending: tuple[str, ...]  # apply, no answer yet
    invalid: dict[str, str]  # question id -> why its answer is not valid for the date
    start: dt.date | None


def planned_start(answers: Mapping[str, Answer]) -> dt.date | None:
    a = answers.get("planned_start_date")
    return a.value if a is not None and isinstance(a.value, dt.date) else None


def resolve(protocol: Protocol, answers: Mapping[str, Answer]) -> Resolution:
    start = planned_start(answers)
    names: dict[str, Any] = dict(protocol.constants)
    applies: dict[str, Any] = {}
    pending: list[str] = []
    invalid: dict[str, str] = {}
    evaluator = Evaluator(names, start)
    for q in protocol.ordered_questions:
        # ``names`` is shared with the evaluator: each question sees the earlier ones.
        try:
            verdict = True if q.when == "True" else evaluator.truth(q.when).value
        except ExpressionError as exc:
            raise ExpressionError(f"{protocol.source}: {q.id}: 'when': {exc}") from exc
        applies[q.id] = verdict
        if verdict is UNKNOWN:
            names[q.id] = UNKNOWN
            continue
        if not verdict:
            names[q.id] = None
            continue
        answer = answers.get(q.id)
        if answer is None:
            names[q.id] = UNKNOWN
            if not q.chat_only:
                pending.append(q.id)
            continue
        value = answer.value
        if isinstance(value, dt.date) and q.not_after_start and start is not None and value > start:
            invalid[q.id] = "after_start"
            value = UNKNOWN
        names[q.id] = value
    return Resolution(names, applies, tuple(pending), invalid, start)
