"""Exports of stored screenings: CSV (one row per screening) and JSON (full history).

Why streaming: a trial unit's database can hold tens of thousands of screenings, and an
export must neither load them all nor hold one transaction per screening.  Screenings
are read in id-ordered batches with their answers and events fetched per batch (three
queries per batch, never one per screening), and each writer emits row by row, so memory
stays flat and 10,000 screenings take seconds (``bench/bench_export.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any, TextIO

import sqlalchemy as sa

from storage.models import AnswerRecord, EventRecord, Screening, User, table
from storage.repository import Store, _model

SCREENINGS = table(Screening)
ANSWERS = table(AnswerRecord)
EVENTS = table(EventRecord)
USERS = table(User)

BATCH = 500
CSV_FIXED_COLUMNS = (
    "screening_id",
    "patient_code",
    "protocol_id",
    "protocol_version",
    "cohort",
    "investigator",
    "status",
    "verdict",
    "created_at",
    "completed_at",
)


@dataclass(slots=True)
class ScreeningExport:
    """One screening with everything an export writes about it.

    Answers and events are the database rows themselves (attribute access, same names
    as :class:`AnswerRecord` / :class:`EventRecord`): validating hundreds of thousands
    of them into models would cost most of an export's time.
    """

    screening: Screening
    investigator: str
    answers: list[sa.Row[Any]] = field(default_factory=list)
    events: list[sa.Row[Any]] = field(default_factory=list)

    @property
    def id(self) -> int:
        assert self.screening.id is not None
        return self.screening.id

    def current_answers(self) -> dict[str, sa.Row[Any]]:
        current: dict[str, sa.Row[Any]] = {}
        for record in self.answers:  # ordered by seq: later answers replace earlier ones
            current[record.question_id] = record
        return current

    def current_value(self, question_id: str) -> Any:
        record = self.current_answers().get(question_id)
        return None if record is None else record.value_json


StatusesOf = Callable[[ScreeningExport], Mapping[str, str]]

# (protocol id, version, sha256): the exact protocol file a screening ran on.
ProtocolKey = tuple[str, str, str]


def protocol_key(screening: Screening) -> ProtocolKey:
    return (screening.protocol_id, screening.protocol_version, screening.protocol_sha256)


def changed_since(since: dt.datetime) -> sa.ColumnElement[bool]:
    """Screenings changed at or after ``since``: what an incremental export must carry.

    Why not ``created_at``: a screening started before the cut-off and completed, reopened
    or corrected after it would never reach an export "since my last visit".
    ``updated_at`` moves with every answer, completion, reopening and abandonment; a
    review or a query only appends an event (the screening row stays as it was), so an
    event at or after the cut-off counts as a change too (the JSON export carries it).
    """
    event = sa.select(EVENTS.c.id).where(
        EVENTS.c.screening_id == SCREENINGS.c.id, EVENTS.c.created_at >= since
    )
    return sa.or_(SCREENINGS.c.updated_at >= since, event.exists())


def _filtered(since: dt.datetime | None) -> sa.Select[Any]:
    query = sa.select(SCREENINGS)
    if since is not None:
        query = query.where(changed_since(since))
    return query


def count_screenings(store: Store, since: dt.datetime | None = None) -> int:
    """How many screenings an export will write (for the progress bar): with ``since``,
    those changed since then (:func:`changed_since`)."""
    query = sa.select(sa.func.count()).select_from(_filtered(since).subquery())
    with store._read() as conn:
        return int(conn.execute(query).scalar_one())


def iter_screenings(
    store: Store,
    since: dt.datetime | None = None,
    *,
    question_ids: Collection[str] | None = None,
    with_events: bool = False,
    raw_values: bool = False,
    batch: int = BATCH,
) -> Iterator[ScreeningExport]:
    """Screenings in id order with their answer history (and events), batch by batch.

    ``since``: only the screenings changed at or after it (:func:`changed_since`), each
    with its whole history, so a file stands on its own.

    ``question_ids`` limits the answers read to those questions (the CSV needs only the
    cohort), which matters when each screening has dozens of answers.  ``raw_values``
    leaves each answer's ``value_json`` as the stored JSON text, for a writer that copies
    it through: decoding and re-encoding every value is most of a JSON export's cost.
    """
    with store._read() as conn:
        names = {
            int(row.telegram_id): row.display_name or str(row.telegram_id)
            for row in conn.execute(sa.select(USERS.c.telegram_id, USERS.c.display_name))
        }
    last_id = 0
    while True:
        with store._read() as conn:
            rows = conn.execute(
                _filtered(since)
                .where(SCREENINGS.c.id > last_id)
                .order_by(SCREENINGS.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            exports = {
                int(row.id): ScreeningExport(
                    _model(Screening, row),
                    names.get(int(row.investigator_id), str(row.investigator_id)),
                )
                for row in rows
            }
            first, last_id = int(rows[0].id), int(rows[-1].id)
            columns: list[Any] = list(ANSWERS.c)
            if raw_values:
                columns = [
                    sa.cast(c, sa.Text).label(c.name) if c.name == "value_json" else c
                    for c in columns
                ]
            answers = (
                sa.select(*columns)
                .where(ANSWERS.c.screening_id.between(first, last_id))
                .order_by(ANSWERS.c.screening_id, ANSWERS.c.seq)
            )
            if question_ids is not None:
                answers = answers.where(ANSWERS.c.question_id.in_(list(question_ids)))
            for row in conn.execute(answers):
                target = exports.get(int(row.screening_id))
                if target is not None:
                    target.answers.append(row)
            if with_events:
                events = conn.execute(
                    sa.select(EVENTS)
                    .where(EVENTS.c.screening_id.between(first, last_id))
                    .order_by(EVENTS.c.id)
                )
                for row in events:
                    target = exports.get(int(row.screening_id))
                    if target is not None:
                        target.events.append(row)
        yield from exports.values()


# -- CSV ------------------------------------------------------------------------------------


def stored_statuses(item: ScreeningExport) -> dict[str, str]:
    """Criterion statuses as stored at completion (``{id: {"status": …}}`` or ``{id: status}``)."""
    data = item.screening.criteria_json
    if not isinstance(data, Mapping):
        return {}
    statuses: dict[str, str] = {}
    for cid, value in data.items():
        if isinstance(value, Mapping) and isinstance(value.get("status"), str):
            statuses[str(cid)] = value["status"]
        elif isinstance(value, str):
            statuses[str(cid)] = value
    return statuses


def _iso(value: dt.datetime | None) -> str:
    return "" if value is None else value.isoformat()


def csv_columns(criterion_ids: Sequence[str]) -> list[str]:
    return [*CSV_FIXED_COLUMNS, *criterion_ids]


def write_csv(
    items: Iterable[ScreeningExport],
    out: TextIO,
    criterion_ids: Sequence[str],
    statuses_of: StatusesOf = stored_statuses,
    on_row: Callable[[], None] | None = None,
) -> int:
    """One row per screening with each criterion's status; returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_columns(criterion_ids))
    count = 0
    for item in items:
        s = item.screening
        statuses = statuses_of(item)
        cohort = item.current_value("cohort")
        writer.writerow(
            [
                s.id,
                s.patient_code,
                s.protocol_id,
                s.protocol_version,
                cohort if isinstance(cohort, str) else "",
                item.investigator,
                s.status,
                s.verdict or "",
                _iso(s.created_at),
                _iso(s.completed_at),
                *(statuses.get(cid, "") for cid in criterion_ids),
            ]
        )
        count += 1
        if on_row is not None:
            on_row()
    return count


# -- JSON -----------------------------------------------------------------------------------


def _screening_head(item: ScreeningExport) -> dict[str, Any]:
    s = item.screening
    return {
        "screening_id": s.id,
        "patient_code": s.patient_code,
        "protocol_id": s.protocol_id,
        "protocol_version": s.protocol_version,
        "protocol_sha256": s.protocol_sha256,
        "investigator": {"id": s.investigator_id, "name": item.investigator},
        "status": s.status,
        "verdict": s.verdict,
        "current_state": s.current_state,
        "language": s.language,
        "created_at": _iso(s.created_at),
        "updated_at": _iso(s.updated_at),
        "completed_at": _iso(s.completed_at) or None,
        "criteria": s.criteria_json,
        "events": [
            {
                "id": e.id,
                "kind": e.kind,
                "user_id": e.user_id,
                "detail": e.detail,
                "at": _iso(e.created_at),
            }
            for e in item.events
        ],
    }


def _str(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _answer_json(a: sa.Row[Any]) -> str:
    """One answer from a raw-values row, formatted directly: the stored JSON value is
    copied through, and ``json.dumps`` per answer would be half the export's time."""
    return (
        f'{{"id": {_int(a.id)}, "seq": {_int(a.seq)}, "question_id": {_str(a.question_id)}, '
        f'"raw": {_str(a.raw)}, "value": {a.value_json}, "unit": {_str(a.unit)}, '
        f'"user_id": {_int(a.user_id)}, "at": {_str(_iso(a.created_at))}, '
        f'"supersedes_id": {_int(a.supersedes_id)}, "reason": {_str(a.reason)}}}'
    )


def write_json(
    items: Iterable[ScreeningExport],
    out: TextIO,
    on_row: Callable[[], None] | None = None,
) -> int:
    """Each screening with its whole audit trail: every answer in order (a change links
    to the answer it replaces by ``supersedes_id``) and every event; streamed.

    ``items`` must come from ``iter_screenings(..., raw_values=True, with_events=True)``.
    """
    out.write('{"format": "screenbot-screenings/1", ')
    out.write(f'"exported_at": {json.dumps(dt.datetime.now(dt.UTC).isoformat())}, ')
    out.write('"screenings": [')
    count = 0
    for item in items:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(_screening_head(item), ensure_ascii=False)[:-1])
        out.write(', "answers": [')
        out.write(", ".join(_answer_json(a) for a in item.answers))
        out.write("]}")
        count += 1
        if on_row is not None:
            on_row()
    out.write("\n]}\n")
    return count
