"""FHIR R4 renderings: a protocol as a Questionnaire, screenings as QuestionnaireResponses.

Why hand-built JSON rather than ``fhir.resources`` objects: an export of 10,000
screenings must take seconds, and building pydantic models per answer costs far more
than the JSON.  The tests parse every shape this module writes with the
``fhir.resources`` R4B models (the package's R4-family models: Questionnaire and
QuestionnaireResponse are unchanged from R4), so the output stays valid.

Conventions, documented for whoever imports the files:
- ``Questionnaire.url`` is ``urn:screenbot:questionnaire:<protocol id>`` with the
  protocol version as ``version``; a response's ``questionnaire`` is ``url|version``.
- Item ``linkId`` is the question id; choices are codings in the system
  ``urn:screenbot:<protocol id>:<question id>``.
- An answer of "unknown" is the data-absent-reason code ``asked-unknown``; the special
  words a date question accepts ("none", "ongoing") are codings in ``urn:screenbot:special``.
- A ``when`` rule FHIR's ``enableWhen`` cannot say (functions, mixed and/or) is kept
  verbatim in the SDC ``enableWhenExpression`` extension, language ``text/x-screenbot``.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from dialogs.protocol import AnswerType, Protocol, Question
from storage.exports import ProtocolKey, ScreeningExport, protocol_key
from storage.models import Status

SPECIAL_SYSTEM = "urn:screenbot:special"
UNIT_SYSTEM = "urn:screenbot:unit"
ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ENABLE_WHEN_EXPRESSION = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
)
UNIT_OPTION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
VERDICT_EXTENSION = "urn:screenbot:fhir:verdict"
PATIENT_CODE_SYSTEM = "urn:screenbot:patient-code"
# The investigator's Telegram user id, as the bot's users table and audit trail hold it.
INVESTIGATOR_SYSTEM = "urn:screenbot:telegram-user-id"

_ITEM_TYPE = {
    AnswerType.yesno: "boolean",
    AnswerType.choice: "choice",
    AnswerType.integer: "integer",
    AnswerType.number: "decimal",
    AnswerType.quantity: "quantity",
    AnswerType.date: "date",
    AnswerType.text: "string",
}
_OPERATORS = {
    ast.Eq: "=",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_RESPONSE_STATUS = {
    Status.IN_PROGRESS.value: "in-progress",
    Status.COMPLETED.value: "completed",
    Status.ABANDONED.value: "stopped",
}


def questionnaire_url(protocol_id: str) -> str:
    return f"urn:screenbot:questionnaire:{protocol_id}"


def choice_system(protocol: Protocol, question_id: str) -> str:
    return f"urn:screenbot:{protocol.id}:{question_id}"


# -- enableWhen -------------------------------------------------------------------------------


def _answer_for(protocol: Protocol, question: Question, value: Any) -> dict[str, Any] | None:
    """The typed ``answer[x]`` of an enableWhen comparing ``question`` with ``value``."""
    t = question.type
    if t is AnswerType.yesno and value in ("yes", "no"):
        return {"answerBoolean": value == "yes"}
    if t is AnswerType.choice and isinstance(value, str):
        return {"answerCoding": {"system": choice_system(protocol, question.id), "code": value}}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if t is AnswerType.integer and isinstance(value, int):
        return {"answerInteger": value}
    if t is AnswerType.number:
        return {"answerDecimal": value}
    if t is AnswerType.quantity and question.units:
        unit = protocol.unit_by_id[protocol.unit_by_id[question.units[0]].canonical]
        return {
            "answerQuantity": {
                "value": value,
                "unit": unit.display,
                "system": UNIT_SYSTEM,
                "code": unit.id,
            }
        }
    return None


def _conditions(protocol: Protocol, node: ast.expr) -> list[dict[str, Any]] | None:
    """``qid OP literal`` (or ``qid in (…)``) as enableWhen entries; None if not that shape."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if not isinstance(left, ast.Name) or left.id not in protocol.question_by_id:
        return None
    question = protocol.question_by_id[left.id]
    if isinstance(op, ast.In) and isinstance(right, ast.Tuple | ast.List):
        values = [e.value for e in right.elts if isinstance(e, ast.Constant)]
        if len(values) != len(right.elts):
            return None
        answers = [_answer_for(protocol, question, v) for v in values]
        if any(a is None for a in answers):
            return None
        return [{"question": left.id, "operator": "=", **a} for a in answers if a]
    operator = _OPERATORS.get(type(op))
    if operator is None or not isinstance(right, ast.Constant):
        return None
    answer = _answer_for(protocol, question, right.value)
    return None if answer is None else [{"question": left.id, "operator": operator, **answer}]


def enable_when(protocol: Protocol, expr: str) -> tuple[list[dict[str, Any]], str | None] | None:
    """(enableWhen entries, enableBehavior) for a ``when`` rule, or None if inexpressible."""
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.BoolOp):
        behavior = "any" if isinstance(node.op, ast.Or) else "all"
        entries: list[dict[str, Any]] = []
        for value in node.values:
            part = _conditions(protocol, value)
            if part is None or (len(part) > 1 and behavior == "all"):
                return None
            entries.extend(part)
        return entries, behavior
    single = _conditions(protocol, node)
    if single is None:
        return None
    return single, ("any" if len(single) > 1 else None)


# -- Questionnaire ----------------------------------------------------------------------------


def _item(protocol: Protocol, q: Question, lang: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "linkId": q.id,
        "text": q.label.get(lang),
        "type": _ITEM_TYPE[q.type],
        "required": q.required,
    }
    if q.type is AnswerType.choice:
        item["answerOption"] = [
            {
                "valueCoding": {
                    "system": choice_system(protocol, q.id),
                    "code": c.value,
                    "display": c.label.get(lang),
                }
            }
            for c in q.choices
        ]
    if q.type is AnswerType.text and q.max_length:
        item["maxLength"] = q.max_length
    extensions: list[dict[str, Any]] = []
    for unit_id in q.units:
        unit = protocol.unit_by_id[unit_id]
        extensions.append(
            {
                "url": UNIT_OPTION,
                "valueCoding": {"system": UNIT_SYSTEM, "code": unit.id, "display": unit.display},
            }
        )
    if q.when != "True":
        rendered = enable_when(protocol, q.when)
        if rendered is None:
            extensions.append(
                {
                    "url": ENABLE_WHEN_EXPRESSION,
                    "valueExpression": {"language": "text/x-screenbot", "expression": q.when},
                }
            )
        else:
            item["enableWhen"], behavior = rendered
            if behavior is not None:
                item["enableBehavior"] = behavior
    if extensions:
        item["extension"] = extensions
    return item


def questionnaire(protocol: Protocol, lang: str = "en") -> dict[str, Any]:
    """The protocol's questions as a FHIR R4 Questionnaire (chat-only questions included)."""
    notes = "\n".join(f"{n.number}. {n.text.get(lang)}" for n in protocol.notes)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": f"{protocol.id}-v{protocol.version}",
        "url": questionnaire_url(protocol.id),
        "version": str(protocol.version),
        "name": "".join(ch for ch in protocol.id.title() if ch.isalnum()),
        "title": protocol.title.get(lang),
        "status": "active",
        "language": lang,
        "identifier": [{"system": "urn:screenbot:protocol-sha256", "value": protocol.sha256}],
        "item": [_item(protocol, q, lang) for q in protocol.ordered_questions],
    }
    if notes:
        resource["description"] = notes
    return resource


# -- QuestionnaireResponse --------------------------------------------------------------------


def _structured_value(value: dict[str, Any], protocol: Protocol | None) -> dict[str, Any] | None:
    """Unknown, quantity and date answers, whose stored JSON says what they are."""
    if value.get("unknown"):
        return {"valueCoding": {"system": ABSENT_SYSTEM, "code": "asked-unknown"}}
    if "quantity" in value:
        unit = protocol.unit_by_id.get(str(value["unit"])) if protocol is not None else None
        return {
            "valueQuantity": {
                "value": value["quantity"],
                "unit": unit.display if unit else str(value["unit"]),
                "system": UNIT_SYSTEM,
                "code": str(value["unit"]),
            }
        }
    if "date" in value:
        return {"valueDate": str(value["date"])}
    return None


# The words a date question may accept instead of a date (``Question.specials``).
SPECIAL_WORDS = ("none", "ongoing", "today")


def stored_answer_value(value: Any) -> dict[str, Any]:
    """A stored answer as a FHIR ``value[x]`` from its JSON alone, without the question.

    For a screening whose protocol file is not loaded (edited without a new version,
    or removed): its answers are still the record, so they are exported, typed by what
    was stored.  "yes"/"no" are how yes/no answers are stored, hence booleans; any other
    string is a string, as a choice's code cannot be told from free text without the
    protocol.
    """
    if isinstance(value, dict):
        structured = _structured_value(value, None)
        if structured is not None:
            return structured
    if value in ("yes", "no"):
        return {"valueBoolean": value == "yes"}
    if isinstance(value, str) and value in SPECIAL_WORDS:
        return {"valueCoding": {"system": SPECIAL_SYSTEM, "code": value}}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": value if isinstance(value, str) else json.dumps(value)}


def answer_value(protocol: Protocol, question: Question, value: Any) -> dict[str, Any]:
    """A stored answer (``dialogs.values.to_json`` form) as a typed FHIR ``value[x]``."""
    if isinstance(value, dict):
        structured = _structured_value(value, protocol)
        if structured is not None:
            return structured
    t = question.type
    if t is AnswerType.yesno and value in ("yes", "no"):
        return {"valueBoolean": value == "yes"}
    if t is AnswerType.choice and isinstance(value, str):
        choice = next((c for c in question.choices if c.value == value), None)
        coding = {"system": choice_system(protocol, question.id), "code": value}
        if choice is not None:
            coding["display"] = choice.label.en
        return {"valueCoding": coding}
    if isinstance(value, str) and value in question.specials:
        return {"valueCoding": {"system": SPECIAL_SYSTEM, "code": value}}
    if isinstance(value, int) and not isinstance(value, bool) and t is AnswerType.integer:
        return {"valueInteger": value}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"valueDecimal": value}
    return {"valueString": str(value)}


def _fhir_instant(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def questionnaire_response(
    item: ScreeningExport,
    protocol: Protocol | None,
    lang: str = "en",
    *,
    types: Protocol | None = None,
) -> dict[str, Any]:
    """One screening's current answers as a QuestionnaireResponse.

    With its protocol, the items follow the question order, with each question's label.
    Without it (the file was edited without a new version, or removed), every current
    answer is still exported, in the order first answered and without label (what the
    question said then is not known): typed by ``types``, a loaded protocol of the same
    id, for the questions it still has, else by the stored value
    (:func:`stored_answer_value`).  Dropping them would give a valid-looking response
    with nothing in it.
    """
    s = item.screening
    current = item.current_answers()
    items = []
    if protocol is not None:
        for q in protocol.ordered_questions:
            record = current.get(q.id)
            if record is None:
                continue
            items.append(
                {
                    "linkId": q.id,
                    "text": q.label.get(lang),
                    "answer": [answer_value(protocol, q, record.value_json)],
                }
            )
    else:
        for question_id, record in current.items():
            known = types.question_by_id.get(question_id) if types is not None else None
            value = (
                answer_value(types, known, record.value_json)
                if types is not None and known is not None
                else stored_answer_value(record.value_json)
            )
            items.append({"linkId": question_id, "answer": [value]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"screening-{s.id}",
        "identifier": {"system": PATIENT_CODE_SYSTEM, "value": s.patient_code},
        "questionnaire": f"{questionnaire_url(s.protocol_id)}|{s.protocol_version}",
        "status": _RESPONSE_STATUS.get(s.status, "in-progress"),
        "authored": _fhir_instant(s.completed_at or s.updated_at),
        # Who screened: a monitor compares the responses with the site's delegation log.
        "author": {
            "identifier": {"system": INVESTIGATOR_SYSTEM, "value": str(s.investigator_id)},
            "display": item.investigator,
        },
        "item": items,
    }
    if s.verdict:
        resource["extension"] = [{"url": VERDICT_EXTENSION, "valueCode": s.verdict}]
    if not items:
        del resource["item"]
    return resource


def _full_url(item: ScreeningExport) -> str:
    key = f"screenbot:{item.screening.protocol_id}:{item.id}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}"


def write_bundle(
    items: Iterable[ScreeningExport],
    out: TextIO,
    protocol_of: Callable[[ScreeningExport], Protocol | None],
    on_row: Callable[[], None] | None = None,
    *,
    types_of: Callable[[ScreeningExport], Protocol | None] | None = None,
    unloaded: Counter[ProtocolKey] | None = None,
) -> int:
    """A ``collection`` Bundle of QuestionnaireResponses, written one entry at a time.

    ``protocol_of`` gives a screening's exact protocol (id, version and sha256) or None;
    ``types_of`` a same-id stand-in to type the answers of the latter
    (:func:`questionnaire_response`).  Each screening exported without its exact
    protocol is counted in ``unloaded`` by its protocol key, for the caller to warn.
    """
    head = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }
    out.write(json.dumps(head)[:-1] + ', "entry": [')
    count = 0
    for item in items:
        protocol = protocol_of(item)
        types = None
        if protocol is None:
            types = types_of(item) if types_of is not None else None
            if unloaded is not None:
                unloaded[protocol_key(item.screening)] += 1
        resource = questionnaire_response(item, protocol, types=types)
        out.write(",\n" if count else "\n")
        out.write(json.dumps({"fullUrl": _full_url(item), "resource": resource}))
        count += 1
        if on_row is not None:
            on_row()
    out.write("\n]}\n")
    return count
