"""Turning what an investigator types into a value, or a clear error.

A bad answer is a value (:class:`AnswerError`), never an exception: the caller re-prompts
with its message and the conversation does not move.  Parsing never guesses: a number
without a unit where a unit matters, or a unit it does not know, is an error.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from dialogs.messages import message
from dialogs.protocol import AnswerType, Protocol, Question, Unit
from dialogs.values import UNKNOWN, Answer, Quantity, Value

UNKNOWN_WORDS = frozenset(
    {
        "unknown",
        "unk",
        "?",
        "dont know",
        "don't know",
        "do not know",
        "n/a",
        "na",
        "inconnu",
        "inconnue",
        "ne sais pas",
        "je ne sais pas",
        "nsp",
        "ns",
    }
)
YES_WORDS = frozenset({"yes", "y", "oui", "o", "true"})
NO_WORDS = frozenset({"no", "n", "non", "false"})
SPECIAL_WORDS: dict[str, frozenset[str]] = {
    "today": frozenset({"today", "aujourd'hui", "aujourdhui", "auj"}),
    "none": frozenset({"none", "never", "no", "aucun", "aucune", "jamais", "non", "néant"}),
    "ongoing": frozenset({"ongoing", "en cours", "current", "currently"}),
}

_NUMBER = r"[+-]?(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,]\d+)?"
_NUMBER_RE = re.compile(rf"^(?P<num>{_NUMBER})\s*(?P<rest>.*)$")
_ULN_RE = re.compile(r"^(?:[x×*]\s*)?(?:uln|lsn|n)?$")
_ISO_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_CODE_RE = re.compile(r"^[A-Za-z0-9-]+$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class AnswerError:
    """A rejected answer: which question, and what was expected, in the user's language."""

    question_id: str
    message: str


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What parsing needs beyond the text: the planned start (for date checks) and today."""

    today: dt.date
    planned_start: dt.date | None = None
    lang: str = "en"


def normalise(text: str) -> str:
    """Case-fold, unify apostrophes and collapse spaces, so 'Ne  sais pas' == 'ne sais pas'."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'").strip().casefold()
    return re.sub(r"\s+", " ", text)


def _unit_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    for a, b in (("µ", "u"), ("μ", "u"), ("×", "x"), ("^", ""), ("*", "x"), (" ", "")):
        text = text.replace(a, b)
    return text


def _to_float(num: str) -> float:
    return float(re.sub(r"[ \u00a0\u202f]", "", num).replace(",", "."))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _range_text(q: Question, lang: str) -> str:
    lo, hi = q.minimum, q.maximum
    if lo is not None and hi is not None:
        return message("range_between", lang, lo=_fmt(lo), hi=_fmt(hi))
    if lo is not None:
        key = "range_min_exclusive" if q.exclusive_minimum else "range_min"
        return message(key, lang, lo=_fmt(lo))
    if hi is not None:
        return message("range_max", lang, hi=_fmt(hi))
    return ""


def _in_range(q: Question, x: float) -> bool:
    if q.minimum is not None and (x <= q.minimum if q.exclusive_minimum else x < q.minimum):
        return False
    return not (q.maximum is not None and x > q.maximum)


class AnswerParser:
    """Parses answers for one protocol (units and choices come from the protocol file)."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._unit_index: dict[str, dict[str, Unit]] = {}
        for q in protocol.questions:
            index: dict[str, Unit] = {}
            for uid in q.units:
                unit = protocol.unit_by_id[uid]
                for alias in (unit.id, unit.display, *unit.aliases):
                    index[_unit_key(alias)] = unit
            self._unit_index[q.id] = index

    # -- public -------------------------------------------------------------------

    def parse(self, question: Question, text: str, ctx: ParseContext) -> Answer | AnswerError:
        # Control characters (a NUL byte, say) mean nothing in an answer and PostgreSQL
        # refuses them in text: drop them so the raw text stored is what the user saw.
        raw = _CONTROL_RE.sub("", text).strip()
        norm = normalise(raw)
        lang = ctx.lang
        if not norm:
            return AnswerError(question.id, message("empty", lang))
        if norm in UNKNOWN_WORDS:
            if question.required:
                return AnswerError(question.id, message("required", lang))
            return Answer(question.id, raw, UNKNOWN)
        result = self._parse_typed(question, raw, norm, ctx)
        if isinstance(result, AnswerError):
            return result
        return Answer(question.id, raw, result)

    def expected(self, question: Question, lang: str) -> str:
        """What the question accepts, as shown after a bad answer."""
        t = question.type
        if t is AnswerType.yesno:
            return message("yesno", lang)
        if t is AnswerType.choice:
            return message("choice", lang, choices=self._choice_list(question, lang))
        if t is AnswerType.integer:
            return message("integer", lang, range=_range_text(question, lang))
        if t is AnswerType.number:
            uln = message("uln_hint", lang) if question.uln else ""
            return message("number", lang, range=_range_text(question, lang), uln=uln)
        if t is AnswerType.quantity:
            return message("quantity", lang, units=self._unit_list(question))
        if t is AnswerType.date:
            return message("date", lang, specials=self._specials_text(question, lang))
        lo, hi = question.min_length or 1, question.max_length or 200
        return message("text_length", lang, lo=lo, hi=hi)

    # -- per type -----------------------------------------------------------------

    def _parse_typed(
        self, q: Question, raw: str, norm: str, ctx: ParseContext
    ) -> Value | AnswerError:
        lang = ctx.lang
        if q.type is AnswerType.yesno:
            if norm in YES_WORDS:
                return "yes"
            if norm in NO_WORDS:
                return "no"
            return AnswerError(q.id, self.expected(q, lang))
        if q.type is AnswerType.choice:
            return self._parse_choice(q, norm, lang)
        if q.type is AnswerType.integer:
            return self._parse_integer(q, norm, lang)
        if q.type is AnswerType.number:
            return self._parse_number(q, norm, lang)
        if q.type is AnswerType.quantity:
            return self._parse_quantity(q, raw, lang)
        if q.type is AnswerType.date:
            return self._parse_date(q, raw, norm, ctx)
        return self._parse_text(q, raw, lang)

    def _choice_list(self, q: Question, lang: str) -> str:
        return ", ".join(f"{i}. {c.label.get(lang)}" for i, c in enumerate(q.choices, 1))

    def _parse_choice(self, q: Question, norm: str, lang: str) -> Value | AnswerError:
        if norm.isdigit() and 1 <= int(norm) <= len(q.choices):
            return q.choices[int(norm) - 1].value
        key = norm.replace(" ", "_")
        for c in q.choices:
            words = {c.value, c.label.en, c.label.fr, *c.aliases}
            if norm in {normalise(w) for w in words} or key == c.value:
                return c.value
        return AnswerError(q.id, self.expected(q, lang))

    def _parse_integer(self, q: Question, norm: str, lang: str) -> Value | AnswerError:
        m = re.fullmatch(r"[+-]?\d+", norm)
        if not m or not _in_range(q, int(norm)):
            return AnswerError(q.id, self.expected(q, lang))
        return int(norm)

    def _parse_number(self, q: Question, norm: str, lang: str) -> Value | AnswerError:
        m = _NUMBER_RE.match(norm)
        if not m:
            return AnswerError(q.id, self.expected(q, lang))
        rest = m.group("rest").strip()
        if (
            rest
            and not (q.uln and _ULN_RE.match(rest))
            and not (q.default_unit and _unit_key(rest) == _unit_key(q.default_unit))
        ):
            return AnswerError(q.id, self.expected(q, lang))
        value = _to_float(m.group("num"))
        if not _in_range(q, value):
            return AnswerError(q.id, self.expected(q, lang))
        return value

    def _unit_list(self, q: Question) -> str:
        return ", ".join(self.protocol.unit_by_id[u].display for u in q.units)

    def _parse_quantity(self, q: Question, raw: str, lang: str) -> Value | AnswerError:
        m = _NUMBER_RE.match(normalise(raw))
        if not m:
            return AnswerError(q.id, self.expected(q, lang))
        number = _to_float(m.group("num"))
        unit_text = m.group("rest").strip()
        if not unit_text:
            if q.default_unit is None:
                return AnswerError(q.id, self.expected(q, lang))
            unit = self.protocol.unit_by_id[q.default_unit]
        else:
            found = self._unit_index[q.id].get(_unit_key(unit_text))
            if found is None:
                return AnswerError(
                    q.id, message("unknown_unit", lang, unit=unit_text, units=self._unit_list(q))
                )
            unit = found
        value = number * unit.factor
        if number < 0 or not _in_range(q, value):
            return AnswerError(
                q.id,
                message(
                    "quantity_range",
                    lang,
                    value=f"{_fmt(number)} {unit.display}",
                    expected=_range_text(q, lang).strip() + f" {unit.canonical}",
                ),
            )
        return Quantity(round(value, 6), unit.canonical, unit.kind, number, unit.display)

    def _specials_text(self, q: Question, lang: str) -> str:
        words = [message(f"special_{s}", lang) for s in q.specials]
        return message("or_words", lang, words=", ".join(words)) if words else ""

    def _parse_date(
        self, q: Question, raw: str, norm: str, ctx: ParseContext
    ) -> Value | AnswerError:
        lang = ctx.lang
        if norm in SPECIAL_WORDS["today"]:
            # Any date may be typed as "today"; only the words listed in specials differ.
            return self._check_start(q, ctx.today, raw, ctx)
        for special in q.specials:
            if special != "today" and norm in SPECIAL_WORDS[special]:
                return special
        day = parse_date(norm)
        if day is None:
            return AnswerError(q.id, self.expected(q, lang))
        if isinstance(day, str):
            return AnswerError(q.id, message("date_invalid", lang, text=raw))
        return self._check_start(q, day, raw, ctx)

    def _check_start(
        self, q: Question, day: dt.date, raw: str, ctx: ParseContext
    ) -> Value | AnswerError:
        if q.not_after_start and ctx.planned_start is not None and day > ctx.planned_start:
            return AnswerError(
                q.id,
                message(
                    "date_after_start",
                    ctx.lang,
                    date=day.strftime("%d/%m/%Y"),
                    start=ctx.planned_start.strftime("%d/%m/%Y"),
                ),
            )
        return day

    def _parse_text(self, q: Question, raw: str, lang: str) -> Value | AnswerError:
        lo, hi = q.min_length or 1, q.max_length or 200
        if not lo <= len(raw) <= hi:
            return AnswerError(q.id, message("text_length", lang, lo=lo, hi=hi))
        if q.pattern and not re.fullmatch(q.pattern, raw):
            return AnswerError(q.id, message("text_pattern", lang))
        if q.pseudonym:
            if not _CODE_RE.match(raw):
                return AnswerError(q.id, message("text_pattern", lang))
            if not any(ch.isdigit() for ch in raw):
                return AnswerError(q.id, message("pseudonym_digit", lang))
            if reads_as_date(raw):
                return AnswerError(q.id, message("pseudonym_date", lang))
        return raw


def parse_date(text: str) -> dt.date | str | None:
    """A date from ISO or DD/MM/YYYY text; 'invalid' for a well-formed impossible date."""
    m = _ISO_RE.match(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _DMY_RE.match(text)
        if not m:
            return None
        d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return "invalid"


def reads_as_date(code: str) -> bool:
    """Whether a code could be a date (a birth date is an identifier, not a pseudonym)."""
    text = code.strip()
    if isinstance(parse_date(text), dt.date):
        return True
    digits = re.sub(r"[-/.]", "", text)
    if not digits.isdigit() or len(digits) not in (6, 8):
        return False
    candidates: list[tuple[int, int, int]] = []
    if len(digits) == 8:
        candidates += [
            (int(digits[4:]), int(digits[2:4]), int(digits[:2])),  # DDMMYYYY
            (int(digits[:4]), int(digits[4:6]), int(digits[6:])),  # YYYYMMDD
        ]
    else:
        candidates += [
            (1900 + int(digits[4:]), int(digits[2:4]), int(digits[:2])),  # DDMMYY
            (1900 + int(digits[:2]), int(digits[2:4]), int(digits[4:])),  # YYMMDD
        ]
    for y, mo, d in candidates:
        try:
            dt.date(y, mo, d)
        except ValueError:
            continue
        return True
    return False
