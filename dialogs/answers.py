"""Turning what an investigator types into a value, or a clear error.

A bad answer is a value (:class:`AnswerError`), never an exception: the caller re-prompts
with its message and the conversation does not move.  Parsing never guesses: a number
without a unit where a unit matters, or a unit it does not know, is an error.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from dialogs.display import plain_number, special_word
from dialogs.messages import message
from dialogs.protocol import AnswerType, Choice, Protocol, Question, Unit
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
        # Spoken French drops the "ne"; "non connu" is how a chart says it.
        "je sais pas",
        "sais pas",
        "jsp",
        "non connu",
        "non connue",
        "pas connu",
        "not known",
    }
)
YES_WORDS = frozenset({"yes", "y", "oui", "o", "true"})
NO_WORDS = frozenset({"no", "n", "non", "false"})
SPECIAL_WORDS: dict[str, frozenset[str]] = {
    "today": frozenset({"today", "aujourd'hui", "aujourd hui", "aujourdhui", "auj"}),
    "none": frozenset({"none", "never", "no", "aucun", "aucune", "jamais", "non", "néant"}),
    "ongoing": frozenset({"ongoing", "en cours", "current", "currently"}),
}

_YESTERDAY = frozenset({"yesterday", "hier"})
_DAY_BEFORE_YESTERDAY = frozenset(
    {"the day before yesterday", "day before yesterday", "avant-hier", "avant hier"}
)
# Days ahead, matched without accents ('apres-demain'): a planned start is fixed that way
# ("we start tomorrow"), while for a past event they are after today (see _parse_date).
_DAYS_AHEAD: dict[str, int] = {
    **dict.fromkeys(("tomorrow", "demain"), 1),
    **dict.fromkeys(
        ("the day after tomorrow", "day after tomorrow", "apres-demain", "apres demain"), 2
    ),
}
# 'il y a 3 jours', '2 weeks ago': how an exam is dated from memory, counted back from
# today.  Days and weeks only: 'il y a 2 mois' is a span of a month or so, and a lab
# window of 28 days cannot be checked against that.
# Counts as a phone types them too: « il y a deux semaines », "three days ago".
_FR_COUNTS = ("deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix")
_EN_COUNTS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
# « quinze jours » is no count: it means two weeks (14 days? 15?), a span (see _SPAN_RE).
_TENS = {"vingt": 20, "trente": 30, "twenty": 20, "thirty": 30}
_COUNT_WORDS = {
    **dict.fromkeys(("un", "une", "a", "an", "one"), 1),
    **{w: n for n, w in enumerate(_FR_COUNTS, 2)},
    **{w: n for n, w in enumerate(_EN_COUNTS, 2)},
    **{w: n for n, w in enumerate(("onze", "douze", "treize", "quatorze"), 11)},
    **{w: n for n, w in enumerate(("eleven", "twelve", "thirteen", "fourteen"), 11)},
    **_TENS,
}
_COUNT = "[0-9]{1,3}|" + "|".join(sorted(_COUNT_WORDS, key=len, reverse=True))
_AGO_RE = re.compile(
    rf"il y a (?P<fr>{_COUNT}) ?(?P<fr_unit>jours?|j|semaines?|sem)"
    rf"|(?P<en>{_COUNT}) ?(?P<en_unit>days?|d|weeks?|wks?|w) ago"
)
_WEEK_UNITS = frozenset({"semaine", "semaines", "sem", "week", "weeks", "wk", "wks", "w"})
# A span that is no day: months, years, « quinze jours » (14 or 15?), "a few days".  Told
# apart from a date typed wrong, so the refusal says what is missing: the day itself.
_SPAN_RE = re.compile(
    r"(il y a|depuis) .*\b(mois|ans?|annees?|quinzaine|quinze jours|quelques \w+)"
    r"|.*\b(months?|years?|yrs?|fortnight|few \w+|several \w+) ago"
    r"|(le )?mois dernier|l'an dernier|l'annee derniere|last (week|month|year)"
    r"|(la )?semaine derniere"
    r"|(une )?quinzaine|a fortnight"
)
# 'J-3', 'j - 3', 'D-3': days before day 1 (the planned start), the trial team's count.
_DAY_BEFORE_START_RE = re.compile(r"[jd]\s*-\s*(?P<days>[0-9]{1,3})")

# Longer answers are refused before any parsing (a question may allow more text).
MAX_ANSWER_LENGTH = 200
# More digits than any count or dose: int() refuses over 4300 digits, float() overflows.
_MAX_DIGITS = 30

_NUMBER = r"[+-]?(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,]\d+)?"
_NUMBER_RE = re.compile(rf"^(?P<num>{_NUMBER})\s*(?P<rest>.*)$")
# A quantity's number before its unit is known: digit groups joined by a space, a point
# or a comma.  Whether '1,500' is 1.5 or 1500 depends on the unit (see _parse_quantity).
_LEADING_DIGITS_RE = re.compile(r"[+-]?[0-9]+(?:[ .,][0-9]+)*")
_SEPARATOR_RE = re.compile(r"[ .,]")
# A choice typed as the start of its name ('asympt', 'dexa'): from this many characters, so
# that 'tr' or 'no' never picks a choice by accident.
MIN_CHOICE_PREFIX = 4
# A label that asks for an amount per day ('Its daily dose, in mg?', « dose quotidienne »):
# there '16 mg/j' is 16 mg, the per-day being the question's own (see _per_day_questions).
_DAILY_LABEL_RE = re.compile(
    r"\b(?:daily|per day|quotidiennes?|quotidiens?|par jour)\b|/(?:day|jour)\b"
)
# A per-day suffix on a unit key (see _unit_key: no spaces, case-folded): 'mg/day',
# 'mg/d', 'mg/j', 'mg/jour', 'mg/24h', 'mg par jour', 'mg per day', 'mg a day', 'mg daily'.
_PER_DAY_RE = re.compile(
    r"(?P<unit>.*?)(?:/(?:day|d|j|jr|jour|24h)|per(?:day|24h)|par(?:jour|j|24h)|aday|daily)"
)
# Cell counts per volume are whole numbers (1,500/mm³ is 1500, never 1.5).
_COUNT_UNIT_KEYS = frozenset({"/mm3", "/ul"})
_ULN_RE = re.compile(r"^(?:[x×*]\s*)?(?:uln|lsn|n)?$")
# A mass, an amount or an enzyme activity per volume (a unit key, see _unit_key): at a
# question that asks for a multiple of the ULN, '80 µmol/L' is the lab value itself.
_CONCENTRATION_RE = re.compile(
    r"^(?:(?:[munpk]|micro|milli)?(?:g|mol)|[kmu]?(?:u|ui|iu|kat))/(?:[dcmu]?l|100ml)$"
    r"|^(?:[mun]|micro|milli)mol$|^m?g%$"
)
# '> 90 mL/min', '<0,5', '≥ 1,5 G/L': a bound, not a value (see _parse_typed).
_COMPARISON_RE = re.compile(r"^(?:[<>≤≥]=?|=[<>])\s*(?=[+-]?[0-9])")
# '12/05/25', '30.5.25': a day and a month, then a year of two digits.
_TWO_DIGIT_YEAR_RE = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}$")
# 'mai 2025': a month and a year (no day), which the month-first pattern would read as
# 20 May '25.
_MONTH_YEAR_RE = re.compile(r"^[^\d\s.]+\.?[ ./-]*\d{4}$")
# A power of ten written with superscript digits ('10³/mm³', '10⁹/L').
_SUPERSCRIPT_POWER_RE = re.compile(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_ISO_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_DATE_PARTS_RE = re.compile(r"^([0-9]{1,4})[-/. ]([0-9]{1,2})[-/. ]([0-9]{1,4})$")
_CODE_RE = re.compile(r"^[A-Za-z0-9-]+$")
# Months by name, French and English, full or abbreviated, without accents.
_MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("janvier", "janv", "january", "jan"),
            ("fevrier", "fevr", "fev", "february", "feb"),
            ("mars", "march", "mar"),
            ("avril", "avr", "april", "apr"),
            ("mai", "may"),
            ("juin", "june", "jun"),
            ("juillet", "juil", "july", "jul"),
            ("aout", "august", "aug"),
            ("septembre", "sept", "september", "sep"),
            ("octobre", "october", "oct"),
            ("novembre", "november", "nov"),
            ("decembre", "december", "dec"),
        ),
        start=1,
    )
    for name in names
}
# '23 novembre 2026', '1er déc. 2026', '23-nov-2026', '23NOV1980'; month first for English
# ('November 23, 2026', 'NOV-23-80').
_DAY_MONTH_YEAR_RE = re.compile(r"^(\d{1,2})(?:er)?[ ./-]*([a-z]+)\.?[ ./,-]*(\d{2}|\d{4})$")
_MONTH_DAY_YEAR_RE = re.compile(
    r"^([a-z]+)\.?[ ./-]*(\d{1,2})(?:st|nd|rd|th)?[ ./,-]*(\d{2}|\d{4})$"
)
# Days of the week, French and English, full or abbreviated, without accents, Monday
# first as date.weekday() counts.  'mar' is also March: see _without_day_name.
_WEEKDAYS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("lundi", "lun", "monday", "mon"),
            ("mardi", "mar", "tuesday", "tues", "tue"),
            ("mercredi", "mer", "wednesday", "wed"),
            ("jeudi", "jeu", "thursday", "thurs", "thur", "thu"),
            ("vendredi", "ven", "friday", "fri"),
            ("samedi", "sam", "saturday", "sat"),
            ("dimanche", "dim", "sunday", "sun"),
        )
    )
    for name in names
}
# 'le 3 juin 2025', 'mardi 3 juin 2025', 'le mar. 3/6/2025', 'on Tuesday, 3 June 2025':
# how a date is said, before the date itself.
_DAY_NAME_RE = re.compile(
    r"(?:(?:le|on)\s+)?"
    rf"(?:(?P<weekday>{'|'.join(sorted(_WEEKDAYS, key=len, reverse=True))})"
    r"(?:\.\s*|,\s*|\s+)(?:(?:le|the)\s+)?)?"
    r"(?P<rest>.+)"
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# '12/11', '12 mars', '1er déc.', 'Nov 12': a day and a month, the year left out.
_DAY_MONTH_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})\.?$")
_DAY_NAMED_MONTH_RE = re.compile(r"^(\d{1,2})(?:er)?[ ./-]*([a-z]+)\.?$")
_NAMED_MONTH_DAY_RE = re.compile(r"^([a-z]+)\.?[ ./-]*(\d{1,2})(?:st|nd|rd|th)?$")


@dataclass(frozen=True, slots=True)
class AnswerError:
    """A rejected answer: which question, and what was expected, in the user's language."""

    question_id: str
    message: str
    # Set when the date is after the planned start: the fix may be the start itself
    # (it moved), which a front end can offer to change.
    after_start: bool = False


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


def _word(norm: str) -> str:
    """A word answer without the full stop or '!' a phone adds ('Oui.' after a double
    space); '?' stays, it means unknown."""
    return norm.rstrip(".!").rstrip() or norm


def normalise_patient_code(text: str) -> str:
    """The one stored form of a patient code: trimmed and upper-case.

    'NAV-03' and 'nav-03' are one patient: two spellings must not open two parallel
    screenings, and '/resume nav-03' must find 'NAV-03'.  Front ends apply this to any
    code they look up, the parser to the code it records.
    """
    text = _CONTROL_RE.sub("", unicodedata.normalize("NFKC", text))
    return text.strip().upper()


# '1,5.10^9/L', '1,5·10⁹/L': French lab reports write the multiplication sign as a point.
_DOT_TIMES_RE = re.compile(r"^[.·⋅]\s*(?=10)")


# Typed values a full stop cannot end: one there is the phone's, not the investigator's.
_TYPED_VALUES = frozenset(
    {AnswerType.integer, AnswerType.number, AnswerType.quantity, AnswerType.date}
)
_NUMERIC = frozenset({AnswerType.integer, AnswerType.number, AnswerType.quantity})


def normalise_spaces(text: str) -> str:
    """``text`` as typed, with runs of spaces made one (for quoting it back)."""
    return re.sub(r"\s+", " ", text.strip())


def _words_around(words: Sequence[str]) -> re.Pattern[str]:
    """Matches a question's ``words`` (and the spaces by them) at either end of an
    answer: what is left is the number ('grade 2' -> '2', '54 ans' -> '54')."""
    alternatives = "|".join(re.escape(normalise(w)) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"^(?:{alternatives})\s*(?=[+-]?[0-9])|(?<=[0-9])\s*(?:{alternatives})$")


def _caret_powers(text: str) -> str:
    """'1,5 10³/mm³' -> '1,5 10^3/mm³'.  NFKC would make '10³' the digits '103', and
    '1,5 103' reads as one number before '/mm³' (and '2 103' as the count 2103): with
    the caret the '10' can only start the unit."""
    return _SUPERSCRIPT_POWER_RE.sub(
        lambda m: "10^" + unicodedata.normalize("NFKC", m.group(1)), text
    )


def _unit_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DOT_TIMES_RE.sub("x", text.strip())
    for a, b in (("µ", "u"), ("μ", "u"), ("×", "x"), ("^", ""), ("*", "x"), (" ", "")):
        text = text.replace(a, b)
    return text


def _to_float(num: str) -> float | None:
    """A decimal number (grouped by spaces, decimal point or comma); None if it has more
    digits than any answer needs or does not fit a float."""
    digits = re.sub(r"[ \u00a0\u202f]", "", num).replace(",", ".")
    if sum(ch.isdigit() for ch in digits) > _MAX_DIGITS:
        return None
    value = float(digits)
    return value if math.isfinite(value) else None


def _whole_count(num: str) -> int | None:
    """A count per volume as an integer: '1500', '1 500', '1,500', '1.500', '150,000'.

    A separator followed by exactly three digits groups thousands (one separator kind
    throughout, no leading zero: '0,500' is a decimal).  Anything else ('1,5', '1500.0')
    is a fraction or a guess, and None.
    """
    sign = num[0] if num[0] in "+-" else ""
    body = num[len(sign) :]
    groups = _SEPARATOR_RE.split(body)
    separators = set(_SEPARATOR_RE.findall(body))
    if len(groups) > 1 and not (
        len(separators) == 1
        and 1 <= len(groups[0]) <= 3
        and not groups[0].startswith("0")
        and all(len(g) == 3 for g in groups[1:])
    ):
        return None
    digits = "".join(groups)
    if len(digits) > _MAX_DIGITS:
        return None
    return int(sign + digits)


def _is_count(unit: Unit) -> bool:
    """Whether a unit counts cells per volume (/mm³, /µL), as opposed to ×10⁹/L or g/dL."""
    return _unit_key(unit.display) in _COUNT_UNIT_KEYS


def _fmt(x: float, lang: str) -> str:
    return plain_number(x, lang)


def _range_text(q: Question, lang: str) -> str:
    lo, hi = q.minimum, q.maximum
    if lo is not None and hi is not None:
        key = "range_between_exclusive" if q.exclusive_minimum else "range_between"
        return message(key, lang, lo=_fmt(lo, lang), hi=_fmt(hi, lang))
    if lo is not None:
        key = "range_min_exclusive" if q.exclusive_minimum else "range_min"
        return message(key, lang, lo=_fmt(lo, lang))
    if hi is not None:
        return message("range_max", lang, hi=_fmt(hi, lang))
    return ""


def _inward(x: float, up: bool) -> float:
    """A converted limit rounded to 2 decimals towards the inside of the range, so that
    the limit the message states is itself accepted (2 g/dL = 1.2415 mmol/L -> 1.25)."""
    scaled = round(x, 9) * 100
    return (math.ceil(scaled - 1e-6) if up else math.floor(scaled + 1e-6)) / 100


def _bounds_text(q: Question, unit: Unit, negative: bool, lang: str) -> str:
    """The accepted range in the unit the user typed: 400 g/L -> 'between 20 and 250 g/L'.

    Limits are stored in the canonical unit; a count or a haemoglobin typed in another
    unit is compared after conversion, so the message converts the limits back.  With
    no lower limit, a negative number is told the implicit one: quantities are >= 0.
    """
    lo, hi, exclusive = _limits(q, unit)
    if lo is None and negative:
        lo, exclusive = 0.0, False

    def show(x: float, up: bool) -> str:
        return _fmt(_inward(x / unit.factor, up), lang)

    if lo is not None and hi is not None:
        key = "bound_between_exclusive" if exclusive else "bound_between"
        return message(key, lang, lo=show(lo, True), hi=show(hi, False), unit=unit.display)
    if lo is not None:
        key = "bound_min_exclusive" if exclusive else "bound_min"
        return message(key, lang, lo=show(lo, True), unit=unit.display)
    return message("bound_max", lang, hi=show(hi or 0.0, False), unit=unit.display)


def _limits(q: Question, unit: Unit | None = None) -> tuple[float | None, float | None, bool]:
    """(lower, upper, lower is exclusive), in the canonical unit.  A unit may narrow the
    question's range: a serum creatinine of 0 (or 0.0001 mg/dL, an eGFR of 1587) is no
    measurement, though a clearance of 0 mL/min typed at the same question is one; and
    the 300 that bounds a clearance in mL/min would let '88 mg/dL' (µmol/L typed as
    mg/dL) through as a serum creatinine."""
    lo, hi, exclusive = q.minimum, q.maximum, q.exclusive_minimum
    if unit is not None and unit.minimum is not None and (lo is None or unit.minimum > lo):
        lo, exclusive = unit.minimum, False
    if unit is not None and unit.maximum is not None and (hi is None or unit.maximum < hi):
        hi = unit.maximum
    return lo, hi, exclusive


def _in_range(q: Question, x: float, unit: Unit | None = None) -> bool:
    lo, hi, exclusive = _limits(q, unit)
    if lo is not None and (x <= lo if exclusive else x < lo):
        return False
    return not (hi is not None and x > hi)


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
        self._words_re: dict[str, re.Pattern[str]] = {
            q.id: _words_around(q.words) for q in protocol.questions if q.words
        }
        # Every unit the protocol knows, by key, as it displays: '13 g/dl' at the ANC
        # question is a unit of another question (g/dL), not one the bot does not know.
        self._known_units: dict[str, str] = {}
        for unit in protocol.units:
            for alias in (unit.id, unit.display, *unit.aliases):
                self._known_units.setdefault(_unit_key(alias), unit.display)
        for q in protocol.questions:
            if q.default_unit is not None and q.default_unit not in protocol.unit_by_id:
                self._known_units.setdefault(_unit_key(q.default_unit), q.default_unit)
        self._per_day = _per_day_questions(protocol)

    # -- public -------------------------------------------------------------------

    def parse(self, question: Question, text: str, ctx: ParseContext) -> Answer | AnswerError:
        # Control characters (a NUL byte, say) mean nothing in an answer and PostgreSQL
        # refuses them in text: drop them so the raw text stored is what the user saw.
        raw = _CONTROL_RE.sub("", text).strip()
        lang = ctx.lang
        # Before any parsing: a pasted page is not an answer, and no parser below needs
        # to think about a 5000-digit number.
        limit = max(MAX_ANSWER_LENGTH, question.max_length or 0)
        if len(raw) > limit:
            return AnswerError(question.id, message("too_long", lang, limit=limit))
        norm = normalise(raw)
        if not norm:
            return AnswerError(question.id, message("empty", lang))
        if norm in UNKNOWN_WORDS or _word(norm) in UNKNOWN_WORDS:
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
            if question.default_unit:
                # A bare number is read in the default unit: "with its unit" would be false.
                default = self.protocol.unit_by_id[question.default_unit].display
                return message(
                    "quantity_default", lang, unit=default, units=self._unit_list(question)
                )
            return message("quantity", lang, units=self._unit_list(question))
        if t is AnswerType.date:
            return message("date", lang, specials=self._specials_text(question, lang))
        lo, hi = question.min_length or 1, question.max_length or 200
        key = "pseudonym_length" if question.pseudonym else "text_length"
        return message(key, lang, lo=lo, hi=hi)

    # -- per type -----------------------------------------------------------------

    def _parse_typed(
        self, q: Question, raw: str, norm: str, ctx: ParseContext
    ) -> Value | AnswerError:
        lang = ctx.lang
        if q.type in _TYPED_VALUES:
            # '20/11/2026.', '54.': the full stop a phone adds after a double space.
            raw, norm = _word(raw), _word(norm)
        if q.type in _NUMERIC and _COMPARISON_RE.match(norm):
            # '> 90 mL/min' is how labs print an eGFR above their range: a bound, and the
            # record holds values.  Recording 90 is the investigator's call, not ours.
            example = _COMPARISON_RE.sub("", normalise_spaces(raw))
            if q.type is AnswerType.quantity and not q.default_unit and _is_bare(example):
                # '>90' at a clearance: "type 90" would be refused next for its missing
                # unit.  Which unit is the investigator's to say (1500 is /mm³, 1,5 G/L).
                units = self._unit_list(q)
                return AnswerError(q.id, message("comparison_sign_unit", lang, units=units))
            return AnswerError(q.id, message("comparison_sign", lang, example=example))
        if q.type is AnswerType.yesno:
            if _word(norm) in YES_WORDS:
                return "yes"
            if _word(norm) in NO_WORDS:
                return "no"
            return AnswerError(q.id, self.expected(q, lang))
        if q.type is AnswerType.choice:
            return self._parse_choice(q, _word(norm), lang)
        if q.type in _NUMERIC:
            result = self._parse_numeric(q, raw, norm, lang)
            if isinstance(result, AnswerError) and _date_shaped(norm):
                # '23/11/2026' at the ANC question read as 23 in the unit '/11/2026': the
                # investigator typed a date where a number is asked (the lab date's value
                # typed one question late), and the unit is not what is wrong.
                text = normalise_spaces(raw)
                expected = self.expected(q, lang)
                return AnswerError(
                    q.id, message("date_not_number", lang, text=text, expected=expected)
                )
            return result
        if q.type is AnswerType.date:
            return self._parse_date(q, raw, norm, ctx)
        return self._parse_text(q, raw, ctx)

    def _parse_numeric(self, q: Question, raw: str, norm: str, lang: str) -> Value | AnswerError:
        """An integer, a number or a quantity, by the question's type."""
        if q.type is AnswerType.integer:
            return self._parse_integer(q, norm, lang)
        if q.type is AnswerType.number:
            return self._parse_number(q, raw, norm, lang)
        return self._parse_quantity(q, raw, lang)

    def _unit_error(self, q: Question, unit_text: str, units: str, lang: str) -> AnswerError:
        """'I don't know the unit', or, for a unit the protocol knows for other questions
        ('13 g/dL' at the ANC), that it is not one for this question: "I don't know g/dL"
        reads as if the bot could not read a haemoglobin unit at all."""
        known = self._known_units.get(_unit_key(unit_text))
        if known is not None:
            return AnswerError(q.id, message("unit_other_question", lang, unit=known, units=units))
        return AnswerError(q.id, message("unknown_unit", lang, unit=unit_text, units=units))

    def _without_per_day(self, q: Question, key: str) -> str:
        """A unit key without its per-day suffix ('mg/j' -> 'mg') at a question whose
        label asks for an amount per day; unchanged anywhere else."""
        if q.id in self._per_day and (m := _PER_DAY_RE.fullmatch(key)):
            return m["unit"]
        return key

    def _choice_list(self, q: Question, lang: str) -> str:
        """Not numbered: Telegram's buttons carry no numbers, and a list « 1. Aucune,
        2. Symptomatiques… » invited a number the bot then refused (the terminal numbers
        its own menu, and a number typed there is still read)."""
        return ", ".join(c.label.get(lang) for c in q.choices)

    def _parse_choice(self, q: Question, norm: str, lang: str) -> Value | AnswerError:
        # ASCII digits, a few of them: str.isdigit() also accepts '²' or '𐩀', which int()
        # refuses, and int() refuses thousands of digits.
        if re.fullmatch(r"[0-9]{1,4}", norm) and 1 <= int(norm) <= len(q.choices):
            return q.choices[int(norm) - 1].value
        key = norm.replace(" ", "_")
        for c in q.choices:
            words = {c.value, c.label.en, c.label.fr, *c.aliases}
            if norm in {normalise(w) for w in words} or key == c.value:
                return c.value
        # Then without accents or punctuation ('thyroide', 'asymptomatic untreated'), whole
        # or as the start of one choice's name ('asympt', 'méthylpred'): one choice only.
        typed = _choice_key(norm)
        whole = [c for c in q.choices if typed in _choice_keys(c)]
        if len(whole) == 1:
            return whole[0].value
        if len(typed) >= MIN_CHOICE_PREFIX:
            # The start of one choice's name ('asympt', 'méthylpred'): one choice only.
            found = [
                (c, name)
                for c in q.choices
                if (name := _choice_name_matching(c, typed, lang)) is not None
            ]
            if len(found) == 1:
                return found[0][0].value
            if found:
                # 'pred': Prednisone or Prednisolone?  Never pick one.
                return self._choice_ambiguous(found, typed, norm, lang, q.id)
        return AnswerError(q.id, self.expected(q, lang))

    @staticmethod
    def _choice_ambiguous(
        found: Sequence[tuple[Choice, str]], typed: str, norm: str, lang: str, question_id: str
    ) -> AnswerError:
        """The choices ``typed`` starts, each with the name it started when the label shown
        has no word that starts with it: « Carcinoïde (tumeur carcinoïde) » for 'tumeur'
        (« Carcinoïde » alone made "is the start of" false), but « Prednisolone
        (Solupred) » alone for 'solu'."""
        shown: list[str] = []
        for c, name in found:
            label = c.label.get(lang)
            if f" {typed}" in f" {_choice_key(label)}":
                shown.append(label)
            else:
                shown.append(f"{label} ({name})")
        return AnswerError(
            question_id, message("choice_ambiguous", lang, text=norm, choices=", ".join(shown))
        )

    def _parse_integer(self, q: Question, norm: str, lang: str) -> Value | AnswerError:
        words = self._words_re.get(q.id)
        if words is not None:
            norm = words.sub("", norm).strip() or norm
        m = re.fullmatch(rf"[+-]?[0-9]{{1,{_MAX_DIGITS}}}", norm)
        if not m or not _in_range(q, int(norm)):
            return AnswerError(q.id, self.expected(q, lang))
        return int(norm)

    def _parse_number(self, q: Question, raw: str, norm: str, lang: str) -> Value | AnswerError:
        m = _NUMBER_RE.match(norm)
        if not m:
            return AnswerError(q.id, self.expected(q, lang))
        rest = m.group("rest").strip()
        # '16 mg/j' at a daily dose asked in mg: the per-day is the question's own.
        per_day = self._without_per_day(q, _unit_key(rest)) if rest else ""
        if (
            rest
            and per_day
            and not (q.uln and _ULN_RE.match(rest))
            and not (q.default_unit and per_day == _unit_key(q.default_unit))
        ):
            if q.uln and _CONCENTRATION_RE.match(_unit_key(rest)):
                # '80 µmol/L' read off the lab sheet: the investigator did type a number,
                # so "type a number" would not say what is wrong.
                value_text = normalise_spaces(raw)
                return AnswerError(q.id, message("uln_concentration", lang, value=value_text))
            if q.default_unit and not q.uln:
                # '10 mg/semaine' where the dose is asked in mg: the unit is the problem,
                # not the number (the range message would say 10 is out of range).
                return self._unit_error(q, rest, q.default_unit, lang)
            return AnswerError(q.id, self.expected(q, lang))
        value = _to_float(m.group("num"))
        if value is None or not _in_range(q, value):
            if q.uln and value is not None and q.maximum is not None and value > q.maximum:
                # Far above any real multiple: most likely the lab value itself (a
                # creatinine of 80 µmol/L typed as 80), which would exclude the patient.
                hi = _fmt(q.maximum, lang)
                return AnswerError(
                    q.id, message("uln_too_high", lang, value=_fmt(value, lang), hi=hi)
                )
            return AnswerError(q.id, self.expected(q, lang))
        return value

    def _unit_list(self, q: Question) -> str:
        return ", ".join(self.protocol.unit_by_id[u].display for u in q.units)

    def _unit_for(self, q: Question, unit_text: str) -> Unit | None:
        """The unit named by ``unit_text`` (the default unit when there is none)."""
        key = self._without_per_day(q, _unit_key(unit_text)) if unit_text else ""
        if not key:
            return None if q.default_unit is None else self.protocol.unit_by_id[q.default_unit]
        return self._unit_index[q.id].get(key)

    def _parse_quantity(self, q: Question, raw: str, lang: str) -> Value | AnswerError:
        text = normalise(_caret_powers(raw))
        m = _LEADING_DIGITS_RE.match(text)
        if not m:
            return AnswerError(q.id, self.expected(q, lang))
        # Where the number ends depends on the unit: '1 500 /mm3' is one number, while in
        # '1.5 10^9/L' the '10' starts the unit.  Every split whose rest is a unit of this
        # question is a reading; those whose number does not fit the unit ('1,5 103' as a
        # count per mm³) drop out.
        lead = m.group()
        ends = [i for i in range(len(lead), 0, -1) if i == len(lead) or not lead[i].isdigit()]
        ends = [i for i in ends if lead[i - 1].isdigit()]
        readings: list[tuple[str, Unit]] = []
        for end in ends:
            unit = self._unit_for(q, text[end:].strip())
            if unit is not None:
                readings.append((lead[:end], unit))
        if not readings:
            unit_text = text[len(lead) :].strip()
            if not unit_text:
                return AnswerError(q.id, self.expected(q, lang))
            return self._unit_error(q, unit_text, self._unit_list(q), lang)
        valid = [
            (num, unit, number)
            for num, unit in readings
            if (number := self._number_in(num, unit)) is not None
        ]
        if not valid:
            # The longest reading's problem: '1,5/mm3' is a fractional count.
            num, unit = readings[0]
            if _is_count(unit):
                return AnswerError(
                    q.id,
                    message(
                        "count_whole", lang, number=num, unit=unit.display, units=self._unit_list(q)
                    ),
                )
            return AnswerError(q.id, self.expected(q, lang))
        num, unit, number = valid[0]
        for _, other, other_number in valid[1:]:
            if not math.isclose(other_number * other.factor, number * unit.factor):
                # '2 103/mm3': 2103 /mm³, or 2 ×10³/mm³?  Never pick one.
                return AnswerError(
                    q.id,
                    message(
                        "quantity_ambiguous",
                        lang,
                        text=normalise_spaces(raw),
                        first=f"{_fmt(number, lang)} {unit.display}",
                        second=f"{_fmt(other_number, lang)} {other.display}",
                    ),
                )
        value = number * unit.factor
        if number < 0 or not _in_range(q, value, unit):
            return AnswerError(
                q.id,
                message(
                    "quantity_range",
                    lang,
                    value=f"{_fmt(number, lang)} {unit.display}",
                    expected=_bounds_text(q, unit, number < 0, lang),
                ),
            )
        return Quantity(round(value, 6), unit.canonical, unit.kind, number, unit.display)

    @staticmethod
    def _number_in(num: str, unit: Unit) -> float | None:
        """The number ``num`` in ``unit``, or None when it cannot be one: a count is whole
        ('1,500' is 1500), elsewhere '1,5' has a decimal comma and spaces group thousands."""
        if _is_count(unit):
            count = _whole_count(num)
            return None if count is None else float(count)
        return _to_float(num) if re.fullmatch(_NUMBER, num) else None

    def _specials_text(self, q: Question, lang: str) -> str:
        """', or none' / ', none, or ongoing': the words as the question's help spells them
        (« aucune » for a radiotherapy), the last one after 'or'."""
        words = [special_word(q, s, lang) for s in q.specials]
        if not words:
            return ""
        last = message("or_words", lang, words=words[-1])
        return "".join(f", {w}" for w in words[:-1]) + last

    def _parse_date(
        self, q: Question, raw: str, norm: str, ctx: ParseContext
    ) -> Value | AnswerError:
        lang = ctx.lang
        word = _word(norm)
        if word in SPECIAL_WORDS["today"]:
            # Any date may be typed as "today"; only the words listed in specials differ.
            return self._check_date(q, ctx.today, ctx)
        if word in _YESTERDAY:
            return self._check_date(q, ctx.today - dt.timedelta(days=1), ctx)
        if word in _DAY_BEFORE_YESTERDAY:
            return self._check_date(q, ctx.today - dt.timedelta(days=2), ctx)
        ahead = _DAYS_AHEAD.get(_unaccented(word))
        if ahead is not None:
            later = ctx.today + dt.timedelta(days=ahead)
            if q.not_after_today:
                # « demain » for a lab date: the generic "please check 24/11/2026" would
                # quote a date the investigator never typed.
                shown = later.strftime("%d/%m/%Y")
                return AnswerError(
                    q.id, message("date_ahead_past_event", lang, text=raw, date=shown)
                )
            return self._check_date(q, later, ctx)
        ago = _days_ago(word) if q.not_after_today else None  # a start is ahead, not ago
        if ago is not None:
            return self._check_date(q, ctx.today - dt.timedelta(days=ago), ctx)
        relative = _DAY_BEFORE_START_RE.fullmatch(norm)
        if relative is not None and ctx.planned_start is not None and q.not_after_today:
            # 'J-3' / 'D-3': how French teams count days, from day 1 of treatment (the
            # planned start); only for dates of past events, counted back from it.
            back = dt.timedelta(days=int(relative["days"]))
            return self._check_date(q, ctx.planned_start - back, ctx)
        for special in q.specials:
            if special != "today" and _word(norm) in SPECIAL_WORDS[special]:
                return special
        day = parse_date(norm)
        weekday: int | None = None
        if day is None:
            norm, weekday = self._without_day_name(norm, ctx.today, q.not_after_today)
            day = parse_date(norm)
        if day is None:
            example = _with_likely_year(norm, ctx.today, q.not_after_today)
            if example is not None:
                # '12/11': on a phone the year is the part left out.  Guessing it is not
                # ours (a December exam typed in January), but the example shows the
                # likely one, to copy.
                shown = example.strftime("%d/%m/%Y")
                return AnswerError(q.id, message("date_no_year", lang, text=raw, example=shown))
            if _SPAN_RE.fullmatch(_unaccented(_word(norm)).replace("’", "'")):
                specials = self._specials_text(q, lang)
                return AnswerError(q.id, message("date_span", lang, text=raw, specials=specials))
            if _has_two_digit_year(norm):
                # Refused by design (a century to guess), but the generic message would
                # not say that the year is what is wrong.
                return AnswerError(q.id, message("date_two_digit_year", lang, text=raw))
            return AnswerError(q.id, self.expected(q, lang))
        if isinstance(day, str):
            return AnswerError(q.id, message("date_invalid", lang, text=raw))
        if weekday is not None and day.weekday() != weekday:
            # 'lundi 3 juin 2025': a mistyped day of the month is likelier than a mistyped
            # day of the week, so the date is what to check, and neither is picked.
            names = message("weekdays", lang).split(",")
            return AnswerError(
                q.id,
                message(
                    "date_weekday",
                    lang,
                    date=day.strftime("%d/%m/%Y"),
                    weekday=names[day.weekday()],
                    typed=names[weekday],
                ),
            )
        return self._check_date(q, day, ctx)

    @staticmethod
    def _without_day_name(norm: str, today: dt.date, past: bool) -> tuple[str, int | None]:
        """A date as said, without the 'le'/'on' and the day of the week before it:
        'mardi 3 juin 2025' -> ('3 juin 2025', 1), the weekday to check (Monday is 0).

        Only when what is left reads as a date, with or without its year: 'Mar 3, 2025'
        is the 3rd of March, and 'Mar 12' a March day without its year, not Tuesday the
        12th (``norm`` unchanged, no weekday).
        """
        m = _DAY_NAME_RE.fullmatch(_unaccented(norm))
        if m is None:
            return norm, None
        rest = m["rest"]
        if rest == _unaccented(norm):
            return norm, None
        if (
            parse_date(rest) is None
            and _with_likely_year(rest, today, past) is None
            and not _has_two_digit_year(rest)
        ):
            return norm, None
        weekday = m["weekday"]
        return rest, None if weekday is None else _WEEKDAYS[weekday]

    def _check_date(self, q: Question, day: dt.date, ctx: ParseContext) -> Value | AnswerError:
        """Refuse a date after the planned start, or after today for a past event.

        A lab date or a pregnancy-test date after today is a typo (17/06 for 17/05), and
        counted back from the start it makes stale results look fresh.  When a date is
        after both, the earlier bound is named: that is the one a correction must meet.
        """
        broken: list[tuple[dt.date, str]] = []
        if q.not_after_start and ctx.planned_start is not None and day > ctx.planned_start:
            broken.append((ctx.planned_start, "date_after_start"))
        if q.not_after_today and day > ctx.today:
            broken.append((ctx.today, "date_after_today"))
        if not broken:
            return day
        bound, key = min(broken)
        shown = bound.strftime("%d/%m/%Y")
        return AnswerError(
            q.id,
            message(key, ctx.lang, date=day.strftime("%d/%m/%Y"), start=shown, today=shown),
            after_start=key == "date_after_start",
        )

    def _parse_text(self, q: Question, raw: str, ctx: ParseContext) -> Value | AnswerError:
        lang = ctx.lang
        if q.pseudonym:
            # Checked and recorded in its one stored form (see normalise_patient_code).
            raw = normalise_patient_code(raw)
            # The date first: '12/03/1970' is how a birth date is typed, and "only letters,
            # digits and '-'" would invite '12-03-1970' next, never the screening code.
            if contains_date(raw, ctx.today):
                return AnswerError(q.id, message("pseudonym_date", lang))
        lo, hi = q.min_length or 1, q.max_length or 200
        if not lo <= len(raw) <= hi:
            key = "pseudonym_length" if q.pseudonym else "text_length"
            return AnswerError(q.id, message(key, lang, lo=lo, hi=hi))
        if q.pattern and not re.fullmatch(q.pattern, raw):
            return AnswerError(q.id, message("text_pattern", lang))
        if q.pseudonym:
            if not _CODE_RE.match(raw):
                return AnswerError(q.id, message("text_pattern", lang))
            if not any(ch.isdigit() for ch in raw):
                return AnswerError(q.id, message("pseudonym_digit", lang))
        return raw


def _per_day_questions(protocol: Protocol) -> frozenset[str]:
    """Questions whose label asks for an amount per day, in English or French ('Its daily
    dose, in mg?', « Sa dose quotidienne, en mg ? »).

    There a per-day suffix on a unit ('16 mg/j', '16 mg par jour') restates the question
    and is accepted; the protocol file has no other field that says so, and a question ID
    in code would not follow a version 2 of the file.
    """
    return frozenset(
        q.id
        for q in protocol.questions
        if q.type in _NUMERIC
        and any(_DAILY_LABEL_RE.search(_unaccented(label)) for label in (q.label.en, q.label.fr))
    )


def _choice_key(text: str) -> str:
    """A choice name as compared with what is typed: without case, accents, punctuation
    or underscores ('Asymptomatic, untreated' and 'asymptomatic_untreated' ->
    'asymptomatic untreated')."""
    return " ".join(re.sub(r"[\W_]+", " ", _unaccented(text)).split())


def _choice_keys(choice: Choice) -> set[str]:
    """Every name of a choice (value, labels, aliases) as :func:`_choice_key` makes it."""
    return {
        _choice_key(w) for w in (choice.value, choice.label.en, choice.label.fr, *choice.aliases)
    }


def _choice_name_matching(choice: Choice, typed: str, lang: str) -> str | None:
    """The name of ``choice`` that ``typed`` starts, as the protocol writes it: its label in
    ``lang`` when that matches, else the other label, an alias or the value; None when
    none does.  Words inside a name are not enough: 'non traitees' (untreated) also
    describes a symptomatic patient's metastases, and read as « Asymptomatiques, non
    traitées » it would pass an exclusion criterion on a guess."""
    names = (choice.label.get(lang), choice.label.en, choice.label.fr, *choice.aliases)
    for name in (*names, choice.value):
        if _choice_key(name).startswith(typed):
            return name
    return None


def _date_shaped(norm: str) -> bool:
    """Whether a refused number reads as a date ('23/11/2026', '2026-11-23', '12/05/25',
    '23 nov 2026'), to say that a number is asked rather than name '/11/2026' a unit."""
    return parse_date(norm) is not None or _TWO_DIGIT_YEAR_RE.match(norm) is not None


def _is_bare(text: str) -> bool:
    """A number with nothing after it ('90', '1,5')."""
    return re.fullmatch(_NUMBER, text) is not None


def _days_ago(word: str) -> int | None:
    """3 for 'il y a 3 jours' or '3 days ago', 14 for 'il y a 2 semaines'; None otherwise."""
    m = _AGO_RE.fullmatch(word)
    if m is None:
        return None
    count, unit = (m["fr"], m["fr_unit"]) if m["fr"] is not None else (m["en"], m["en_unit"])
    n = int(count) if count.isdigit() else _COUNT_WORDS[count]
    return n * 7 if unit in _WEEK_UNITS else n


def parse_date(text: str) -> dt.date | str | None:
    """A date from ISO, DD/MM/YYYY or month-name text ('23 novembre 2026', 'Nov 23, 2026');
    'invalid' for a well-formed impossible date.  A year is always four digits here: a
    two-digit year is a century to guess."""
    m = _ISO_RE.match(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _DMY_RE.match(text):
        d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        named = _named_month_dates(text, two_digit_year=False)
        if not named:
            return None
        y, mo, d = named[0]
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return "invalid"


def _unaccented(text: str) -> str:
    """'1er déc.' -> '1er dec.': month names are matched without case or accents."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).strip()


def _with_likely_year(text: str, today: dt.date, past: bool) -> dt.date | None:
    """A day and month typed without a year, dated in the year it most likely meant: the
    last such day up to today for a past event, else the next one from today.  None for
    anything else, or a day no year has (31/04)."""
    plain = _unaccented(text)
    if m := _DAY_MONTH_RE.match(plain):
        day, month = int(m[1]), int(m[2])
    elif m := _DAY_NAMED_MONTH_RE.match(plain):
        day, month = int(m[1]), _MONTHS.get(m[2], 0)
    elif m := _NAMED_MONTH_DAY_RE.match(plain):
        day, month = int(m[2]), _MONTHS.get(m[1], 0)
    else:
        return None
    for year in (today.year, today.year - 1 if past else today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue  # no such day, or 29/02 of a common year: try the other year
        if (candidate <= today) if past else (candidate >= today):
            return candidate
    return None


def _has_two_digit_year(text: str) -> bool:
    """Whether a date that :func:`parse_date` refused would read with a two-digit year
    ('12/05/25', '3 juin 25', 'June 3, 25'): refused by design, but the refusal should
    say that the year is what is wrong."""
    if _TWO_DIGIT_YEAR_RE.match(text):
        return True
    return bool(_named_month_dates(text)) and not _MONTH_YEAR_RE.match(text)


def _named_month_dates(text: str, two_digit_year: bool = True) -> list[tuple[int, int, int]]:
    """(year, month, day) readings of a date written with a month name; a two-digit year,
    where allowed, gives both centuries (see _years)."""
    plain = _unaccented(text)
    found: list[tuple[int, int, int]] = []
    if m := _DAY_MONTH_YEAR_RE.match(plain):
        day, name, year = m.groups()
    elif m := _MONTH_DAY_YEAR_RE.match(plain):
        name, day, year = m.groups()
    else:
        return found
    month = _MONTHS.get(name)
    if month is not None and (two_digit_year or len(year) == 4):
        found += [(y, month, int(day)) for y in _years(year)]
    return found


def _years(text: str) -> tuple[int, ...]:
    """The years a 2- or 4-digit year could be ('80' -> 1980 or 2080, '00' -> 1900 or
    2000: only 29 February tells the centuries apart, and either may be meant)."""
    if len(text) == 4:
        return (int(text),)
    if len(text) == 2:
        return (1900 + int(text), 2000 + int(text))
    return ()


def _any_date(candidates: list[tuple[int, int, int]]) -> bool:
    for y, mo, d in candidates:
        try:
            dt.date(y, mo, d)
        except ValueError:
            continue
        return True
    return False


def reads_as_date(code: str) -> bool:
    """Whether a code could be a date (a birth date is an identifier, not a pseudonym).

    Day-month-year and year-month-day, as 6 or 8 digits ('120380', '19800312') or in parts
    separated by '-', '/', '.' or a space with 1-2 digit day and month ('12-3-80',
    '1980.3.12'), and with a month name ('12NOV1980', 'NOV-12-80').
    It refuses whenever some reading is a calendar date: a false refusal
    costs a retype, a birth date stored as a pseudonym cannot be taken back.
    """
    text = code.strip()
    if isinstance(parse_date(text), dt.date):
        return True
    candidates: list[tuple[int, int, int]] = []
    parts = _DATE_PARTS_RE.match(text)
    if parts:
        a, b, c = parts.groups()
        if len(a) <= 2 and len(c) in (2, 4):  # D-M-Y
            candidates += [(y, int(b), int(a)) for y in _years(c)]
        if len(a) in (2, 4) and len(c) <= 2:  # Y-M-D
            candidates += [(y, int(b), int(c)) for y in _years(a)]
    digits = re.sub(r"[-/.]", "", text)
    if re.fullmatch(r"[0-9]{8}", digits):
        candidates += [
            (int(digits[4:]), int(digits[2:4]), int(digits[:2])),  # DDMMYYYY
            (int(digits[:4]), int(digits[4:6]), int(digits[6:])),  # YYYYMMDD
        ]
    elif re.fullmatch(r"[0-9]{6}", digits):
        candidates += [(y, int(digits[2:4]), int(digits[:2])) for y in _years(digits[4:])]
        candidates += [(y, int(digits[2:4]), int(digits[4:])) for y in _years(digits[:2])]
    candidates += _named_month_dates(text)  # '12NOV1980', '12-nov-80'
    return _any_date(candidates)


# A date inside a patient code ('P12031970', 'AB-12-03-1970', 'P12MARS1970'): see
# contains_date.  Lookaheads, so that overlapping readings are all tried ('1-12-03-1970').
_DATE_SEP = r"[-/._ ]"
_PARTS_INSIDE_RE = re.compile(
    rf"(?<![0-9])(?=([0-9]{{1,4}}){_DATE_SEP}([0-9]{{1,2}}){_DATE_SEP}([0-9]{{1,4}})(?![0-9]))"
)
_DIGIT_RUN_RE = re.compile(r"[0-9]+")
_NAMED_DMY_INSIDE_RE = re.compile(
    rf"(?<![0-9])(?=([0-9]{{1,2}})(?:er)?{_DATE_SEP}*([a-z]+)(?![a-z])\.?"
    rf"[-/._ ,]*([0-9]{{4}}|[0-9]{{2}})(?![0-9]))"
)
_NAMED_MDY_INSIDE_RE = re.compile(
    rf"(?<![a-z])(?=([a-z]+)(?![a-z])\.?{_DATE_SEP}*([0-9]{{1,2}})(?![0-9])"
    rf"(?:st|nd|rd|th)?[-/._ ,]*([0-9]{{4}}|[0-9]{{2}})(?![0-9]))"
)
# The oldest patient the protocol screens: the age question takes 0 to 120 years.
_OLDEST_AGE = 120


def contains_date(code: str, today: dt.date | None = None) -> bool:
    """Whether a patient code is a date or holds one: a birth date is an identifier.

    A code that is a date is refused by :func:`reads_as_date`, whatever the year.  Inside
    a longer code ('P12031970', 'AB-12-03-1970', 'P120370', 'X-12MARS1970'), a run is
    read as a date when it has a day, a month and a year that form a calendar date, with
    a year someone screened today could be born in (0 to 120 years before ``today``;
    a two-digit year is read in both centuries).  The forms:

    - day, month and year separated by '-', '/', '.', '_' or a space ('12-03-1970',
      '12/3/70', '1970.03.12'), year first or last, each part a whole run of digits;
    - eight digits, DDMMYYYY or YYYYMMDD, anywhere in a run of eight or more digits: a
      four-digit year from the last 120 years after a valid day and month is rare by
      chance (about 1 in 2,000 per place), so a date glued to a sequence number is
      still found;
    - six digits, DDMMYY or YYMMDD, only as a whole run of exactly six ('P120370'):
      with a two-digit year, some 7% of six-digit numbers read as a date, so a window
      inside a longer number ('P-1203701', a 10-digit sequence number) would refuse
      codes at random.  'P-123456' reads as no date (month 34) and is accepted;
    - a day, a month name and a year ('12MARS1970', '12-nov-80'), or the month first
      ('NOV-12-80'), the month name being a whole run of letters and the day a whole
      run of one or two digits ('JAN2024-15', 'NOV-2024-7' are no dates).

    A year alone ('P-1970'), a month and a year, or a number of four or five digits
    ('ACSE-12345') is a sequence number, not a birth date, and is accepted.  As with
    :func:`reads_as_date`, a false refusal costs a retype; a birth date stored as a
    pseudonym cannot be taken back.
    """
    if reads_as_date(code):
        return True
    today = today or dt.date.today()
    text = _unaccented(code)
    candidates: list[tuple[int, int, int]] = []
    for m in _PARTS_INSIDE_RE.finditer(text):
        a, b, c = m.groups()
        if len(a) <= 2 and len(c) in (2, 4):  # D-M-Y
            candidates += [(y, int(b), int(a)) for y in _years(c)]
        if len(a) in (2, 4) and len(c) <= 2:  # Y-M-D
            candidates += [(y, int(b), int(c)) for y in _years(a)]
    for run in _DIGIT_RUN_RE.findall(text):
        if len(run) == 6:
            candidates += [(y, int(run[2:4]), int(run[:2])) for y in _years(run[4:])]
            candidates += [(y, int(run[2:4]), int(run[4:])) for y in _years(run[:2])]
        for i in range(len(run) - 7):
            eight = run[i : i + 8]
            candidates.append((int(eight[4:]), int(eight[2:4]), int(eight[:2])))  # DDMMYYYY
            candidates.append((int(eight[:4]), int(eight[4:6]), int(eight[6:])))  # YYYYMMDD
    for m in _NAMED_DMY_INSIDE_RE.finditer(text):
        day, name, year = m.groups()
        if name in _MONTHS:
            candidates += [(y, _MONTHS[name], int(day)) for y in _years(year)]
    for m in _NAMED_MDY_INSIDE_RE.finditer(text):
        name, day, year = m.groups()
        if name in _MONTHS:
            candidates += [(y, _MONTHS[name], int(day)) for y in _years(year)]
    oldest = today.year - _OLDEST_AGE
    return _any_date([(y, mo, d) for y, mo, d in candidates if oldest <= y <= today.year])
