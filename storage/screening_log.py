"""The screening log a trial unit keeps: who was screened, with what outcome, and why not.

Why one row per patient and not per screening: a patient screened twice (a first
screening abandoned, a second one completed) is one screened patient; the log counts the
latest screening of each (protocol, patient code).  The chart is drawn with matplotlib's
object API on an Agg canvas (no pyplot, no display, no global state), so the bot can
draw it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from storage.models import AnswerRecord, Screening, Status, table
from storage.repository import Store

SCREENINGS = table(Screening)
ANSWERS = table(AnswerRecord)

OUTCOMES = ("eligible", "not_eligible", "incomplete", "in_progress", "abandoned")
OUTCOME_LABELS = {
    "eligible": "Eligible",
    "not_eligible": "Not eligible",
    "incomplete": "Incomplete",
    "in_progress": "In progress",
    "abandoned": "Abandoned",
}
NO_COHORT = "(no cohort)"


@dataclass(slots=True)
class ScreeningLog:
    """Counts per outcome, overall and per cohort, and failing criteria most frequent first."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive
    totals: Counter[str] = field(default_factory=Counter)
    by_cohort: dict[str, Counter[str]] = field(default_factory=dict)
    failing: Counter[str] = field(default_factory=Counter)

    @property
    def screened(self) -> int:
        return sum(self.totals.values())

    def top_failing(self, n: int = 10) -> list[tuple[str, int]]:
        return sorted(self.failing.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def outcome(status: str, verdict: str | None) -> str:
    """A screening's column in the log: its verdict once completed, else its status."""
    if status == Status.COMPLETED.value and verdict in ("eligible", "not_eligible", "incomplete"):
        return verdict
    if status == Status.ABANDONED.value:
        return "abandoned"
    return "in_progress"


def _failed(criteria: Any) -> list[str]:
    if not isinstance(criteria, dict):
        return []
    failed = []
    for cid, value in criteria.items():
        status = value.get("status") if isinstance(value, dict) else value
        if status == "fail":
            failed.append(str(cid))
    return failed


def compute_log(
    store: Store,
    since: dt.datetime | None = None,
    protocol_id: str | None = None,
    until: dt.datetime | None = None,
) -> ScreeningLog:
    """The log over screenings created from ``since`` and before ``until`` (open-ended
    where None): "the log for May" is a period, not only a start."""
    latest = sa.select(sa.func.max(SCREENINGS.c.id).label("id")).group_by(
        SCREENINGS.c.protocol_id, SCREENINGS.c.patient_code
    )
    if since is not None:
        latest = latest.where(SCREENINGS.c.created_at >= since)
    if until is not None:
        latest = latest.where(SCREENINGS.c.created_at < until)
    if protocol_id is not None:
        latest = latest.where(SCREENINGS.c.protocol_id == protocol_id)
    ids = latest.subquery()
    # The latest cohort answer of each screening: the highest seq for question "cohort".
    cohort_seq = (
        sa.select(ANSWERS.c.screening_id, sa.func.max(ANSWERS.c.seq).label("seq"))
        .where(ANSWERS.c.question_id == "cohort")
        .group_by(ANSWERS.c.screening_id)
        .subquery()
    )
    cohort = (
        sa.select(ANSWERS.c.screening_id, ANSWERS.c.value_json)
        .join(
            cohort_seq,
            sa.and_(
                ANSWERS.c.screening_id == cohort_seq.c.screening_id,
                ANSWERS.c.seq == cohort_seq.c.seq,
            ),
        )
        .subquery()
    )
    query = (
        sa.select(
            SCREENINGS.c.status,
            SCREENINGS.c.verdict,
            SCREENINGS.c.criteria_json,
            cohort.c.value_json.label("cohort"),
        )
        .join(ids, ids.c.id == SCREENINGS.c.id)
        .outerjoin(cohort, cohort.c.screening_id == SCREENINGS.c.id)
    )
    log = ScreeningLog(since=since, until=until)
    with store._read() as conn:
        for row in conn.execute(query):
            kind = outcome(row.status, row.verdict)
            name = row.cohort if isinstance(row.cohort, str) else NO_COHORT
            log.totals[kind] += 1
            log.by_cohort.setdefault(name, Counter())[kind] += 1
            if kind == "not_eligible":
                log.failing.update(_failed(row.criteria_json))
    return log


@dataclass(frozen=True, slots=True)
class ChartWords:
    """The chart's words, in its reader's language (storage has no catalogue: the caller
    words it; the defaults are the command line's English).  ``heading`` may use
    ``{title}`` and ``{n}``; ``cohorts`` maps a stored cohort code to its label."""

    heading: str = "{title}: {n} screened"
    outcomes: Mapping[str, str] = field(default_factory=lambda: dict(OUTCOME_LABELS))
    patients: str = "patients"
    no_screenings: str = "no screenings"
    failing: str = "Most frequent failing criteria"
    failing_axis: str = "not-eligible patients"
    no_failed: str = "no failed criteria"
    cohorts: Mapping[str, str] = field(default_factory=dict)


def render_png(
    log: ScreeningLog, title: str = "Screening log", words: ChartWords | None = None
) -> bytes:
    """Outcomes per cohort (stacked bars) and the most frequent failing criteria."""
    words = words or ChartWords()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    cohorts = sorted(log.by_cohort)
    names = [words.cohorts.get(c, c) for c in cohorts]
    bottoms = [0] * len(cohorts)
    colours = {
        "eligible": "#2e7d32",
        "not_eligible": "#c62828",
        "incomplete": "#f9a825",
        "in_progress": "#1565c0",
        "abandoned": "#9e9e9e",
    }
    for kind in OUTCOMES:
        values = [log.by_cohort[c][kind] for c in cohorts]
        if any(values):
            label = words.outcomes.get(kind, OUTCOME_LABELS[kind])
            left.bar(names, values, bottom=bottoms, label=label, color=colours[kind])
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    left.set_title(words.heading.format(title=title, n=log.screened))
    left.set_ylabel(words.patients)
    # Counts of patients: no tick at 0.25 of one.
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    left.tick_params(axis="x", labelrotation=30)
    if cohorts:
        left.legend(fontsize="small")
    else:
        left.text(0.5, 0.5, words.no_screenings, ha="center", va="center", transform=left.transAxes)
    top = log.top_failing(10)
    if top:
        criteria = [cid for cid, _ in reversed(top)]
        counts = [n for _, n in reversed(top)]
        right.barh(criteria, counts, color="#c62828")
    else:
        right.text(0.5, 0.5, words.no_failed, ha="center", va="center", transform=right.transAxes)
    right.set_title(words.failing)
    right.set_xlabel(words.failing_axis)
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
