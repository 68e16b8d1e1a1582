"""One screening's dialog state: the FSM model the shared Machine drives.

It holds only what the dialog needs (state name, current answers, language); everything
durable lives in storage, and a conversation is rebuilt from it for each update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from dialogs.protocol import Protocol
from dialogs.resolution import Resolution, resolve, update
from dialogs.values import UNKNOWN, Answer


class Conversation:
    """FSM model.  ``state`` is set by the shared ``transitions.Machine``."""

    state: str
    # Bound by the Machine on add_model.
    trigger: Callable[..., bool]

    def __init__(
        self,
        protocol: Protocol,
        answers: dict[str, Answer],
        lang: str,
        resolution: Resolution | None = None,
        to_confirm: Iterable[str] = (),
    ) -> None:
        """``resolution``, when given, must be that of exactly these answers."""
        self.protocol = protocol
        self.answers = answers
        self.lang = lang
        self._resolution: Resolution | None = resolution
        # Answered questions that wait nonetheless, until answered or kept: the question
        # a screening was reopened at, the values a changed date dated (stored with it).
        self.to_confirm: set[str] = set(to_confirm)
        # Questions whose answer changed since ``_resolution`` was settled: the next read
        # re-settles only what they can reach instead of walking the whole protocol.
        self._changed: set[str] = set()

    # Methods the machine's guards and callbacks call -------------------------------

    def record(self, answer: Answer) -> None:
        qid = answer.question_id
        before = self.answers.get(qid)
        self.answers[qid] = answer
        self._changed.add(qid)
        self.to_confirm.discard(qid)
        if before is not None and before.value != answer.value:
            # New labs: the values measured on the old date are asked again, with Keep.
            dated = self.protocol.dated_values.get(qid, frozenset())
            self.to_confirm |= {q for q in dated if q in self.answers}

    def applies(self, question_id: str) -> Any:
        """True, False or UNKNOWN, from the current answers."""
        return self.resolution.applies[question_id]

    def waits(self, question_id: str) -> bool:
        """Whether the question applies and still needs an answer: none recorded, or one
        the planned start date made invalid (it counts as no answer, see ``resolution``)."""
        res = self.resolution
        if res.applies[question_id] is not True:
            return False
        return (
            question_id not in self.answers
            or question_id in res.invalid
            or question_id in self.to_confirm
        )

    @property
    def resolution(self) -> Resolution:
        if self._resolution is None:
            self._resolution = resolve(self.protocol, self.answers)
            self._changed.clear()
        elif self._changed:
            self._resolution = update(self.protocol, self._resolution, self.answers, self._changed)
            self._changed.clear()
        return self._resolution

    @property
    def rules_resolution(self) -> Resolution:
        """The resolution the criteria read: a value measured on a lab date since changed
        reads unknown until it is typed again or kept.  Read as recorded, the old panel's
        platelets failed I09 at the first new value typed, and the screening could end
        NOT ELIGIBLE on a count nobody confirmed for the new date."""
        res = self.resolution
        if not self.to_confirm:
            return res
        dated = self.protocol.dated_value_ids
        held = frozenset(
            q
            for q in self.to_confirm
            if q in dated and q in self.answers and res.names.get(q) not in (None, UNKNOWN)
        )
        if not held:
            return res
        return replace(res, names={**res.names, **dict.fromkeys(held, UNKNOWN)}, held=held)

    def forget(self, question_id: str) -> None:
        self.answers.pop(question_id, None)
        self._changed.add(question_id)
