"""How values read in prompts, reasons and summaries (units, dates, yes/no per language)."""

from __future__ import annotations

import datetime as dt
import re
import string
from functools import lru_cache
from typing import Any

from dialogs.errors import ExpressionError
from dialogs.messages import message
from dialogs.protocol import AnswerType, Protocol, Question
from dialogs.values import UNKNOWN, Quantity

_YESNO = {"yes": {"en": "yes", "fr": "oui"}, "no": {"en": "no", "fr": "non"}}


def number(x: float, lang: str = "en") -> str:
    """Up to three decimals: 13.3333 -> '13.333', 1.5 -> '1.5' ('1,5' in French), 142.0
    -> '142'.

    Three, because a reason must not round a value across its limit: with one decimal,
    1.51 x ULN failing '≤ 1.5' read '1.5 x ULN', and 999/mm³ failing '≥ 1.0 ×10⁹/L' read
    '= 1 ×10⁹/L'.  Below 0.01 two significant digits are kept: a count of 1/mm³ is
    0.001 ×10⁹/L, and showing it as '0' would read as no cells at all.
    """
    if isinstance(x, int) or float(x).is_integer():
        return str(int(x))
    if abs(x) < 0.01:
        return plain_number(float(f"{float(x):.2g}"), lang, decimals=12)
    return plain_number(_unhidden(float(x)), lang, decimals=_MAX_DECIMALS)


_MAX_DECIMALS = 6


def _unhidden(x: float) -> float:
    """``x`` to three decimals, or more where three would round it onto a rounder number:
    an eGFR of 49.9998 failing '≥ 50' must not read '50'.  Float noise (10.0000000001)
    still reads as the round number it is."""
    for decimals in range(3, _MAX_DECIMALS + 1):
        shown = round(x, decimals)
        if abs(shown - x) < 1e-9 or not f"{shown:.{decimals}f}".endswith("0"):
            return shown
    return round(x, _MAX_DECIMALS)


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
            return special_word(q, value, lang)
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number(value, lang)
    return str(value)


def special_word(q: Question | None, value: str, lang: str) -> str:
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


def question_label(protocol: Protocol, question_id: str, lang: str) -> str:
    """A question named in a sentence: its label without the trailing question mark.

    Reasons and notices name questions this way because an investigator knows the
    questions as they were asked, never their IDs.  French labels end in " ?" (with a
    plain or a no-break space), so every trailing space and "?" goes.
    """
    return protocol.question_by_id[question_id].label.get(lang).rstrip().rstrip("?").rstrip()


def render(template: str, protocol: Protocol, names: dict[str, Any], lang: str) -> str:
    """Fill a protocol text's ``{fields}`` with display values, leaving out what was not asked.

    A text covers every path through the questions, but a question that was not asked
    has no value (``None``): "— mg/day" or "— days before the planned start" helps nobody.
    So a text may mark optional parts in square brackets:

    * ``[, site {radiotherapy_site}]`` is left out when a field in it has no value (a
      question not asked, a computed value that is None).  An unknown answer is a value
      here: it still shows as "?", since it is something to chase.
    * ``[A|B]`` gives the first alternative whose fields all have values (B may have none:
      "[{steroid_drug} {steroid_dose_mg} mg/day = |No corticosteroid: ]").
    * ``[[`` and ``]]`` write a literal bracket, as ``{{`` and ``}}`` write a brace.

    Brackets inside a ``{field}`` (``{a[0]}``) are the field's own business.
    """
    fields = DisplayNames(protocol, names, lang)
    try:
        parts: list[str] = []
        for piece in optional_parts(template):
            if isinstance(piece, str):
                parts.append(piece.format_map(fields))
                continue
            for alternative in piece:
                if all(names[f] is not None for f in field_names(alternative) if f in names):
                    parts.append(alternative.format_map(fields))
                    break
        return "".join(parts)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ExpressionError(f"cannot render {template!r}: {exc}") from exc


@lru_cache(maxsize=1024)
def field_names(text: str) -> frozenset[str]:
    """The names a format text reads (``{anc}``, ``{a.kind}`` and ``{a[0]}`` read ``a``)."""
    return frozenset(
        name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name
    )


@lru_cache(maxsize=1024)
def optional_parts(template: str) -> tuple[str | tuple[str, ...], ...]:
    """Split a text into format texts (str) and optional parts (their alternatives).

    Only brackets and bars outside ``{...}`` count; doubled brackets are literal.  Raises
    ValueError on an unbalanced or nested bracket, which :func:`render` reports with the
    text (the protocol check renders every text, so a broken one is found before use).
    Cached: a protocol has a few hundred texts, rendered on every evaluation.
    """
    pieces: list[str | tuple[str, ...]] = []
    current: list[str] = []  # the text being read (a plain piece or one alternative)
    alternatives: list[str] | None = None  # inside [...]: the alternatives read so far
    depth = 0  # inside {...}
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        pair = template[i : i + 2]
        if depth == 0 and pair in ("{{", "}}"):
            current.append(pair)
            i += 2
            continue
        if depth == 0 and pair in ("[[", "]]"):
            current.append(ch)
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
        elif depth == 0 and ch == "[":
            if alternatives is not None:
                raise ValueError("'[' inside an optional part: nested parts are not supported")
            if current:
                pieces.append("".join(current))
            current, alternatives = [], []
            i += 1
            continue
        elif depth == 0 and ch == "]":
            if alternatives is None:
                raise ValueError("']' without its '[' (write ']]' for a bracket)")
            alternatives.append("".join(current))
            pieces.append(tuple(alternatives))
            current, alternatives = [], None
            i += 1
            continue
        elif depth == 0 and ch == "|" and alternatives is not None:
            alternatives.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    if alternatives is not None:
        raise ValueError("'[' without its ']' (write '[[' for a bracket)")
    if current:
        pieces.append("".join(current))
    return tuple(pieces)
