"""Criterion statuses, reasons, computed values and the verdict.

The status words (pass/fail/unknown/not_applicable) and verdicts
(eligible/not_eligible/incomplete) are an interface other systems read: keep them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dialogs.display import render, value_text
from dialogs.errors import ExpressionError
from dialogs.expressions import Evaluator, names_in
from dialogs.messages import message
from dialogs.protocol import Computed, Criterion, Protocol
from dialogs.resolution import Resolution, resolve
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

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "earliest_start": self.earliest_start.isoformat() if self.earliest_start else None,
            "flagged": self.flagged,
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


def _unknown_reason(
    protocol: Protocol,
    res: Resolution,
    names: frozenset[str],
    lang: str,
    computed_deps: Mapping[str, frozenset[str]] | None = None,
) -> str:
    if computed_deps:
        # "unknown: egfr" helps nobody: name the unanswered questions behind it.
        expanded: set[str] = set()
        for n in names:
            inputs = {q for q in computed_deps.get(n, ()) if res.names.get(q) is UNKNOWN}
            expanded |= inputs or {n}
        names = frozenset(expanded)
    # An invalid answer is pending too (it is asked again); its own reason says more.
    pending = sorted(n for n in names if n in res.pending and n not in res.invalid)
    invalid = sorted(n for n in names if n in res.invalid)
    other = sorted(n for n in names if n not in res.pending and n not in res.invalid)
    parts: list[str] = []
    if other:
        parts.append(message("reason_unknown", lang, names=", ".join(other)))
    if pending:
        parts.append(message("reason_pending", lang, names=", ".join(pending)))
    for n in invalid:
        parts.append(message("reason_invalid_date", lang, name=n))
    del protocol
    return "; ".join(parts) or message("reason_unknown", lang, names="?")


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
            # Nothing to announce when an input was not even asked ("no corticosteroid":
            # the explain would read "None — mg/day = 0 mg/day").
            and all(names.get(q) is not None for q in self.computed_deps[cid])
        )

    def _with_computed(self, resolution: Resolution) -> tuple[dict[str, Any], Evaluator]:
        """The resolution's names plus every computed value (evaluated in file order), and
        the evaluator over them (building one costs more than most expressions)."""
        names = dict(resolution.names)
        ev = Evaluator(names, resolution.start)
        for c in self.protocol.computed:
            names[c.id] = ev.value(c.expr)
        return names, ev

    def failing(self, resolution: Resolution, question_id: str | None = None) -> set[str]:
        """IDs of failing criteria, without reasons: the cheap 'before' and 'after' of an
        answer.  With ``question_id``, only the criteria that answer can change."""
        _, ev = self._with_computed(resolution)
        failed: set[str] = set()
        criteria = (
            self.protocol.criteria
            if question_id is None
            else [self.protocol.criterion_by_id[cid] for cid in self.affected[question_id]]
        )
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

        def unknown_why(unknown: frozenset[str]) -> str:
            return _unknown_reason(p, res, unknown, lang, self.computed_deps)

        def unknown_result(unknown: frozenset[str]) -> CriterionResult:
            return CriterionResult(cr.id, "unknown", explain() + " — " + unknown_why(unknown))

        try:
            if cr.not_applicable:
                out = ev.truth(cr.not_applicable)
                if out.value is UNKNOWN:
                    return CriterionResult(cr.id, "unknown", unknown_why(out.unknown_names))
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
                    return unknown_result(out.unknown_names)
                if out.value:
                    return CriterionResult(
                        cr.id, case.status, render(case.reason.get(lang), p, names, lang)
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
