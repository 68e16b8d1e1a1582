"""Value types shared by the parser, the expression evaluator and the callers.

Answers are plain JSON-able data once serialised (see :func:`to_json` / :func:`from_json`)
so storage can keep the *parsed* value: re-parsing raw text later would change the meaning
of words like "today".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final


class _Unknown:
    """Kleene 'unknown': the answer is missing, was 'unknown', or is not valid for the date."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        # Truth-testing UNKNOWN is a bug in the evaluator: fail loudly rather than guess.
        raise TypeError("UNKNOWN has no truth value")

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


class Quantity(float):
    """A number converted to its dimension's canonical unit, remembering what was typed.

    Subclassing float keeps rules readable (``anc >= 1.0``) while ``.kind`` lets a rule
    tell a clearance from a serum creatinine typed into the same question.
    """

    unit: str
    kind: str
    input_value: float
    input_unit: str

    def __new__(
        cls, value: float, unit: str, kind: str, input_value: float, input_unit: str
    ) -> Quantity:
        obj = super().__new__(cls, value)
        obj.unit = unit
        obj.kind = kind
        obj.input_value = input_value
        obj.input_unit = input_unit
        return obj

    def __repr__(self) -> str:
        return f"Quantity({float(self)!r}, {self.unit!r}, {self.kind!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Quantity, (float(self), self.unit, self.kind, self.input_value, self.input_unit))


Value = str | int | float | Quantity | dt.date | _Unknown
"""A parsed answer: 'yes'/'no', a choice value, a number, a quantity, a date, a special
word ('none', 'ongoing'), or UNKNOWN."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One accepted answer: what was typed and what it means."""

    question_id: str
    raw: str
    value: Value

    @property
    def is_unknown(self) -> bool:
        return self.value is UNKNOWN


def to_json(value: Value) -> Any:
    """Serialise a parsed value to JSON-able data (storage keeps this, never re-parses)."""
    if value is UNKNOWN:
        return {"unknown": True}
    if isinstance(value, Quantity):
        return {
            "quantity": float(value),
            "unit": value.unit,
            "kind": value.kind,
            "input_value": value.input_value,
            "input_unit": value.input_unit,
        }
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def from_json(data: Any) -> Value:
    """Inverse of :func:`to_json`."""
    if isinstance(data, dict):
        if data.get("unknown"):
            return UNKNOWN
        if "quantity" in data:
            return Quantity(
                float(data["quantity"]),
                str(data["unit"]),
                str(data["kind"]),
                float(data["input_value"]),
                str(data["input_unit"]),
            )
        if "date" in data:
            return dt.date.fromisoformat(str(data["date"]))
        raise ValueError(f"not a serialised answer value: {data!r}")
    if isinstance(data, bool) or data is None:
        raise ValueError(f"not a serialised answer value: {data!r}")
    if isinstance(data, str | int | float):
        return data
    raise ValueError(f"not a serialised answer value: {data!r}")


def unit_of(value: Value) -> str | None:
    """The canonical unit of a quantity, for storage's unit column."""
    return value.unit if isinstance(value, Quantity) else None
