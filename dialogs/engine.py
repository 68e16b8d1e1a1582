"""The dialog engine: the one API front ends use.  It returns data and never talks to users.

A front end restores a conversation from storage (:meth:`Engine.restore`), feeds it one
answer (:meth:`Engine.answer`), stores what the returned :class:`Step` says, and shows the
next :class:`Prompt`.  Bad answers come back as a Step with ``error`` set and the state
unchanged.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from transitions import MachineError

from dialogs.answers import AnswerError, AnswerParser, ParseContext
from dialogs.conversation import Conversation
from dialogs.display import question_label, value_text
from dialogs.errors import ConversationError
from dialogs.evaluation import CriteriaEvaluator, CriterionResult, Evaluation
from dialogs.machine import COMPLETE, build_machine
from dialogs.messages import message
from dialogs.protocol import AnswerType, Protocol, Question
from dialogs.resolution import START_QUESTION, Resolution, planned_start
from dialogs.values import UNKNOWN, Answer, Value

Clock = Callable[[], dt.date]

RECENT_CONVERSATIONS = 4096
"""How many conversations' last resolutions an engine keeps (about 10 KiB each)."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """What to ask next; ``choices`` become buttons (value, label)."""

    question_id: str
    text: str
    help: str | None
    type: AnswerType
    choices: tuple[tuple[str, str], ...]
    allows_unknown: bool
    current: str | None
    position: int
    total: int
    # False when the current answer is no longer valid (a date now after the planned
    # start): it is shown, but must be answered again, not kept.
    keepable: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one answer (or of ``back``)."""

    question_id: str
    state: str
    accepted: bool
    error: str | None = None
    answer: Answer | None = None
    display: str | None = None
    newly_failed: tuple[CriterionResult, ...] = ()
    # IDs of the criteria this answer can change that fail after it (newly or not).
    failing: frozenset[str] = frozenset()
    notices: tuple[str, ...] = ()  # computed values the answer fed (eGFR…)
    # Answers this step made invalid (dates now after the planned start), in question order:
    # the dialog asks them again, and ``warnings`` names them for the investigator.
    invalidated: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Refused as after the planned start date: the start may be what has to change.
    after_start: bool = False

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE


class Engine:
    """Runs conversations for one protocol version on one shared state machine."""

    def __init__(self, protocol: Protocol, clock: Clock = dt.date.today) -> None:
        self.protocol = protocol
        self.clock = clock
        self.parser = AnswerParser(protocol)
        self.criteria = CriteriaEvaluator(protocol)
        self.machine = build_machine(protocol.order)
        # The questions a screening records (not the chat-only patient code), in order.
        self._record_questions = tuple(q.id for q in protocol.ordered_questions if not q.chat_only)
        self._first_record_question = self._record_questions[0]
        # key -> (answers, their resolution) as a conversation was released with them.
        # Settling a resolution from scratch walks every question's condition: the largest
        # part of restoring a conversation.  The next update of the same screening usually
        # restores exactly those answers (nothing else wrote in between), and then the
        # walk's result is known.  The answers are compared, not trusted: another worker,
        # a rolled-back transaction or a coordinator's reopening changes them, and then
        # the walk is done again.  A resolution depends only on the protocol and the
        # answers, and is never changed in place.
        self._recent: OrderedDict[Hashable, tuple[dict[str, Answer], Resolution]] = OrderedDict()
        self._recent_lock = threading.Lock()

    # -- attaching conversations ---------------------------------------------------

    def start(self, lang: str = "en", *, skip_chat_only: bool = False) -> Conversation:
        initial = self._first_record_question if skip_chat_only else self.protocol.order[0]
        return self.restore(initial, {}, lang)

    def restore(
        self,
        state: str,
        answers: Mapping[str, Answer],
        lang: str,
        key: Hashable | None = None,
        to_confirm: Iterable[str] = (),
    ) -> Conversation:
        """Attach a conversation at a saved state name (never builds a machine).

        ``key`` names the conversation (a screening id) to reuse the resolution it was
        last released with, when its answers are still the same (see :meth:`release`).
        ``to_confirm``: answered questions asked again, with Keep (stored with it).
        """
        if state != COMPLETE and state not in self.protocol.question_by_id:
            raise ConversationError(f"state {state!r} is not in protocol {self.protocol.id}")
        resolution = None
        if key is not None:
            with self._recent_lock:
                recent = self._recent.get(key)
            if recent is not None and recent[0] == answers:
                resolution = recent[1]
        conv = Conversation(self.protocol, dict(answers), lang, resolution, to_confirm)
        self.machine.add_model(conv, initial=state)
        return conv

    def release(self, conv: Conversation, key: Hashable | None = None) -> None:
        """Detach; with ``key``, remember the conversation's answers and resolution."""
        if conv in self.machine.models:
            self.machine.remove_model(conv)
        if key is None:
            return
        entry = (dict(conv.answers), conv.resolution)
        with self._recent_lock:
            self._recent[key] = entry
            self._recent.move_to_end(key)
            if len(self._recent) > RECENT_CONVERSATIONS:
                self._recent.popitem(last=False)

    @contextmanager
    def attached(
        self,
        state: str,
        answers: Mapping[str, Answer],
        lang: str,
        key: Hashable | None = None,
        to_confirm: Iterable[str] = (),
    ) -> Iterator[Conversation]:
        """The conversation for the time of one update.  With ``key``, its answers and
        resolution are remembered when the block ends without an error (an error may
        mean the caller's transaction rolls back; the next restore compares anyway)."""
        conv = self.restore(state, answers, lang, key, to_confirm)
        try:
            yield conv
        except BaseException:
            self.release(conv)
            raise
        self.release(conv, key)

    # -- asking --------------------------------------------------------------------

    def question(self, question_id: str) -> Question:
        return self.protocol.question_by_id[question_id]

    def prompt(self, conv: Conversation) -> Prompt | None:
        if conv.state == COMPLETE:
            return None
        q = self.question(conv.state)
        lang = conv.lang
        if q.type is AnswerType.yesno:
            choices: tuple[tuple[str, str], ...] = (
                ("yes", value_text(self.protocol, q.id, "yes", lang).capitalize()),
                ("no", value_text(self.protocol, q.id, "no", lang).capitalize()),
            )
        else:
            choices = tuple((c.value, c.label.get(lang)) for c in q.choices)
        current = conv.answers.get(q.id)
        applies = conv.resolution.applies
        applicable = [qid for qid in self._record_questions if applies[qid] is True]
        position = applicable.index(q.id) + 1 if q.id in applicable else 0
        return Prompt(
            question_id=q.id,
            text=q.label.get(lang),
            help=q.help.get(lang) if q.help else None,
            type=q.type,
            choices=choices,
            allows_unknown=not q.required,
            current=self.display(q.id, current.value, lang) if current else None,
            position=position,
            total=len(applicable),
            keepable=q.id not in conv.resolution.invalid,
        )

    def expected(self, question_id: str, lang: str) -> str:
        return self.parser.expected(self.question(question_id), lang)

    def display(self, question_id: str, value: Value, lang: str) -> str:
        """An answer as the chat shows it.  A number read in its question's unit says the
        unit ("16 mg", not "16": '16 mg/j' read back as « 16 » looked like a lost unit);
        reasons fill values into their own sentences ("{dose} mg/day") and do not use this."""
        if value is UNKNOWN:
            return message("unknown_answer", lang)
        shown = value_text(self.protocol, question_id, value, lang)
        q = self.protocol.question_by_id.get(question_id)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if q is not None and q.type is AnswerType.number and q.default_unit and numeric:
            unit = self.protocol.unit_by_id.get(q.default_unit)
            shown = f"{shown} {unit.display if unit is not None else q.default_unit}"
        return shown

    def parse(self, conv: Conversation, question_id: str, text: str) -> Answer | AnswerError:
        ctx = ParseContext(
            today=self.clock(), planned_start=planned_start(conv.answers), lang=conv.lang
        )
        return self.parser.parse(self.question(question_id), text, ctx)

    # -- moving ----------------------------------------------------------------------

    def answer(self, conv: Conversation, text: str) -> Step:
        """Parse ``text`` for the current question; on success record it and move on."""
        qid = conv.state
        if qid == COMPLETE:
            raise ConversationError("the screening is complete: go back to change an answer")
        parsed = self.parse(conv, qid, text)
        if isinstance(parsed, AnswerError):
            return Step(
                qid, qid, accepted=False, error=parsed.message, after_start=parsed.after_start
            )
        # Resolutions are never changed in place (an answer settles a new one), so the one
        # before the answer can still be checked afterwards, and only when needed: most
        # answers fail nothing, and then nothing newly fails either.
        before = conv.rules_resolution
        invalid_before = conv.resolution.invalid
        conv.trigger("advance", answer=parsed)
        failing = frozenset(self.criteria.failing(conv.rules_resolution, qid))
        newly_ids = set(failing)
        if newly_ids:
            newly_ids -= self.criteria.failing(before, qid)
        invalidated = tuple(q for q in conv.resolution.invalid if q not in invalid_before)
        feeds = self.criteria.computed_inputs.get(qid, set())
        newly: tuple[CriterionResult, ...] = ()
        notices: tuple[str, ...] = ()
        if newly_ids:
            # Reasons only when a criterion newly fails: most answers fail none.
            after = self.evaluate(conv)
            newly = tuple(r for r in after.failed if r.id in newly_ids)
        if feeds:
            notices = self.criteria.announcements(conv.resolution, feeds, conv.lang)
        warnings: tuple[str, ...] = ()
        start = parsed.value
        if qid == START_QUESTION and isinstance(start, dt.date) and start < self.clock():
            # Accepted (a record may be screened after the fact), but in the chat a past
            # start is usually a mistyped year, and every date is counted back from it.
            shown = start.strftime("%d/%m/%Y")
            warnings = (message("start_in_past", conv.lang, start=shown),)
        if invalidated:
            # Last: the prompt that follows asks the first of them again.
            warnings = (*warnings, self._invalidated_notice(conv, qid, invalidated))
        return Step(
            qid,
            conv.state,
            accepted=True,
            answer=parsed,
            display=self.display(qid, parsed.value, conv.lang),
            newly_failed=newly,
            failing=failing,
            notices=notices,
            invalidated=invalidated,
            warnings=warnings,
        )

    def _invalidated_notice(
        self, conv: Conversation, question_id: str, invalidated: tuple[str, ...]
    ) -> str:
        """Why recorded answers are asked again, named by their labels (an investigator
        does not know the IDs).  Usually the planned start moved before them; otherwise an
        answer made a question apply again whose old date is after the current start."""
        lang = conv.lang
        labels = "; ".join(question_label(self.protocol, q, lang) for q in invalidated)
        start = conv.resolution.start
        shown = start.strftime("%d/%m/%Y") if start is not None else "?"
        key = "invalidated_by_start" if question_id == START_QUESTION else "invalid_after_start"
        return message(key, lang, start=shown, questions=labels)

    def back(self, conv: Conversation) -> Step | None:
        """Step back to the previous question asked; None when there is none."""
        source = conv.state
        try:
            moved = conv.trigger("back")
        except MachineError:
            return None
        if not moved:
            return None
        if self.question(conv.state).chat_only:
            self.machine.set_state(source, model=conv)
            return None
        return Step(source, conv.state, accepted=True)

    def goto(self, conv: Conversation, question_id: str) -> None:
        """Reopen at a given question (a coordinator's query); it must apply."""
        if question_id not in self.protocol.question_by_id:
            raise ConversationError(f"no question {question_id!r}")
        if conv.applies(question_id) is not True:
            raise ConversationError(f"question {question_id!r} does not apply to this screening")
        self.machine.set_state(question_id, model=conv)

    # -- evaluating --------------------------------------------------------------------

    def failing(self, conv: Conversation, question_id: str) -> frozenset[str]:
        """IDs of the criteria ``question_id``'s answer can change that fail now."""
        return frozenset(self.criteria.failing(conv.rules_resolution, question_id))

    def evaluate(self, conv: Conversation) -> Evaluation:
        return self.criteria.evaluate(conv.answers, conv.lang, conv.rules_resolution)

    def evaluate_answers(self, answers: Mapping[str, Answer], lang: str = "en") -> Evaluation:
        return self.criteria.evaluate(answers, lang)
