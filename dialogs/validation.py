"""Load-time checks of a protocol file beyond its schema.

Everything here would otherwise surface in the middle of a screening: an unknown name in a
rule, a condition that looks at a later question, a unit that does not exist.  Each
problem names the file and the question or criterion ID.
"""

from __future__ import annotations

import string
from collections import Counter

from dialogs.display import optional_parts
from dialogs.errors import ExpressionError, ProtocolError
from dialogs.expressions import ALL_FUNCTIONS, names_in
from dialogs.protocol import AnswerType, Protocol, Text

TERMINAL_STATES = ("complete",)


def template_fields(text: Text) -> set[str]:
    """The names a bilingual template fills in (``{anc}`` -> ``anc``), in either language."""
    fields: set[str] = set()
    for lang_text in (text.en, text.fr):
        for _, name, _, _ in string.Formatter().parse(lang_text):
            if name:
                fields.add(name.split(".")[0].split("[")[0])
    return fields


def checked_template_fields(text: Text, src: str, item: str, what: str) -> set[str]:
    """:func:`template_fields`, once the text's optional parts (``[...|...]``, see
    ``display.render``) are well formed: a broken bracket would otherwise surface only
    when a screening first renders that text."""
    for lang, lang_text in (("en", text.en), ("fr", text.fr)):
        try:
            optional_parts(lang_text)
        except ValueError as exc:
            raise ProtocolError(src, item, f"{what} ({lang}): {exc}") from None
    return template_fields(text)


def validate_protocol(p: Protocol) -> None:
    src = p.source
    ids = [q.id for q in p.questions]
    for qid, n in Counter(ids).items():
        if n > 1:
            raise ProtocolError(src, qid, "question defined more than once")
    for qid in ids:
        if qid in TERMINAL_STATES:
            raise ProtocolError(src, qid, "question id clashes with a terminal state name")
    order_counts = Counter(p.order)
    for qid, n in order_counts.items():
        if n > 1:
            raise ProtocolError(src, qid, "listed more than once in 'order'")
        if qid not in p.question_by_id:
            raise ProtocolError(src, qid, "listed in 'order' but no such question is defined")
    for qid in ids:
        if qid not in order_counts:
            raise ProtocolError(src, qid, "question is defined but missing from 'order'")
    cids = [c.id for c in p.criteria]
    for cid, n in Counter(cids).items():
        if n > 1:
            raise ProtocolError(src, cid, "criterion defined more than once")
    note_numbers = {n.number for n in p.notes}

    constants = set(p.constants)
    computed_ids: set[str] = set()
    all_questions = set(ids)

    def check_expr(item: str, expr: str, allowed: set[str], what: str) -> None:
        try:
            names, funcs = names_in(expr)
        except ExpressionError as exc:
            raise ProtocolError(src, item, f"{what}: {exc}") from exc
        bad_funcs = funcs - ALL_FUNCTIONS
        if bad_funcs:
            raise ProtocolError(
                src, item, f"{what} calls unknown function(s): {', '.join(sorted(bad_funcs))}"
            )
        unknown = names - allowed
        if unknown:
            raise ProtocolError(
                src, item, f"{what} uses unknown name(s): {', '.join(sorted(unknown))}"
            )

    earlier: set[str] = set()
    for q in p.ordered_questions:
        later = all_questions - earlier - {q.id}
        try:
            names, _ = names_in(q.when)
        except ExpressionError as exc:
            raise ProtocolError(src, q.id, f"'when': {exc}") from exc
        forward = names & (later | {q.id})
        if forward:
            raise ProtocolError(
                src,
                q.id,
                "'when' refers to a question asked at or after this one: "
                + ", ".join(sorted(forward)),
            )
        check_expr(q.id, q.when, earlier | constants, "'when'")
        _check_question_shape(p, q.id)
        if q.dated_by is not None:
            dating = p.question_by_id.get(q.dated_by)
            if dating is None or q.dated_by not in earlier or dating.type is not AnswerType.date:
                raise ProtocolError(
                    src, q.id, f"'dated_by' must name a date question asked before it: {q.dated_by}"
                )
        earlier.add(q.id)

    for c in p.computed:
        if c.id in all_questions or c.id in constants:
            raise ProtocolError(src, c.id, "computed value clashes with a question or constant")
        check_expr(c.id, c.expr, all_questions | constants | computed_ids, "'expr'")
        known = all_questions | constants | computed_ids | {c.id}
        for f in checked_template_fields(c.explain, src, c.id, "'explain'") - known:
            raise ProtocolError(src, c.id, f"'explain' uses unknown field {{{f}}}")
        computed_ids.add(c.id)

    allowed = all_questions | constants | computed_ids
    for cr in p.criteria:
        if cr.not_applicable:
            check_expr(cr.id, cr.not_applicable, allowed, "'not_applicable'")
        for i, case in enumerate(cr.cases):
            check_expr(cr.id, case.when, allowed, f"case {i + 1} 'when'")
            reason = f"case {i + 1} reason"
            for f in checked_template_fields(case.reason, src, cr.id, reason) - allowed:
                raise ProtocolError(src, cr.id, f"case {i + 1} reason uses unknown field {{{f}}}")
        check_expr(cr.id, cr.pass_, allowed, "'pass'")
        if cr.earliest_start:
            check_expr(cr.id, cr.earliest_start, allowed, "'earliest_start'")
        if cr.flag:
            check_expr(cr.id, cr.flag, allowed, "'flag'")
        texts = (
            (cr.explain, "'explain'"),
            (cr.not_applicable_reason, "reason"),
            (cr.flag_reason, "'flag_reason'"),
        )
        for text, what in texts:
            if text is None:
                continue
            for f in checked_template_fields(text, src, cr.id, what) - allowed:
                raise ProtocolError(src, cr.id, f"{what} uses unknown field {{{f}}}")
        for n in cr.notes:
            if n not in note_numbers:
                raise ProtocolError(src, cr.id, f"refers to note {n}, which is not defined")
    if "planned_start_date" not in all_questions:
        raise ProtocolError(src, None, "a protocol needs a 'planned_start_date' question")


def _check_question_shape(p: Protocol, qid: str) -> None:
    q = p.question_by_id[qid]
    src = p.source
    if q.type is AnswerType.choice and not q.choices:
        raise ProtocolError(src, qid, "a choice question needs 'choices'")
    if q.type is not AnswerType.choice and q.choices:
        raise ProtocolError(src, qid, f"'choices' given for a {q.type.value} question")
    if q.type is AnswerType.quantity and not q.units:
        raise ProtocolError(src, qid, "a quantity question needs 'units'")
    for uid in q.units:
        if uid not in p.unit_by_id:
            raise ProtocolError(src, qid, f"unit '{uid}' is not defined in 'units'")
    if q.default_unit and q.type is AnswerType.quantity and q.default_unit not in q.units:
        raise ProtocolError(src, qid, f"default_unit '{q.default_unit}' is not one of its units")
    if q.minimum is not None and q.maximum is not None and q.minimum > q.maximum:
        raise ProtocolError(src, qid, "minimum is greater than maximum")
    if q.not_after_today and q.type is not AnswerType.date:
        raise ProtocolError(src, qid, f"'not_after_today' given for a {q.type.value} question")
    if q.not_after_today and qid == "planned_start_date":
        # The start is what every delay counts back to: it is usually in the future.
        raise ProtocolError(src, qid, "the planned start cannot be 'not_after_today'")
    if q.words and q.type is not AnswerType.integer:
        raise ProtocolError(src, qid, f"'words' given for a {q.type.value} question")
    for word in q.words:
        # A digit in a word would change the number read ('G2' is 'grade 2', not 22).
        if not word.strip() or any(ch.isdigit() for ch in word):
            raise ProtocolError(src, qid, f"'words' must be words without digits: {word!r}")
    values = [c.value for c in q.choices]
    dup = [v for v, n in Counter(values).items() if n > 1]
    if dup:
        raise ProtocolError(src, qid, f"choice '{dup[0]}' listed twice")
