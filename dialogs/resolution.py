"""From answers to the names rules see: which questions apply, which wait, which are invalid.

One walk in question order decides, for each question, whether it applies (its ``when``
over earlier answers: True, False or unknown) and what its name means to rules: the
parsed value, ``None`` when not asked, or UNKNOWN.  The FSM guards, the evaluation and
the pending-items list all use this walk, so they cannot disagree.

A recorded date after the planned start is an input error (the spec's ``gap``), so moving
the planned start earlier can make answers already recorded invalid: their name reads
UNKNOWN, ``invalid`` says why, and they are ``pending`` again, like a question without an
answer.  The dialog asks them again and the to-document lists name them: an answer no
rule can use is one still to give.

After one answer changes, :func:`update` re-settles only that question and the questions
whose ``when`` can follow it (``Protocol.when_dependents``), with the very same per-question
step as the full walk: a conversation resolves twice per answer, and the full walk is
mostly ``when`` expressions the answer cannot change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from dialogs.errors import ExpressionError
from dialogs.expressions import Evaluator
from dialogs.protocol import Protocol, Question
from dialogs.values import UNKNOWN, Answer

START_QUESTION = "planned_start_date"


@dataclass(frozen=True, slots=True)
class Resolution:
    names: dict[str, Any]
    applies: dict[str, Any]  # True, False or UNKNOWN
    # Apply and still wait for an answer: none yet, or one listed in ``invalid``.
    pending: tuple[str, ...]
    invalid: dict[str, str]  # question id -> why its answer is not valid for the date
    start: dt.date | None
    # Measured on a date since changed and not yet confirmed: read UNKNOWN by the rules
    # (see Conversation.rules_resolution); never set by a walk.
    held: frozenset[str] = frozenset()


def planned_start(answers: Mapping[str, Answer]) -> dt.date | None:
    a = answers.get(START_QUESTION)
    return a.value if a is not None and isinstance(a.value, dt.date) else None


class _Walk:
    """Settles questions into one resolution's dicts, one question at a time.

    Both the full walk and the partial update go through :meth:`settle`, so they cannot
    disagree on what a question's name is.  ``names`` is shared with the evaluator: each
    question sees the earlier ones.
    """

    def __init__(
        self,
        protocol: Protocol,
        answers: Mapping[str, Answer],
        names: dict[str, Any],
        applies: dict[str, Any],
        invalid: dict[str, str],
        start: dt.date | None,
    ) -> None:
        self.protocol = protocol
        self.answers = answers
        self.names = names
        self.applies = applies
        self.invalid = invalid
        self.start = start
        self._evaluator = Evaluator(names, start)

    def settle(self, q: Question) -> None:
        if q.when == "True":
            verdict: Any = True
        else:
            try:
                verdict = self._evaluator.truth_value(q.when)
            except ExpressionError as exc:
                raise ExpressionError(f"{self.protocol.source}: {q.id}: 'when': {exc}") from exc
        self.applies[q.id] = verdict
        self.invalid.pop(q.id, None)
        if verdict is UNKNOWN:
            self.names[q.id] = UNKNOWN
            return
        if not verdict:
            self.names[q.id] = None
            return
        answer = self.answers.get(q.id)
        if answer is None:
            self.names[q.id] = UNKNOWN
            return
        value = answer.value
        start = self.start
        if isinstance(value, dt.date) and q.not_after_start and start is not None and value > start:
            self.invalid[q.id] = "after_start"
            value = UNKNOWN
        self.names[q.id] = value

    def resolution(self) -> Resolution:
        invalid = self.invalid
        pending = tuple(
            q.id
            for q in self.protocol.ordered_questions
            if self.applies[q.id] is True
            and (q.id not in self.answers or q.id in invalid)
            and not q.chat_only
        )
        if invalid:
            # Question order, whichever questions were settled last.
            invalid = {qid: invalid[qid] for qid in self.protocol.order if qid in invalid}
        return Resolution(self.names, self.applies, pending, invalid, self.start)


def resolve(protocol: Protocol, answers: Mapping[str, Answer]) -> Resolution:
    walk = _Walk(protocol, answers, dict(protocol.constants), {}, {}, planned_start(answers))
    for q in protocol.ordered_questions:
        walk.settle(q)
    return walk.resolution()


def update(
    protocol: Protocol,
    previous: Resolution,
    answers: Mapping[str, Answer],
    changed: Collection[str],
) -> Resolution:
    """The resolution of ``answers``, given ``previous`` for the same answers except those of
    the ``changed`` questions (recorded, replaced or forgotten since).

    Equal to ``resolve(protocol, answers)``: a question outside the changed ones and their
    ``when`` dependents reads the same names as before, so it settles the same way.  The
    planned start date feeds ``gap()`` and every date check, so changing it walks everything,
    as does a protocol whose dependents are not known (see ``Protocol.when_dependents``).
    """
    dependents = protocol.when_dependents
    if dependents is None or START_QUESTION in changed or planned_start(answers) != previous.start:
        return resolve(protocol, answers)
    targets: set[str] = set()
    for qid in changed:
        if qid not in dependents:
            return resolve(protocol, answers)
        targets |= dependents[qid]
    walk = _Walk(
        protocol,
        answers,
        dict(previous.names),
        dict(previous.applies),
        dict(previous.invalid),
        previous.start,
    )
    for q in protocol.ordered_questions:
        if q.id in targets:
            walk.settle(q)
    return walk.resolution()
