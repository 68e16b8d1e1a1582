"""The protocol file: typed models, loading and validation.

A protocol is data.  Everything clinical (questions, units, criteria, interpretation
notes) lives in a YAML file; this module turns it into validated, immutable models and
refuses, with the file, the item ID and the problem, anything the engine could not run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dialogs.errors import ExpressionError, ProtocolError

LANGUAGES = ("en", "fr")
PROTOCOL_DIR = Path(__file__).parent / "protocols"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A user-facing string in every supported language."""

    en: str
    fr: str

    def get(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


class AnswerType(StrEnum):
    yesno = "yesno"
    choice = "choice"
    integer = "integer"
    number = "number"
    quantity = "quantity"
    date = "date"
    text = "text"


class Choice(_Model):
    value: str
    label: Text
    aliases: tuple[str, ...] = ()


class Unit(_Model):
    """A unit a quantity may be typed in, and how to reach the canonical unit."""

    id: str
    kind: str = Field(description="dimension, e.g. 'cells' or 'serum_creatinine'")
    canonical: str = Field(description="canonical unit id of this kind")
    factor: float = Field(gt=0, description="canonical = typed * factor")
    display: str
    aliases: tuple[str, ...]
    minimum: float | None = Field(
        default=None,
        ge=0,
        description="smallest plausible value in the canonical unit (raises the question's)",
    )
    maximum: float | None = Field(
        default=None,
        gt=0,
        description="largest plausible value in the canonical unit (lowers the question's)",
    )


class Question(_Model):
    id: str
    label: Text
    help: Text | None = None
    type: AnswerType
    required: bool = False
    when: str = "True"
    chat_only: bool = False
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    uln: bool = Field(default=False, description="accept 'x ULN' / 'LSN' suffixes")
    units: tuple[str, ...] = ()
    default_unit: str | None = None
    specials: tuple[Literal["none", "ongoing", "today"], ...] = ()
    not_after_start: bool = True
    not_after_today: bool = Field(
        default=False,
        description="a date of something that already happened (a lab draw, a last dose): "
        "a date after today is a typo, and would make stale results look fresh",
    )
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pseudonym: bool = Field(default=False, description="must contain a digit, not read as a date")
    words: tuple[str, ...] = Field(
        default=(),
        description="words written around an integer that add nothing to it, in any "
        "language: '54 ans', 'grade 2', 'ECOG 1'",
    )
    dated_by: str | None = Field(
        default=None,
        description="an earlier date question this value was measured on (a lab date): "
        "when that date changes, the value is asked again, with Keep",
    )

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("question id must be lower_snake_case")
        return v


class Computed(_Model):
    """A value derived from answers (prednisone equivalent, eGFR), shown with its inputs."""

    id: str
    expr: str
    unit: str = ""
    explain: Text
    announce: bool = Field(
        default=True, description="tell the investigator when an answer produces it"
    )


class Case(_Model):
    """An early outcome checked before the pass rule (lab freshness, not applicable…)."""

    when: str
    status: Literal["pass", "fail", "unknown", "not_applicable"]
    reason: Text


class Criterion(_Model):
    id: str
    kind: Literal["inclusion", "non_inclusion"]
    label: Text
    not_applicable: str | None = None
    not_applicable_reason: Text | None = None
    cases: tuple[Case, ...] = ()
    pass_: str = Field(alias="pass")
    explain: Text
    earliest_start: str | None = None
    notes: tuple[int, ...] = ()
    flag: str | None = Field(
        default=None, description="expression: when true, the summary flags it for review"
    )
    flag_reason: Text | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not re.match(r"^[IN]\d{2}$", v):
            raise ValueError("criterion id must look like I01 or N19")
        return v


class Note(_Model):
    number: int
    text: Text


class Protocol(_Model):
    id: str
    version: int
    title: Text
    languages: tuple[str, ...] = LANGUAGES
    order: tuple[str, ...]
    questions: tuple[Question, ...]
    units: tuple[Unit, ...] = ()
    constants: dict[str, Any] = Field(default_factory=dict)
    computed: tuple[Computed, ...] = ()
    criteria: tuple[Criterion, ...]
    notes: tuple[Note, ...] = ()
    sha256: str = ""
    source: str = ""

    @cached_property
    def question_by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    @cached_property
    def unit_by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.units}

    @cached_property
    def criterion_by_id(self) -> dict[str, Criterion]:
        return {c.id: c for c in self.criteria}

    @cached_property
    def ordered_questions(self) -> tuple[Question, ...]:
        return tuple(self.question_by_id[q] for q in self.order)

    @property
    def key(self) -> tuple[str, int, str]:
        """What identifies a protocol version: id, version and the file's SHA-256."""
        return (self.id, self.version, self.sha256)

    @cached_property
    def computed_deps(self) -> dict[str, frozenset[str]]:
        """Each computed value's question inputs, through other computed values."""
        from dialogs.expressions import names_in

        deps: dict[str, frozenset[str]] = {}
        for c in self.computed:
            names, _ = names_in(c.expr)
            direct = {n for n in names if n in self.question_by_id}
            for n in names:
                direct |= deps.get(n, frozenset())
            deps[c.id] = frozenset(direct)
        return deps

    @cached_property
    def when_dependents(self) -> dict[str, frozenset[str]] | None:
        """For each question, the questions to settle again when its answer changes.

        That is the question itself and every question whose ``when`` reads it, directly
        or through another such question: applicability turns a name into None or
        UNKNOWN, which later ``when``s read in turn.  Resolution uses it to avoid walking
        every ``when`` after each answer.  None when a ``when`` reads a question that is
        not strictly earlier, or cannot be read for names (validation refuses both): then
        only a full walk in question order says what that ``when`` sees.
        """
        from dialogs.expressions import names_in

        readers: dict[str, set[str]] = {qid: set() for qid in self.order}
        earlier: set[str] = set()
        for q in self.ordered_questions:
            try:
                names, _ = names_in(q.when)
            except ExpressionError:
                return None
            read = names & self.question_by_id.keys()
            if not read <= earlier:
                return None
            for n in read:
                readers[n].add(q.id)
            earlier.add(q.id)
        # Readers come later in the order, so walking it backwards closes each set.
        closed: dict[str, frozenset[str]] = {}
        for qid in reversed(self.order):
            deps = {qid}
            for r in readers[qid]:
                deps |= closed[r]
            closed[qid] = frozenset(deps)
        return closed

    @cached_property
    def dated_values(self) -> dict[str, frozenset[str]]:
        """For each date question that dates measurements, the questions measured on it
        (their ``dated_by``).  When the date changes (the labs were repeated), the values
        must be confirmed or typed anew: the dialog asks them again, each with Keep."""
        found: dict[str, set[str]] = {}
        for q in self.questions:
            if q.dated_by is not None:
                found.setdefault(q.dated_by, set()).add(q.id)
        return {qid: frozenset(deps) for qid, deps in found.items()}

    @cached_property
    def dated_value_ids(self) -> frozenset[str]:
        """Every question measured on a date question (all of ``dated_values``)."""
        return frozenset(q.id for q in self.questions if q.dated_by is not None)

    def note(self, number: int) -> Note:
        return next(n for n in self.notes if n.number == number)


def _pydantic_problem(err: ValidationError, data: Any) -> tuple[str | None, str]:
    """Turn pydantic's first error into (item id, problem) so the message names the item."""
    first = err.errors()[0]
    loc = list(first["loc"])
    item: str | None = None
    if (
        len(loc) >= 2
        and loc[0] in ("questions", "criteria", "units", "computed")
        and isinstance(loc[1], int)
    ):
        try:
            item = str(data[loc[0]][loc[1]].get("id", f"{loc[0]}[{loc[1]}]"))
        except (KeyError, IndexError, TypeError, AttributeError):
            item = f"{loc[0]}[{loc[1]}]"
        loc = loc[2:]
    where = ".".join(str(p) for p in loc)
    return item, f"{where}: {first['msg']}" if where else first["msg"]


def parse_protocol(text: str, source: str = "<string>") -> Protocol:
    """Parse and validate protocol YAML text.  Raises ProtocolError naming the problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProtocolError(source, None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(source, None, "the file must hold a mapping at the top level")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        protocol = Protocol.model_validate({**data, "sha256": digest, "source": source})
    except ValidationError as exc:
        item, problem = _pydantic_problem(exc, data)
        raise ProtocolError(source, item, problem) from exc
    # Imported here: validation needs the expression checker, which needs the models.
    from dialogs.validation import validate_protocol

    validate_protocol(protocol)
    return protocol


def load_protocol(path: str | Path) -> Protocol:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProtocolError(str(p), None, f"cannot read the file: {exc.strerror}") from exc
    return parse_protocol(text, str(p))


def bundled_protocols() -> Iterable[Path]:
    return sorted(PROTOCOL_DIR.glob("*.yaml"))


def default_protocol_path() -> Path:
    """The newest bundled AcSé protocol version."""
    paths = [p for p in bundled_protocols() if p.name.startswith("acse-pembrolizumab")]
    if not paths:
        raise ProtocolError(str(PROTOCOL_DIR), None, "no bundled protocol file")
    return paths[-1]
