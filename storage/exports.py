"""Exports of stored screenings: CSV (one row per screening) and JSON (full history).

Both carry what a coordinator reviews a screening by, beside the verdict: the planned
start, the earliest possible start of a patient not eligible yet, the criteria flagged
"to verify" (with their note) and the coordinators' review of the verdict (confirmed,
queried: who and when).  A CSV's columns are an interface other programs read by name
and by position: new columns go at the end, after the criterion columns.

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

from storage.coordination import Review
from storage.models import AnswerRecord, EventRecord, Screening, Status, User, table
from storage.repository import Store, _model

SCREENINGS = table(Screening)
ANSWERS = table(AnswerRecord)
EVENTS = table(EventRecord)
USERS = table(User)
REVIEWS = table(Review)

# The question whose answer every delay of the protocol counts back from.
PLANNED_START = "planned_start_date"

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
# After the criterion columns, so that the columns before them keep their positions.
CSV_REVIEW_COLUMNS = (
    "planned_start_date",
    "earliest_start",
    "flagged",
    "flag_notes",
    "review_status",
    "reviewed_by",
    "reviewed_at",
)
# A review action as the export words it: what happened to the verdict.
REVIEW_STATUS = {"confirm": "confirmed", "query": "queried", "reopen": "reopen_requested"}
NOT_REVIEWED = "none"


@dataclass(frozen=True, slots=True)
class ReviewExport:
    """A coordinator's decision on a screening, with the coordinator's name."""

    action: str
    coordinator_id: int
    coordinator: str
    at: dt.datetime
    comment: str | None = None
    question_id: str | None = None

    @property
    def status(self) -> str:
        return REVIEW_STATUS.get(self.action, self.action)


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
    reviews: list[ReviewExport] = field(default_factory=list)  # oldest first

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

    def planned_start(self) -> str | None:
        """The planned start date (ISO), from its current answer; None when not answered
        (yet), answered "unknown", or read with ``raw_values`` and not a date."""
        value = self.current_value(PLANNED_START)
        if isinstance(value, str):  # raw_values: the stored JSON text
            try:
                value = json.loads(value)
            except ValueError:
                return None
        date = value.get("date") if isinstance(value, Mapping) else None
        return date if isinstance(date, str) else None

    def current_review(self) -> ReviewExport | None:
        """The review that speaks for the verdict in the row, as /pending reads them: the
        first confirmation since the screening's (latest) completion, the sign-off; else
        the latest query since then; else None (a review of an earlier verdict does not
        confirm a new one).  A screening reopened or abandoned since has no verdict to
        review: its latest review says what became of its earlier one (queried, say)."""
        s = self.screening
        if s.status != Status.COMPLETED.value or s.completed_at is None:
            return self.reviews[-1] if self.reviews else None
        completed_at = s.completed_at
        since = [r for r in self.reviews if r.at >= completed_at]
        confirmed = [r for r in since if r.action == "confirm"]
        return confirmed[0] if confirmed else (since[-1] if since else None)


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
    with_reviews: bool = False,
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
    ``with_reviews`` adds the coordinators' review decisions (one more query per batch).
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
            if with_reviews:
                reviews = conn.execute(
                    sa.select(REVIEWS)
                    .where(REVIEWS.c.screening_id.between(first, last_id))
                    .order_by(REVIEWS.c.id)
                )
                for row in reviews:
                    target = exports.get(int(row.screening_id))
                    if target is not None:
                        coordinator = int(row.coordinator_id)
                        target.reviews.append(
                            ReviewExport(
                                row.action,
                                coordinator,
                                names.get(coordinator, str(coordinator)),
                                row.at,
                                row.comment,
                                row.question_id,
                            )
                        )
        yield from exports.values()


# -- criteria -------------------------------------------------------------------------------

# A screening's criteria as ``criteria_json`` stores them: ``{id: {"status", "reason",
# "earliest_start", "flagged", …}}`` (older rows: ``{id: status}``).
Criteria = Mapping[str, Any]
CriteriaOf = Callable[[ScreeningExport], Criteria]


def stored_criteria(item: ScreeningExport) -> Criteria:
    """The criteria stored with the verdict at completion; empty for an open screening."""
    data = item.screening.criteria_json
    return data if isinstance(data, Mapping) else {}


def statuses_of_criteria(criteria: Criteria) -> dict[str, str]:
    """Each criterion's status, from either stored shape."""
    statuses: dict[str, str] = {}
    for cid, value in criteria.items():
        if isinstance(value, Mapping) and isinstance(value.get("status"), str):
            statuses[str(cid)] = value["status"]
        elif isinstance(value, str):
            statuses[str(cid)] = value
    return statuses


def stored_statuses(item: ScreeningExport) -> dict[str, str]:
    """Criterion statuses as stored at completion (``{id: {"status": …}}`` or ``{id: status}``)."""
    return statuses_of_criteria(stored_criteria(item))


def flagged_of_criteria(criteria: Criteria) -> dict[str, str]:
    """The criteria flagged "to verify", with their note, in criterion order as stored:
    a criterion can pass and still need the coordinator's eye (asymptomatic untreated
    CNS metastases, N09), which the status columns alone never show."""
    return {
        str(cid): value["flagged"]
        for cid, value in criteria.items()
        if isinstance(value, Mapping) and isinstance(value.get("flagged"), str) and value["flagged"]
    }


def earliest_start_of_criteria(criteria: Criteria) -> str | None:
    """The earliest possible start (ISO date) of a patient not eligible yet: the latest of
    the failing criteria's dates when every failing criterion has one (a washout that
    will end), else None.  The engine's rule (``dialogs.evaluation``), read back from
    the stored criteria, as the verdict was."""
    fails = [
        value
        for value in criteria.values()
        if isinstance(value, Mapping) and value.get("status") == "fail"
    ]
    dates = [v.get("earliest_start") for v in fails]
    if not fails or not all(isinstance(d, str) and d for d in dates):
        return None
    return max(str(d) for d in dates)


# -- CSV ------------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str:
    return "" if value is None else value.isoformat()


def csv_columns(criterion_ids: Sequence[str]) -> list[str]:
    return [*CSV_FIXED_COLUMNS, *criterion_ids, *CSV_REVIEW_COLUMNS]


def _review_cells(item: ScreeningExport) -> list[str]:
    review = item.current_review()
    if review is None:
        return [NOT_REVIEWED, "", ""]
    return [review.status, review.coordinator, _iso(review.at)]


def write_csv(
    items: Iterable[ScreeningExport],
    out: TextIO,
    criterion_ids: Sequence[str],
    criteria_of: CriteriaOf = stored_criteria,
    on_row: Callable[[], None] | None = None,
) -> int:
    """One row per screening with each criterion's status, then what a review needs
    (:data:`CSV_REVIEW_COLUMNS`); returns the row count.

    ``items`` should carry the answers to the cohort and planned start questions and the
    reviews (``iter_screenings(..., with_reviews=True)``); without reviews every row
    reads "none".  Several flagged criteria are one cell each: ids separated by
    spaces, notes by " | " (a note may hold commas and semicolons).
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_columns(criterion_ids))
    count = 0
    for item in items:
        s = item.screening
        criteria = criteria_of(item)
        statuses = statuses_of_criteria(criteria)
        flagged = flagged_of_criteria(criteria)
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
                item.planned_start() or "",
                earliest_start_of_criteria(criteria) or "",
                " ".join(flagged),
                " | ".join(f"{cid}: {note}" for cid, note in flagged.items()),
                *_review_cells(item),
            ]
        )
        count += 1
        if on_row is not None:
            on_row()
    return count


# -- JSON -----------------------------------------------------------------------------------


def _screening_head(item: ScreeningExport) -> dict[str, Any]:
    s = item.screening
    criteria = stored_criteria(item)
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
        # What a review needs, as in the CSV (criteria as stored: a screening not
        # completed has no earliest start nor flags here).
        "planned_start_date": item.planned_start(),
        "earliest_start": earliest_start_of_criteria(criteria),
        "flagged": flagged_of_criteria(criteria),
        "review": _review_json(item.current_review()),
        "reviews": [_review_json(r) for r in item.reviews],
    }


def _review_json(review: ReviewExport | None) -> dict[str, Any]:
    if review is None:
        return {"status": NOT_REVIEWED}
    return {
        "status": review.status,
        "by": {"id": review.coordinator_id, "name": review.coordinator},
        "at": _iso(review.at),
        "comment": review.comment,
        "question_id": review.question_id,
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

    ``items`` must come from ``iter_screenings(..., raw_values=True, with_events=True,
    with_reviews=True)``.
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
