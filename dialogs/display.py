"""How values read in prompts, reasons and summaries (units, dates, yes/no per language)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogs.errors import ExpressionError
from dialogs.messages import message
from dialogs.protocol import AnswerType, Protocol
from dialogs.values import UNKNOWN, Quantity

_YESNO = {"yes": {"en": "yes", "fr": "oui"}, "no": {"en": "no", "fr": "non"}}


def number(x: float, lang: str = "en") -> str:
    """Compact: 13.3333 -> '13.3', 1.5 -> '1.5' ('1,5' in French), 142.0 -> '142'."""
    if isinstance(x, int) or float(x).is_integer():
        return str(int(x))
    text = f"{round(float(x), 1 if abs(x) >= 1 else 2):g}"
    return text.replace(".", ",") if lang == "fr" else text


def value_text(protocol: Protocol, name: str, value: Any, lang: str) -> str:
    if value is UNKNOWN:
        return "?"
    if value is None:
        return "—"
    if isinstance(value, Quantity):
        typed = f"{_typed(value.input_value, lang)} {value.input_unit}"
        canonical = protocol.unit_by_id.get(value.unit)
        if canonical is not None and canonical.display != value.input_unit:
            return f"{typed} (= {number(value, lang)} {canonical.display})"
        return typed
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    q = protocol.question_by_id.get(name)
    if isinstance(value, str):
        if q is not None and q.type is AnswerType.yesno and value in _YESNO:
            return _YESNO[value][lang if lang in ("en", "fr") else "en"]
        if q is not None and q.type is AnswerType.choice:
            for c in q.choices:
                if c.value == value:
                    return c.label.get(lang)
        if value in ("none", "ongoing", "today"):
            return message(f"special_{value}", lang)
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number(value, lang)
    return str(value)


def _typed(x: float, lang: str) -> str:
    """A number as typed (no rounding), with the decimal mark of the language."""
    text = f"{x:g}"
    return text.replace(".", ",") if lang == "fr" else text


class DisplayNames(dict[str, str]):
    """Template fields for ``str.format_map``: every value rendered for display."""

    def __init__(self, protocol: Protocol, names: dict[str, Any], lang: str) -> None:
        super().__init__()
        self._protocol = protocol
        self._names = names
        self._lang = lang

    def __missing__(self, key: str) -> str:
        if key not in self._names:
            return "{" + key + "}"
        text = value_text(self._protocol, key, self._names[key], self._lang)
        self[key] = text
        return text


def render(template: str, protocol: Protocol, names: dict[str, Any], lang: str) -> str:
    try:
        return template.format_map(DisplayNames(protocol, names, lang))
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ExpressionError(f"cannot render {template!r}: {exc}") from exc
