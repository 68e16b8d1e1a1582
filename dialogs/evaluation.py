"""Criterion statuses, reasons, computed values and the verdict.

The status words (pass/fail/unknown/not_applicable) and verdicts
(eligible/not_eligible/incomplete) are an interface other systems read: keep them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dialogs.display import field_names, question_label, render, value_text
from dialogs.errors import ExpressionError
from dialogs.expressions import Evaluator, names_in
from dialogs.messages import message
from dialogs.protocol import Computed, Criterion, Protocol
from dialogs.resolution import START_QUESTION, Resolution, resolve
from dialogs.values import UNKNOWN, Answer

Status = Literal["pass", "fail", "unknown", "not_applicable"]
Verdict = Literal["eligible", "not_eligible", "incomplete"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "unknown", "not_applicable")


@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    status: Status
    reason: str
    earliest_start: dt.date | None = None
    flagged: str | None = None
    # For an unknown criterion, the IDs of the questions behind it, in question order.  The
    # reason names them by their labels, for people; programs read the IDs here.
    open_questions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "earliest_start": self.earliest_start.isoformat() if self.earliest_start else None,
            "flagged": self.flagged,
            "open_questions": list(self.open_questions),
        }


@dataclass(frozen=True, slots=True)
class ComputedValue:
    id: str
    value: Any
    text: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    verdict: Verdict
    results: dict[str, CriterionResult]
    computed: dict[str, ComputedValue]
    pending: tuple[str, ...]
    earliest_start: dt.date | None

    @property
    def failed(self) -> tuple[CriterionResult, ...]:
        return tuple(r for r in self.results.values() if r.status == "fail")

    @property
    def unknown(self) -> tuple[CriterionResult, ...]:
        return tuple(r for r in self.results.values() if r.status == "unknown")

    def statuses(self) -> dict[str, Status]:
        return {cid: r.status for cid, r in self.results.items()}


def verdict_of(statuses: Mapping[str, str]) -> Verdict:
    values = set(statuses.values())
    if "fail" in values:
        return "not_eligible"
    if "unknown" in values:
        return "incomplete"
    return "eligible"


def _open_questions(
    protocol: Protocol,
    res: Resolution,
    names: Collection[str],
    computed_deps: Mapping[str, frozenset[str]],
) -> tuple[str, ...]:
    """The questions behind the unknown names of an expression, in question order.

    Each name stands for what an investigator can actually answer:

    * a computed value for its unknown inputs ("unknown: egfr" helps nobody); if none of
      them is unknown, for the planned start when it is missing (``gap()`` has nothing
      to count from), else for all its inputs, the answers to look at again;
    * a question that was not asked because its condition is unknown (Gilbert's syndrome
      before the bilirubin is typed) for the unknown questions of that condition: it may
      never be asked at all, and "unknown: Gilbert's syndrome" would read as an answer.
    """
    found: set[str] = set()
    for n in names:
        if n in protocol.question_by_id:
            found |= _deciding(protocol, res, n, set())
            continue
        inputs = computed_deps.get(n, frozenset())
        unknown_inputs = {q for q in inputs if res.names.get(q) is UNKNOWN}
        if unknown_inputs:
            for q in unknown_inputs:
                found |= _deciding(protocol, res, q, set())
        elif res.start is None:
            found.add(START_QUESTION)
        else:
            found |= inputs
    if not found and res.start is None:
        found.add(START_QUESTION)  # a rule on gap(...) alone touches no unknown name
    return tuple(q for q in protocol.order if q in found)


def _deciding(protocol: Protocol, res: Resolution, qid: str, seen: set[str]) -> set[str]:
    """``qid`` itself, or, when whether it is asked is unknown, the unknown questions its
    condition reads (through further such questions)."""
    if res.applies.get(qid) is not UNKNOWN or qid in seen:
        return {qid}
    seen.add(qid)
    when_names, _ = names_in(protocol.question_by_id[qid].when)
    found: set[str] = set()
    for n in when_names:
        if n in protocol.question_by_id and res.names.get(n) is UNKNOWN:
            found |= _deciding(protocol, res, n, seen)
    if not found:
        found.add(START_QUESTION if res.start is None else qid)
    return found


def _unknown_reason(
    protocol: Protocol, res: Resolution, questions: tuple[str, ...], lang: str
) -> str:
    """Why a criterion is unknown, naming its open questions as the investigator saw them.

    Labels, not IDs: an investigator on a phone knows the questions, not the protocol
    file (``CriterionResult.open_questions`` keeps the IDs).  Labels may hold commas, so
    they are joined with "; " (" ; " in French); the groups (unknown, not answered yet,
    to answer again) with " — ", which already sets the explanation apart from them.
    """
    # An invalid answer is pending too (it is asked again); its own group says why.
    invalid = [q for q in questions if q in res.invalid]
    held = [q for q in questions if q in res.held]
    pending = [q for q in questions if q in res.pending and q not in res.invalid]
    other = [
        q for q in questions if q not in res.pending and q not in res.invalid and q not in held
    ]

    def labels(qids: list[str]) -> str:
        return message("label_separator", lang).join(
            question_label(protocol, q, lang) if q in protocol.question_by_id else q for q in qids
        )

    parts: list[str] = []
    if other:
        parts.append(message("reason_unknown", lang, names=labels(other)))
    if pending:
        parts.append(message("reason_pending", lang, names=labels(pending)))
    if invalid:
        parts.append(message("reason_invalid_date", lang, names=labels(invalid)))
    if held:
        parts.append(message("reason_to_confirm", lang, names=labels(held)))
    return " — ".join(parts) or message("reason_unknown", lang, names="?")


class CriteriaEvaluator:
    """Evaluates one protocol's criteria; holds nothing per conversation."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        deps = protocol.computed_deps
        # Which announced computed values each question feeds, for the step's notices.
        self.computed_inputs: dict[str, set[str]] = {}
        for c in protocol.computed:
            if c.announce:
                for q in deps[c.id]:
                    self.computed_inputs.setdefault(q, set()).add(c.id)
        self.computed_deps = deps
        self._computed_by_id = {c.id: c for c in protocol.computed}
        self.affected = _affected_criteria(protocol, deps)
        # The computed values the criteria an answer can change read (with those they
        # read in turn): the per-answer check evaluates these, not all of them.
        self._computed_for = {
            qid: _computed_read(protocol, [protocol.criterion_by_id[c] for c in cids])
            for qid, cids in self.affected.items()
        }
        self._case_questions = {
            case.when: questions_read(protocol, case.when, deps)
            for cr in protocol.criteria
            for case in cr.cases
        }

    def evaluate(
        self,
        answers: Mapping[str, Answer],
        lang: str = "en",
        resolution: Resolution | None = None,
    ) -> Evaluation:
        """Full evaluation with reasons; pass the conversation's cached resolution if any."""
        res = resolution or resolve(self.protocol, answers)
        names = dict(res.names)  # computed values are added: keep the resolution clean
        ev = Evaluator(names, res.start)
        computed: dict[str, ComputedValue] = {}
        src = self.protocol.source
        for c in self.protocol.computed:
            try:
                names[c.id] = ev.evaluate(c.expr).value
            except ExpressionError as exc:
                raise ExpressionError(f"{src}: {c.id}: {exc}") from exc
        for c in self.protocol.computed:
            computed[c.id] = ComputedValue(c.id, names[c.id], self._computed_text(c, names, lang))
        results = {
            cr.id: self._criterion(cr, ev, res, names, lang) for cr in self.protocol.criteria
        }
        statuses = {cid: r.status for cid, r in results.items()}
        verdict = verdict_of(statuses)
        earliest = None
        fails = [r for r in results.values() if r.status == "fail"]
        if fails and all(r.earliest_start for r in fails):
            earliest = max(r.earliest_start for r in fails if r.earliest_start)
        return Evaluation(verdict, results, computed, res.pending, earliest)

    def _computed_text(self, c: Computed, names: dict[str, Any], lang: str) -> str:
        value = names[c.id]
        try:
            if value is not UNKNOWN and value is not None:
                return render(c.explain.get(lang), self.protocol, names, lang)
            return value_text(self.protocol, c.id, value, lang)
        except ExpressionError as exc:
            raise ExpressionError(f"{self.protocol.source}: {c.id}: {exc}") from exc

    def announcements(
        self, resolution: Resolution, computed_ids: Collection[str], lang: str
    ) -> tuple[str, ...]:
        """The texts of these computed values that are known, for the step's notices.

        Without the criteria: an answer that only feeds a computed value (a lab value
        feeding eGFR) needs its text, and a full evaluation with reasons cost three
        times the rest of the answer.
        """
        names, _ = self._with_computed(resolution)
        return tuple(
            self._computed_text(self._computed_by_id[cid], names, lang)
            for cid in sorted(computed_ids)
            if names[cid] is not None
            and names[cid] is not UNKNOWN
            # Nothing to announce when an input was not even asked: after "no
            # corticosteroid", "0 mg/day prednisone-equivalent" is no news.
            and all(names.get(q) is not None for q in self.computed_deps[cid])
        )

    def _with_computed(
        self, resolution: Resolution, computed: Sequence[Computed] | None = None
    ) -> tuple[dict[str, Any], Evaluator]:
        """The resolution's names plus the computed values (all unless ``computed`` says
        which; evaluated in file order), and the evaluator over them."""
        names = dict(resolution.names)
        ev = Evaluator(names, resolution.start)
        for c in self.protocol.computed if computed is None else computed:
            names[c.id] = ev.value(c.expr)
        return names, ev

    def failing(self, resolution: Resolution, question_id: str | None = None) -> set[str]:
        """IDs of failing criteria, without reasons: the cheap 'before' and 'after' of an
        answer.  With ``question_id``, only the criteria that answer can change."""
        if question_id is None:
            criteria: Sequence[Criterion] = self.protocol.criteria
            _, ev = self._with_computed(resolution)
        else:
            criteria = [self.protocol.criterion_by_id[cid] for cid in self.affected[question_id]]
            _, ev = self._with_computed(resolution, self._computed_for[question_id])
        failed: set[str] = set()
        for cr in criteria:
            if cr.not_applicable and ev.truth_value(cr.not_applicable) is not False:
                continue
            decided = False
            for case in cr.cases:
                out = ev.truth_value(case.when)
                if out is not False:
                    decided = True
                    if out is True and case.status == "fail":
                        failed.add(cr.id)
                    break
            if not decided and ev.truth_value(cr.pass_) is False:
                failed.add(cr.id)
        return failed

    def _criterion(
        self,
        cr: Criterion,
        ev: Evaluator,
        res: Resolution,
        names: dict[str, Any],
        lang: str,
    ) -> CriterionResult:
        p = self.protocol

        def explain() -> str:
            return render(cr.explain.get(lang), p, names, lang)

        def unknown_result(unknown: frozenset[str], with_explain: bool = True) -> CriterionResult:
            questions = _open_questions(p, res, unknown, self.computed_deps)
            why = _unknown_reason(p, res, questions, lang)
            if with_explain:
                # "Active alcohol or drug abuse: ?" then "not answered yet: Active alcohol
                # or drug abuse": an explanation that is a label and one unknown value
                # says nothing the reason does not.  A threshold after it ("ANC ? (≥ 1.0
                # ×10⁹/L)") or a second value is kept.
                text = cr.explain.get(lang).rstrip()
                shown = [f for f in field_names(text) if f in names]
                with_explain = not (
                    len(shown) == 1
                    and names[shown[0]] is UNKNOWN
                    and text.endswith("{" + shown[0] + "}")
                )
            reason = explain() + " — " + why if with_explain else why
            return CriterionResult(cr.id, "unknown", reason, open_questions=questions)

        try:
            if cr.not_applicable:
                out = ev.truth(cr.not_applicable)
                if out.value is UNKNOWN:
                    return unknown_result(out.unknown_names, with_explain=False)
                if out.value:
                    reason = (
                        render(cr.not_applicable_reason.get(lang), p, names, lang)
                        if cr.not_applicable_reason
                        else explain()
                    )
                    return CriterionResult(cr.id, "not_applicable", reason)
            for case in cr.cases:
                out = ev.truth(case.when)
                if out.value is UNKNOWN:
                    # Name what the rule itself still lacks too (no lab date and no ANC):
                    # one list of everything to chase, not one question per round.
                    rule = ev.truth(cr.pass_)
                    behind = out.unknown_names
                    if rule.value is UNKNOWN:
                        behind |= rule.unknown_names
                    return unknown_result(behind)
                if out.value:
                    return CriterionResult(
                        cr.id,
                        case.status,
                        render(case.reason.get(lang), p, names, lang),
                        # A stale lab date: the questions the case reads are to answer again.
                        open_questions=self._case_questions[case.when]
                        if case.status == "unknown"
                        else (),
                    )
            out = ev.truth(cr.pass_)
            if out.value is UNKNOWN:
                return unknown_result(out.unknown_names)
            if out.value:
                flagged = None
                if cr.flag and ev.truth(cr.flag).value is True:
                    flagged = (
                        render(cr.flag_reason.get(lang), p, names, lang)
                        if (cr.flag_reason)
                        else explain()
                    )
                return CriterionResult(cr.id, "pass", explain(), flagged=flagged)
            earliest = None
            if cr.earliest_start:
                when = ev.evaluate(cr.earliest_start).value
                earliest = when if isinstance(when, dt.date) else None
            reason = explain()
            if earliest is not None:
                reason += " — " + message(
                    "earliest_start", lang, date=earliest.strftime("%d/%m/%Y")
                )
            return CriterionResult(cr.id, "fail", reason, earliest_start=earliest)
        except ExpressionError as exc:
            raise ExpressionError(f"{p.source}: {cr.id}: {exc}") from exc


def questions_read(
    protocol: Protocol, expr: str, computed_deps: Mapping[str, frozenset[str]]
) -> tuple[str, ...]:
    """The questions an expression reads, through computed values, in question order."""
    names, _ = names_in(expr)
    read: set[str] = set()
    for n in names:
        if n in protocol.question_by_id:
            read.add(n)
        read |= computed_deps.get(n, frozenset())
    return tuple(q for q in protocol.order if q in read)


def _computed_read(protocol: Protocol, criteria: Sequence[Criterion]) -> tuple[Computed, ...]:
    """The computed values these criteria's rules read, directly or through another
    computed value, in file order (a computed value reads only earlier ones)."""
    wanted: set[str] = set()
    for cr in criteria:
        for expr in (cr.pass_, cr.not_applicable, cr.flag, *(case.when for case in cr.cases)):
            if expr:
                wanted |= names_in(expr)[0]
    for c in reversed(protocol.computed):
        if c.id in wanted:
            wanted |= names_in(c.expr)[0]
    return tuple(c for c in protocol.computed if c.id in wanted)


def _affected_criteria(
    protocol: Protocol, computed_deps: Mapping[str, frozenset[str]]
) -> dict[str, tuple[str, ...]]:
    """For each question, the criteria whose status its answer can change.

    A criterion depends on the questions its expressions name, on the inputs of the
    computed values it names, and on every question that decides whether one of those
    is asked (the ``when`` chain): answering Q can only change criteria that reach Q.
    """
    when_deps: dict[str, set[str]] = {}
    for q in protocol.ordered_questions:
        names, _ = names_in(q.when)
        closure = {n for n in names if n in protocol.question_by_id}
        for n in list(closure):
            closure |= when_deps.get(n, set())
        when_deps[q.id] = closure
    affected: dict[str, list[str]] = {q.id: [] for q in protocol.questions}
    for cr in protocol.criteria:
        exprs = [cr.pass_, *(c.when for c in cr.cases)]
        exprs += [e for e in (cr.not_applicable, cr.earliest_start, cr.flag) if e]
        reach: set[str] = set()
        for expr in exprs:
            names, _ = names_in(expr)
            for n in names:
                if n in protocol.question_by_id:
                    reach.add(n)
                reach |= computed_deps.get(n, frozenset())
        for n in list(reach):
            reach |= when_deps.get(n, set())
        reach.add("planned_start_date")  # every date rule counts from it
        for qid in reach:
            affected[qid].append(cr.id)
    return {qid: tuple(cids) for qid, cids in affected.items()}
