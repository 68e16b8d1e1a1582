"""``protocol check``: find what would break in the middle of a screening, before it starts.

The loader already refuses what one look at the file can see (unknown names, forward
references, unknown units).  What it cannot see needs answers: a question no answer path
ever reaches, a ``when`` or a rule that raises for some combination of answers, a
criterion that can never pass.  This module searches the answer space for those.

The space is far too large to enumerate, so it is cut down twice:

* per question, a handful of *representative* answers: yes/no/unknown, every choice,
  numbers just below, on and above every threshold the expressions compare that question
  (or a value computed from it) with, dates whose gap to the planned start straddles each
  threshold, and the special words;
* the dialog walk (through the real :class:`~dialogs.engine.Engine`, so the check runs
  the code a chat runs) only branches on questions some later ``when`` looks at, and
  memoises on the answers later ``when`` conditions can still see; every other question
  gets one answer.  Criteria are then checked separately, each over the combinations of
  just the questions it depends on.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import math
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogs.answers import AnswerError, ParseContext
from dialogs.engine import Engine
from dialogs.errors import ConversationError, ExpressionError
from dialogs.evaluation import STATUSES, CriteriaEvaluator
from dialogs.expressions import Evaluator, names_in, parse
from dialogs.machine import COMPLETE
from dialogs.protocol import AnswerType, Criterion, Protocol, Question, Text
from dialogs.validation import template_fields
from dialogs.values import UNKNOWN, Answer

# A fixed calendar, so a check gives the same findings whatever day it runs.
CHECK_START = dt.date(2026, 6, 15)
CHECK_TODAY = CHECK_START
# Upper bounds that keep a pathological file from hanging the check; reaching one is a
# finding, not a silent truncation.
MAX_DIALOG_STATES = 200_000
MAX_COMBINATIONS = 384

# What evaluating a protocol's expressions or templates can raise when the file is wrong
# (TypeError also covers truth-testing UNKNOWN, which the engine treats as a bug).
_EVAL_ERRORS = (ExpressionError, ValueError, TypeError, KeyError, IndexError, AttributeError)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: the item (question or criterion ID; None for the whole file) and what."""

    item: str | None
    problem: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.item}: {self.problem}" if self.item else f"{where}{self.problem}"


@dataclass(slots=True)
class CheckReport:
    """Findings plus how much was explored, so "OK" says what it rests on."""

    protocol: Protocol
    findings: list[Finding] = field(default_factory=list)
    paths: int = 0
    states: int = 0
    combinations: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings


def check_protocol(protocol: Protocol) -> list[Finding]:
    """Every finding for a loaded protocol (empty when the file is sound)."""
    return run_check(protocol).findings


def run_check(protocol: Protocol) -> CheckReport:
    began = time.perf_counter()
    checker = _Checker(protocol)
    checker.run()
    report = checker.report
    report.seconds = time.perf_counter() - began
    return report


# ---------------------------------------------------------------------------
# Representative answers


def _numbers_in(node: ast.AST, constants: Mapping[str, Any]) -> set[float]:
    out: set[float] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, int | float):
            if not isinstance(sub.value, bool):
                out.add(float(sub.value))
        elif isinstance(sub, ast.Name):
            value = constants.get(sub.id)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.add(float(value))
    return out


def _protocol_expressions(p: Protocol) -> Iterator[str]:
    for q in p.questions:
        yield q.when
    for c in p.computed:
        yield c.expr
    for cr in p.criteria:
        yield from _criterion_expressions(cr)


def _criterion_expressions(cr: Criterion) -> Iterator[str]:
    if cr.not_applicable:
        yield cr.not_applicable
    for case in cr.cases:
        yield case.when
    yield cr.pass_
    if cr.earliest_start:
        yield cr.earliest_start
    if cr.flag:
        yield cr.flag


def computed_inputs(p: Protocol) -> dict[str, frozenset[str]]:
    """Each computed value's question inputs (kept by the protocol model)."""
    return p.computed_deps


def thresholds(p: Protocol) -> dict[str, set[float]]:
    """Numbers each question is compared with, directly or through a computed value.

    Only comparisons count (``anc >= 1.0``, ``gap(lab_date) > 14``): a constant elsewhere
    in the same rule says nothing about where this question's answer changes the outcome.
    """
    deps = computed_inputs(p)
    found: dict[str, set[float]] = {q.id: set() for q in p.questions}
    for expr in _protocol_expressions(p):
        for node in ast.walk(parse(expr)):
            if not isinstance(node, ast.Compare):
                continue
            numbers = _numbers_in(node, p.constants)
            if not numbers:
                continue
            for sub in ast.walk(node):
                if not isinstance(sub, ast.Name):
                    continue
                targets = {sub.id} if sub.id in found else deps.get(sub.id, set())
                for qid in targets:
                    found[qid] |= numbers
    return found


def _step(x: float) -> float:
    if x == 0:
        return 1.0
    return float(10 ** (math.floor(math.log10(abs(x))) - 1))


def _fmt(x: float) -> str:
    return f"{round(x, 6):g}"


def _around(values: Iterable[float], integer: bool) -> list[float]:
    out: list[float] = []
    for t in sorted(values):
        d = 1.0 if integer else _step(t)
        for x in (t - d, t, t + d):
            x = float(round(x)) if integer else round(x, 6)
            if x not in out:
                out.append(x)
    return out


def _candidate_texts(p: Protocol, q: Question, near: set[float], start: dt.date) -> list[str]:
    t = q.type
    unknown = [] if q.required else ["unknown"]
    if t is AnswerType.yesno:
        return ["yes", "no", *unknown]
    if t is AnswerType.choice:
        return [c.value for c in q.choices] + unknown
    if t is AnswerType.text:
        return ["PT-0042", "X1", "text 1", *unknown]
    if t is AnswerType.date:
        specials = [s for s in q.specials if s != "today"]
        gaps = [0, 400, *[int(g) for g in _around(near, integer=True)]]
        texts = [(start - dt.timedelta(days=g)).isoformat() for g in dict.fromkeys(gaps)]
        if q.id == "planned_start_date":
            texts = [start.isoformat()]
        return texts + specials + unknown
    # Orders of magnitude too: a value reaching a threshold only through a computed
    # value (a dose times a drug's factor) has no threshold of its own.
    extras = [1.0] if t is AnswerType.integer else [1.0, 10.0, 100.0]
    if q.minimum is not None:
        extras.append(q.minimum + (_step(q.minimum) if q.exclusive_minimum else 0))
    numbers = _around(near, integer=t is AnswerType.integer) + extras
    numbers = list(dict.fromkeys(numbers))
    if t is AnswerType.integer:
        return [str(int(x)) for x in numbers] + unknown
    if t is AnswerType.number:
        return [_fmt(x) for x in numbers] + unknown
    # quantity: every kind the question accepts, typed in that kind's canonical unit
    typed: list[str] = []
    kinds: dict[str, str] = {}
    for uid in q.units:
        unit = p.unit_by_id[uid]
        if unit.kind not in kinds or uid == unit.canonical:
            kinds[unit.kind] = uid
    for uid in kinds.values():
        unit = p.unit_by_id[uid]
        typed += [f"{_fmt(x / unit.factor)} {unit.id}" for x in numbers]
    return typed + unknown


def representative_answers(
    protocol: Protocol, start: dt.date = CHECK_START, today: dt.date = CHECK_TODAY
) -> dict[str, list[Answer]]:
    """Per question, the answers worth trying (parsed by the real parser; rejects dropped).

    Shared with the property-based tests, so they draw from the same space the check
    explores.
    """
    from dialogs.answers import AnswerParser

    parser = AnswerParser(protocol)
    near = thresholds(protocol)
    ctx = ParseContext(today=today, planned_start=start, lang="en")
    out: dict[str, list[Answer]] = {}
    for q in protocol.ordered_questions:
        accepted: list[Answer] = []
        seen: set[str] = set()
        for text in _candidate_texts(protocol, q, near[q.id], start):
            parsed = parser.parse(q, text, ctx)
            if isinstance(parsed, AnswerError) or repr(parsed.value) in seen:
                continue
            seen.add(repr(parsed.value))
            accepted.append(parsed)
        out[q.id] = accepted
    return out


# ---------------------------------------------------------------------------
# The checker


class _Checker:
    def __init__(self, protocol: Protocol) -> None:
        self.p = protocol
        self.report = CheckReport(protocol)
        self._seen: set[tuple[str | None, str]] = set()
        self.engine = Engine(protocol, clock=lambda: CHECK_TODAY)
        self.reps = representative_answers(protocol)
        # Questions some ``when`` looks at: the only ones the dialog walk branches on.
        self.when_names: dict[str, set[str]] = {
            q.id: names_in(q.when)[0] & set(protocol.question_by_id) for q in protocol.questions
        }
        self.branching = set().union(*self.when_names.values())
        order = protocol.order
        self.index = {qid: i for i, qid in enumerate(order)}
        # live[i]: answers a ``when`` after position i can still look at.
        self.live: list[tuple[str, ...]] = []
        for i in range(len(order)):
            later: set[str] = set()
            for qid in order[i + 1 :]:
                later |= self.when_names[qid]
            self.live.append(tuple(sorted(later)))
        self.visited: set[str] = set()
        self._memo: dict[tuple[Any, ...], int] = {}
        self._single: dict[str, CriteriaEvaluator] = {}
        self._blocked = False

    def add(self, item: str | None, problem: str, kind: str | None = None) -> None:
        """Record a finding once per item and kind (the first example is enough)."""
        key = (item, kind or problem)
        if key not in self._seen:
            self._seen.add(key)
            self.report.findings.append(Finding(item, problem, self.p.source))

    def run(self) -> None:
        self.check_texts()
        self.check_machine()
        self.check_answers_exist()
        self.check_dialog()
        self.check_criteria()

    # -- static ------------------------------------------------------------------------

    def check_texts(self) -> None:
        """Every user-facing text in every declared language (an empty one is missing)."""
        p = self.p
        names = {"en": "English", "fr": "French"}
        for lang in p.languages:
            if lang not in names:
                self.add(
                    "languages",
                    f"language '{lang}' is declared but protocol texts exist only in en and fr",
                )
        langs = [lang for lang in p.languages if lang in names]

        def need(item: str, what: str, text: Text | None) -> None:
            if text is None:
                return
            for lang in langs:
                if not text.get(lang).strip():
                    self.add(item, f"{what}: the {names[lang]} ({lang}) text is empty")

        need("title", "title", p.title)
        for q in p.questions:
            need(q.id, "label", q.label)
            need(q.id, "help", q.help)
            for c in q.choices:
                need(q.id, f"choice '{c.value}' label", c.label)
        for comp in p.computed:
            need(comp.id, "explain", comp.explain)
        numbers = {note.number for note in p.notes}
        for note in p.notes:
            need(f"note {note.number}", "text", note.text)
        for cr in p.criteria:
            need(cr.id, "label", cr.label)
            need(cr.id, "explain", cr.explain)
            need(cr.id, "not_applicable_reason", cr.not_applicable_reason)
            need(cr.id, "flag_reason", cr.flag_reason)
            for i, case in enumerate(cr.cases, 1):
                need(cr.id, f"case {i} reason", case.reason)
            for number in cr.notes:
                if number not in numbers:
                    self.add(cr.id, f"refers to note {number}, which is not defined")

    def check_machine(self) -> None:
        states = list(self.engine.machine.states)
        expected = [*self.p.order, COMPLETE]
        if states != expected:
            self.add(None, f"the state machine's states {states} are not order + {COMPLETE}")

    def check_answers_exist(self) -> None:
        for q in self.p.ordered_questions:
            if all(a.is_unknown for a in self.reps[q.id]):
                self.add(q.id, "accepts none of the answers tried: check its range and type")

    # -- the dialog walk ------------------------------------------------------------------

    def check_dialog(self) -> None:
        try:
            conv = self.engine.start("en", skip_chat_only=True)
        except StopIteration:
            self.add(None, "every question is chat-only: a record has nothing to answer")
            return
        first = conv.state
        self.engine.release(conv)
        # Chat-only questions before the first record question are asked by every chat.
        for qid in self.p.order[: self.index[first]]:
            self.visited.add(qid)
        self.report.paths = self._explore(first, {}, 0)
        self.report.states = len(self._memo)
        if self._blocked:
            return  # questions behind an error were not reached: that error is the finding
        for q in self.p.ordered_questions:
            if q.id not in self.visited:
                self.add(
                    q.id,
                    f"never asked: no explored answer path reaches it (when: {q.when!r})",
                )

    def _key(self, state: str, answers: Mapping[str, Answer]) -> tuple[Any, ...]:
        """What the rest of the walk depends on: the state and the answers a later ``when``
        sees.  The ``advance`` guard also asks again answers made invalid by the planned
        start, but the walk only answers forward, with dates parsed against its one fixed
        start, so no later question has an answer yet, let alone an invalid one."""
        if state == COMPLETE:
            live: tuple[str, ...] = ()
        else:
            live = self.live[self.index[state]]
        return (state, *(repr(answers[n].value) if n in answers else "-" for n in live))

    def _explore(self, state: str, answers: dict[str, Answer], depth: int) -> int:
        """Number of distinct branching paths from here to ``complete``."""
        key = self._key(state, answers)
        if key in self._memo:
            return self._memo[key]
        if len(self._memo) >= MAX_DIALOG_STATES:
            self.add(None, f"the dialog has more than {MAX_DIALOG_STATES} states to explore")
            return 0
        self._memo[key] = 0  # a re-entry (a cycle) counts nothing
        if state == COMPLETE:
            self._check_complete(answers)
            self._memo[key] = 1
            return 1
        self.visited.add(state)
        if depth > len(self.p.order):
            self.add(state, "the dialog does not end: more steps than there are questions")
            return 0
        options = self.reps[state]
        if state not in self.branching:
            options = options[:1]
        total = 0
        for parsed in options:
            moved = self._answer(state, answers, parsed)
            if moved is None:
                continue
            new_state, new_answers = moved
            if new_state != COMPLETE and self.index[new_state] <= self.index[state]:
                self.add(state, f"answering it moves back to '{new_state}'")
                continue
            total += self._explore(new_state, new_answers, depth + 1)
        self._memo[key] = total
        return total

    def _answer(
        self, state: str, answers: dict[str, Answer], parsed: Answer
    ) -> tuple[str, dict[str, Answer]] | None:
        text = parsed.raw
        try:
            with self.engine.attached(state, answers, "en") as conv:
                step = self.engine.answer(conv, text)
                if not step.accepted:
                    self.add(
                        state,
                        f"the answer {text!r} was accepted once and then refused: {step.error}",
                    )
                    return None
                if self.engine.prompt(conv) is None and conv.state != COMPLETE:
                    self.add(conv.state, "the dialog stops without reaching 'complete'")
                    return None
                return conv.state, dict(conv.answers)
        except ConversationError as exc:
            self.add(state, f"the engine refused the step: {exc}")
        except _EVAL_ERRORS as exc:
            self._blocked = True
            self._blame({**answers, state: parsed}, exc)
        return None

    def _check_complete(self, answers: Mapping[str, Answer]) -> None:
        try:
            evaluation = self.engine.evaluate_answers(answers)
        except _EVAL_ERRORS as exc:
            self._blame(answers, exc)
            return
        if evaluation.pending:
            self.add(
                None,
                "the dialog reached 'complete' with questions that apply still unanswered: "
                + ", ".join(evaluation.pending),
            )
        for cid, result in evaluation.results.items():
            if result.status not in STATUSES:
                self.add(cid, f"ends with status {result.status!r}")

    def _blame(self, answers: Mapping[str, Answer], exc: Exception) -> None:
        """Name the ``when`` or criterion that raised: the engine's error may not."""
        bad_when = self._failing_when(answers)
        if bad_when is not None:
            qid, error = bad_when
            self.add(
                qid,
                f"'when' cannot be evaluated ({_shown(answers, qid, self.p)}): {error}",
                kind="when",
            )
            return
        for cr in self.p.criteria:
            problem = self._criterion_error(cr, answers)
            if problem is not None:
                self.add(cr.id, problem, kind="rule")
                return
        self.add(None, f"evaluation raised {type(exc).__name__}: {exc}")

    def _failing_when(self, answers: Mapping[str, Answer]) -> tuple[str, str] | None:
        start = answers.get("planned_start_date")
        names: dict[str, Any] = dict(self.p.constants)
        ev = Evaluator(names, start.value if start else None)
        for q in self.p.ordered_questions:
            try:
                verdict = ev.truth(q.when).value
            except _EVAL_ERRORS as exc:
                return q.id, _error_text(exc, self.p.source, q.id)
            if verdict is UNKNOWN:
                names[q.id] = UNKNOWN
            elif not verdict:
                names[q.id] = None
            else:
                a = answers.get(q.id)
                names[q.id] = a.value if a is not None else UNKNOWN
        return None

    # -- criteria -----------------------------------------------------------------------

    def _single_evaluator(self, cr: Criterion) -> CriteriaEvaluator:
        if cr.id not in self._single:
            self._single[cr.id] = CriteriaEvaluator(self.p.model_copy(update={"criteria": (cr,)}))
        return self._single[cr.id]

    def _criterion_error(self, cr: Criterion, answers: Mapping[str, Answer]) -> str | None:
        try:
            result = self._single_evaluator(cr).evaluate(answers).results[cr.id]
        except _EVAL_ERRORS as exc:
            shown = _shown(answers, cr.id, self.p)
            return f"the rule or its explanation cannot be evaluated ({shown}): " + _error_text(
                exc, self.p.source, cr.id
            )
        if result.status not in STATUSES:
            return f"ends with status {result.status!r}"
        return None

    def _criterion_questions(self, cr: Criterion) -> list[str]:
        """The questions a criterion's outcome depends on, with what decides they are asked."""
        deps = computed_inputs(self.p)
        wanted: set[str] = set()
        texts = [cr.explain, cr.not_applicable_reason, cr.flag_reason]
        texts += [c.reason for c in cr.cases]
        names: set[str] = set()
        for expr in _criterion_expressions(cr):
            names |= names_in(expr)[0]
        for t in texts:
            if t is not None:
                names |= template_fields(t)
        for n in names:
            if n in self.p.question_by_id:
                wanted.add(n)
            wanted |= deps.get(n, set())
        todo = list(wanted)
        while todo:
            for n in self.when_names[todo.pop()]:
                if n not in wanted:
                    wanted.add(n)
                    todo.append(n)
        wanted.add("planned_start_date")
        return [q for q in self.p.order if q in wanted]

    def check_criteria(self) -> None:
        for cr in self.p.criteria:
            qids = self._criterion_questions(cr)
            choices = [self.reps[q] for q in qids]
            if any(all(a.is_unknown for a in c) for c in choices):
                continue  # already a finding: a question that accepts nothing
            statuses: set[str] = set()
            combos, exhaustive = _combinations(choices, MAX_COMBINATIONS, seed=cr.id)
            for combo in combos:
                self.report.combinations += 1
                answers = {a.question_id: a for a in combo}
                try:
                    result = self._single_evaluator(cr).evaluate(answers).results[cr.id]
                except _EVAL_ERRORS as exc:
                    # A broken ``when`` surfaces here too: blame it, not the criterion.
                    self._blame(answers, exc)
                    break
                statuses.add(result.status)
                if result.status not in STATUSES:
                    self.add(cr.id, f"ends with status {result.status!r}")
                    break
            else:
                if exhaustive and "pass" not in statuses:
                    self.add(
                        cr.id,
                        "can never pass: no combination of answers to "
                        + ", ".join(q for q in qids if q != "planned_start_date")
                        + " makes it pass (a rule needing questions that are never asked "
                        "together?)",
                    )


def _error_text(exc: Exception, source: str, item: str) -> str:
    """The error without the engine's own "file: item:" prefix, which the finding repeats."""
    text = str(exc)
    prefix = f"{source}: {item}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text if isinstance(exc, ExpressionError) else f"{type(exc).__name__}: {text}"


def _shown(answers: Mapping[str, Answer], item: str, p: Protocol) -> str:
    """The answers an item's expressions use, so a finding can be reproduced by hand."""
    names: set[str] = set()
    if item in p.question_by_id:
        names = names_in(p.question_by_id[item].when)[0]
    elif item in p.criterion_by_id:
        deps = computed_inputs(p)
        for expr in _criterion_expressions(p.criterion_by_id[item]):
            for n in names_in(expr)[0]:
                names.add(n)
                names |= deps.get(n, set())
    parts = [f"{q}={answers[q].raw!r}" for q in p.order if q in names and q in answers]
    return "with " + ", ".join(parts) if parts else "before any of its questions is answered"


def _combinations(
    choices: Sequence[Sequence[Answer]], limit: int, seed: str
) -> tuple[Iterable[tuple[Answer, ...]], bool]:
    """All combinations when there are few, else a fixed-seed sample (and say which)."""
    total = math.prod(len(c) for c in choices)
    if total <= limit:
        return itertools.product(*choices), True
    rng = random.Random(seed)
    picks = sorted(rng.sample(range(total), limit))

    def decode(n: int) -> tuple[Answer, ...]:
        out: list[Answer] = []
        for c in reversed(choices):
            n, r = divmod(n, len(c))
            out.append(c[r])
        return tuple(reversed(out))

    return (decode(n) for n in picks), False
