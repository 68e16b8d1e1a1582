"""Reminders for idle screenings, derived from the database rather than remembered.

Why derived: a timer held in memory dies with the process.  Instead a job (at start-up
and then every ``reminder_interval_minutes``) asks the database which screenings are
in progress, or completed as incomplete, and untouched for ``reminder_days``; each gets
a reminder queued in the outbox keyed by its idle-since timestamp.  A restart re-derives
the same list and the unique key refuses the duplicates, so none is lost and none is
sent twice; an investigator who answers in the meantime moves ``updated_at`` and the
queued reminder is skipped at send time.  A reminder is in its investigator's language
as of sending (their labels are queued in every language), like every pushed message.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping
from typing import Any

from bot.outbox_sender import in_every_language
from bot.screening_flow import answers_of, waiting
from bot.texts import t
from dialogs.display import question_label
from dialogs.engine import Engine
from dialogs.errors import ProtocolError
from dialogs.protocol import Protocol
from dialogs.registry import ProtocolRegistry
from storage import AnswerRecord, Screening, Store
from storage.coordination import IdleScreening, enqueue_reminder, idle_screenings


def engine_of(registry: ProtocolRegistry, screening: Screening) -> Engine | None:
    """The exact protocol version a screening runs on, or None when it is not loaded."""
    try:
        return registry.engine_for(
            screening.protocol_id, int(screening.protocol_version), screening.protocol_sha256
        )
    except (ProtocolError, ValueError):
        return None


def protocol_of(registry: ProtocolRegistry, screening: Screening) -> Protocol | None:
    engine = engine_of(registry, screening)
    return None if engine is None else engine.protocol


def pending_items(
    registry: ProtocolRegistry, screening: Screening, records: Mapping[str, AnswerRecord]
) -> tuple[list[str], list[str]]:
    """(questions still unanswered, questions answered "unknown"), in question order."""
    engine = engine_of(registry, screening)
    if engine is None:
        return [], []
    protocol = engine.protocol
    answers = answers_of(records)
    lang = screening.language or "en"
    to_confirm = screening.to_confirm or ()
    with engine.attached(screening.current_state, answers, lang, None, to_confirm) as conv:
        unknown = [
            q.id
            for q in protocol.ordered_questions
            if q.id in answers and answers[q.id].is_unknown and conv.applies(q.id) is True
        ]
        pending = waiting(conv)
    return pending, [q for q in unknown if q not in pending]


def reminder_payload(
    registry: ProtocolRegistry, store: Store, idle: IdleScreening, days: int
) -> dict[str, Any]:
    screening = idle.screening
    assert screening.id is not None
    pending, unknown = pending_items(registry, screening, store.current_answers(screening.id))
    protocol = protocol_of(registry, screening)

    def labels(ids: Iterable[str], lang: str) -> list[dict[str, str]]:
        if protocol is None:
            return [{"id": i, "label": i} for i in ids]
        return [{"id": i, "label": question_label(protocol, i, lang)} for i in ids]

    return {
        "screening_id": screening.id,
        "patient_code": screening.patient_code,
        "idle_since": idle.idle_since.isoformat(),
        "days": days,
        # The investigator's language is theirs at send time: labels in every language.
        **in_every_language(
            screening.language or "en",
            lambda lang: {"pending": labels(pending, lang), "unknown": labels(unknown, lang)},
        ),
    }


def enqueue_due_reminders(
    store: Store, registry: ProtocolRegistry, reminder_days: int, now: dt.datetime
) -> int:
    """Queue a reminder for every screening idle ``reminder_days``; returns how many were new."""
    cutoff = now - dt.timedelta(days=reminder_days)
    queued = 0
    for idle in idle_screenings(store, cutoff):
        # The days it has really waited: more than reminder_days when the job ran late
        # (the bot was down), and "waiting for 3 days" after ten misleads.
        days = max(reminder_days, (now - idle.idle_since).days)
        payload = reminder_payload(registry, store, idle, days)
        queued += enqueue_reminder(store, idle, payload)
    return queued


def render_reminder(
    store: Store, payload: Mapping[str, Any], lang: str | None = None
) -> str | None:
    """The reminder's text in ``lang`` (the reader's; default: the payload's own), or None
    when the screening moved since it was queued.  ``payload`` carries its labels in
    ``lang`` (see ``bot.outbox_sender.worded_in``)."""
    screening = store.get_screening(int(payload["screening_id"]))
    if screening.updated_at.isoformat() != payload["idle_since"]:
        return None
    lang = lang or str(payload.get("lang"))
    code = html.escape(screening.patient_code)
    lines = [t("reminder_title", lang, code=code, days=payload["days"])]
    for key in ("pending", "unknown"):
        items = payload.get(key) or []
        if items:
            lines.append("")
            lines.append(t(f"reminder_{key}", lang))
            # By label alone: an investigator knows no question IDs.
            lines.extend(f"• {html.escape(i['label'])}" for i in items)
    if not payload.get("pending") and not payload.get("unknown"):
        lines.append(t("reminder_nothing", lang, code=code))
    else:
        lines.append("")
        lines.append(t("reminder_resume", lang, code=code))
    return "\n".join(lines)
