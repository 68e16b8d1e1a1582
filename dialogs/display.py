"""How values read in prompts, reasons and summaries (units, dates, yes/no per language)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from dialogs.errors import ExpressionError
from dialogs.messages import message
from dialogs.protocol import AnswerType, Protocol, Question
from dialogs.values import UNKNOWN, Quantity

_YESNO = {"yes": {"en": "yes", "fr": "oui"}, "no": {"en": "no", "fr": "non"}}


def number(x: float, lang: str = "en") -> str:
    """Compact: 13.3333 -> '13.3', 1.5 -> '1.5' ('1,5' in French), 142.0 -> '142'.

    Below 0.01 two significant digits are kept: a count of 1/mm³ is 0.001 ×10⁹/L, and
    showing it as '0' would read as no cells at all.
    """
    if isinstance(x, int) or float(x).is_integer():
        return str(int(x))
    if abs(x) < 0.01:
        return plain_number(float(f"{float(x):.2g}"), lang, decimals=12)
    text = f"{round(float(x), 1 if abs(x) >= 1 else 2):g}"
    return text.replace(".", ",") if lang == "fr" else text


def plain_number(x: float, lang: str = "en", decimals: int = 6) -> str:
    """A number for a message: never an exponent, trailing zeros dropped, decimal comma in
    French, and thousands grouped from 10 000 ('100 000', with a no-break space).

    Limits in messages use it: '1e+05 /mm³' is not something an investigator can type
    back, and the parser reads a grouped '100 000' the way it is shown.
    """
    text = f"{float(x):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    if len(whole) > 4:
        groups: list[str] = []
        while len(whole) > 3:
            whole, tail = whole[:-3], whole[-3:]
            groups.insert(0, tail)
        whole = "\u00a0".join([whole, *groups])
    mark = "," if lang == "fr" else "."
    return sign + whole + (mark + frac if frac else "")


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
            return _special_word(q, value, lang)
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number(value, lang)
    return str(value)


def _special_word(q: Question | None, value: str, lang: str) -> str:
    """'none' and friends, agreeing with the question's noun in French.

    The catalogue says « aucun »; a radiotherapy is feminine (« Dernière radiothérapie
    aucune »).  The protocol has no field for a noun's gender, but its French help
    already offers the word to type (« Une date, ou « aucune » »): echo that form.
    """
    word = message(f"special_{value}", lang)
    if lang == "fr" and q is not None and q.help is not None:
        feminine = word + "e"
        if re.search(rf"«\s*{re.escape(feminine)}\s*»", q.help.fr):
            return feminine
    return word


def _typed(x: float, lang: str) -> str:
    """A number as typed (no rounding), with the decimal mark of the language.

    Never in exponent form: 1,000,000/mm³ platelets once read back as '1e+06 /mm³'.
    """
    return plain_number(x, lang, decimals=10)


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
