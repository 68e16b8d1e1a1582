"""Where a reopened screening resumes: the question behind what is still open.

Used when a coordinator reopens a screening, when an investigator answers a query, and
when an investigator resumes a screening that ended incomplete (labs came back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dialogs.engine import Engine
from dialogs.evaluation import questions_read
from dialogs.expressions import names_in
from dialogs.machine import COMPLETE
from dialogs.protocol import AnswerType, Protocol
from dialogs.values import Answer


def criterion_inputs(protocol: Protocol, criterion_id: str) -> set[str]:
    """The questions a criterion reads, through the computed values it uses."""
    criterion = protocol.criterion_by_id[criterion_id]
    exprs = [criterion.pass_, *(c.when for c in criterion.cases)]
    exprs += [e for e in (criterion.not_applicable, criterion.flag) if e]
    return {q for e in exprs for q in questions_read(protocol, e, protocol.computed_deps)}


def with_what_asks_them(protocol: Protocol, question_ids: Iterable[str]) -> set[str]:
    """These questions and, for a date among them, the answers its condition reads: a
    test date asked again (the test is to repeat) asks again, first, the result that asked
    for it; a new date under the old test's "negative" would let I16 pass on a result
    nobody saw.  (Not for other questions: a cohort's own question would ask the cohort.)"""
    found = set(question_ids)
    for qid in list(found):
        question = protocol.question_by_id.get(qid)
        if question is not None and question.type is AnswerType.date and question.when:
            names, _ = names_in(question.when)
            found |= {n for n in names if n in protocol.question_by_id}
    return found


def reopen_items(
    engine: Engine, answers: Mapping[str, Answer], preferred: str | None
) -> tuple[str, ...]:
    """The questions a reopened screening walks through, in question order: the one
    queried alone; else every one behind a failing criterion or still open for an unknown
    one (labs back days later: each value that was unknown, not the first only); else the
    first question.  Never empty, and all apply."""
    protocol = engine.protocol
    evaluation = engine.evaluate_answers(answers)
    with engine.attached(COMPLETE, answers, "en") as conv:

        def usable(qid: str) -> bool:
            q = protocol.question_by_id.get(qid)
            return q is not None and not q.chat_only and conv.applies(qid) is True

        if preferred and usable(preferred):
            return (preferred,)
        behind: set[str] = set()
        for result in evaluation.failed:
            behind |= criterion_inputs(protocol, result.id)
        for result in evaluation.unknown:
            # What the criterion still lacks, when the evaluation says (labs too old: the
            # lab date, not the age its eGFR also reads); else everything it reads.
            lacking = set(result.open_questions)
            behind |= with_what_asks_them(protocol, lacking) or criterion_inputs(
                protocol, result.id
            )
        items = tuple(qid for qid in protocol.order if qid in behind and usable(qid))
        return items or (next(qid for qid in protocol.order if usable(qid)),)
