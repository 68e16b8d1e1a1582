"""The coordinator's side in Telegram: summaries, review buttons, queries, views and jobs.

Why it is shaped this way:
- Every message that must arrive (a summary, a query, a "reopened" notice, a reminder)
  is written to the outbox in the same transaction as the fact it reports, then
  delivered by :mod:`bot.outbox_sender`; nothing here sends such a message directly.
- The query dialogue keeps no memory: the coordinator answers a ForceReply prompt whose
  text names the screening, so a restart between the prompt and the reply loses nothing.
- A query points at an answer by the number /review and the prompt show it under
  ("#12 is this the latest count?"), or by its question id ("anc: …", for programs):
  coordinators know answers by label and position, never by id.  A number that is no
  answer of the screening sends nothing and asks again, the question kept to copy: a
  query pointing nowhere would only puzzle the investigator.
- Handlers run in group -1 and stop the update once handled, so the investigator flow in
  the default group never reads a coordinator's comment as an answer, nor an
  investigator's Telegram reply to a query message: that is their written response to
  the query, recognised by the message id the outbox kept when delivering it, and
  routed to the coordinator who asked (it may concern another patient than the
  investigator's current question).
- Revoked access ends everything: nothing is queued or delivered to a deactivated user,
  their buttons do nothing, and a query or reopening that would wait on a deactivated
  investigator is refused, the coordinator told.
- Database work runs in a worker thread (``asyncio.to_thread``): storage is synchronous
  and fsyncs, and the bot's event loop must keep serving other chats meanwhile.
- Every message is in its reader's language (their ``language``, else their Telegram
  client's, else the default): a French coordinator reads an English investigator's
  summary in French.  The completion's summary therefore carries its words in every
  language; the screening keeps the language it was recorded in.
- People are named as "Dr Martin (123456)": the name a reader knows, and the Telegram id
  the audit trail and ``screenbot users`` know them by.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import html
import io
import logging
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.cli_export import FORMATS, SUFFIX, Format, export_to, parse_since
from bot.handlers import split_text
from bot.keyboards import screening_data
from bot.outbox_sender import (
    Outgoing,
    Renderer,
    deliver_due,
    in_every_language,
    recipient_language,
    worded_in,
)
from bot.reminders import engine_of, enqueue_due_reminders, render_reminder
from bot.screening_flow import (
    CHANGED_AFTER_BACK,
    CHANGED_AFTER_REOPENING,
    answers_of,
    earliest_lines,
    reopen_at_open_items,
    untargeted_hint,
)
from bot.texts import (
    CATALOGUE,
    COMMANDS,
    COORDINATOR_COMMANDS,
    LANGUAGES,
    language_from,
    language_of,
    t,
)
from dialogs.answers import normalise_patient_code
from dialogs.display import question_label
from dialogs.engine import Engine
from dialogs.evaluation import Evaluation
from dialogs.registry import ProtocolRegistry
from dialogs.reopening import criterion_inputs
from dialogs.values import Answer, from_json
from storage import (
    AnswerRecord,
    DuplicatePatientCode,
    Role,
    Screening,
    ScreeningNotFound,
    ScreeningTx,
    Status,
    Store,
    User,
)
from storage.coordination import (
    MessageKind,
    OutboxMessage,
    QueryState,
    Review,
    ReviewAction,
    completion_confirmation,
    confirmation_of,
    confirmed_since,
    coordinators_to_answer,
    delivered_message,
    display_names,
    enqueue_abandoned_notice,
    enqueue_for,
    enqueue_for_investigator,
    enqueue_summary,
    find_by_code,
    get_review,
    investigator_name,
    pending_review,
    query_states,
    record_review,
    revision_of,
    user_is_active,
    user_name,
)
from storage.exports import ProtocolKey
from storage.models import EventRecord, utcnow
from storage.screening_log import (
    NO_COHORT,
    OUTCOMES,
    ChartWords,
    ScreeningLog,
    compute_log,
    render_png,
)

if TYPE_CHECKING:
    from bot.app import Services as AppServices

log = logging.getLogger(__name__)

Ctx = CallbackContext[Any, Any, Any, Any]
JobCallback = Callable[[Ctx], Coroutine[Any, Any, None]]
App = Application[Any, Any, Any, Any, Any, Any]

SERVICES_KEY = "coordinator.services"
OUTBOX_JOB = "coordinator-outbox"
REMINDER_JOB = "coordinator-reminders"
MENU_JOB = "coordinator-menus"
# Users are managed by the command line, in another process: the bot cannot be told.
MENU_REFRESH = 3600.0  # seconds
REVIEWERS = (Role.COORDINATOR, Role.ADMIN)
HANDLER_GROUP = -1
CALLBACK_PREFIX = "c"
MAX_MESSAGE = 4000  # Telegram's limit is 4096 characters; keep room for HTML entities
# /export: a file larger than this is sent gzipped (JSON and FHIR shrink ~20x), and one
# still over Telegram's upload limit for bots (50 MB) is not sent: the CLI writes it.
COMPRESS_ABOVE = 10 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1000 * 1000
_QUERY_MARK = re.compile(r"screening #(\d+)")
# A query's pointer: "#12", "# 12:" or "12:" (an answer's number in /review; "10:30" is a
# time, not answer 10), else "anc:" or "ANC :" (a question id, in any case).
_BY_NUMBER = re.compile(r"\s*(?:#\s*(\d+)\s*:?|(\d+)\s*:(?!\d))")
_BY_ID = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*:")
SUGGESTED = 8  # answers listed in a query prompt, at most
BUTTON_TEXT = 60  # characters of a button's text shown whole on a phone
# How a query message the bot delivered starts, in every language (see on_query_reply).
_QUERY_STARTS = tuple(
    template.split("{name}", 1)[0] for template in CATALOGUE["coord_query_received"].values()
)
# How the hint to a coordinator's line that replies to nothing starts (the flow sends it:
# ScreeningFlow._typed); a reply to the hint gets it again.
_HINT_STARTS = tuple(text[:40] for text in CATALOGUE["coord_plain_text_hint"].values())


def tr(key: str, lang: str | None, **fields: Any) -> str:
    """A coordinator message from the bot's catalogue (``coord_*`` keys in bot/texts.py)."""
    return t(f"coord_{key}", lang or "en", **fields)


def _e(value: Any) -> str:
    return html.escape(str(value))


def person(name: str | None, telegram_id: int | None) -> str:
    """How the bot names someone: "Dr Martin (123456)", or the id alone without a name.

    The name is what a reader recognises; the id is what the audit trail, the exports and
    ``screenbot users`` know the person by, so both are shown.  A payload queued before
    ids were carried (or a name that is the id, for a user without one) shows as it was.
    """
    shown = (name or "").strip()
    if telegram_id is None:
        return shown or "—"
    if not shown or shown == str(telegram_id):
        return str(telegram_id)
    return f"{shown} ({telegram_id})"


@dataclass(frozen=True, slots=True)
class CoordinatorServices:
    """What the coordinator features need, handed over by the application factory."""

    store: Store
    registry: ProtocolRegistry
    coordinator_chat_id: int | None = None
    reminder_days: int = 3
    reminder_interval: dt.timedelta = dt.timedelta(minutes=60)
    send_interval: float = 5.0
    clock: Callable[[], dt.datetime] = utcnow
    default_language: str = "en"

    @classmethod
    def from_settings(
        cls, settings: Any, store: Store, registry: ProtocolRegistry
    ) -> CoordinatorServices:
        """From ``bot.settings.Settings`` (typed Any so tests can pass a namespace)."""
        return cls(
            store=store,
            registry=registry,
            coordinator_chat_id=settings.coordinator_chat_id,
            reminder_days=settings.reminder_days,
            reminder_interval=dt.timedelta(minutes=settings.reminder_interval_minutes),
            default_language=language_from(getattr(settings, "default_language", None)),
        )


# -- the summary ------------------------------------------------------------------------------


def _worded(
    engine: Engine, evaluation: Evaluation, answers: Mapping[str, Answer], lang: str
) -> dict[str, Any]:
    """The parts of a summary that are words (cohort, criteria, reasons, computed values),
    in ``lang``; the rest of the payload is codes, ids, dates and the verdict."""
    protocol = engine.protocol
    cohort = answers.get("cohort")

    def criteria(results: Iterable[Any], reason: Callable[[Any], str]) -> list[dict[str, str]]:
        return [
            {
                "id": r.id,
                "label": protocol.criterion_by_id[r.id].label.get(lang),
                "reason": reason(r),
            }
            for r in results
        ]

    return {
        "cohort": engine.display("cohort", cohort.value, lang) if cohort else "—",
        "failed": criteria(evaluation.failed, lambda r: r.reason),
        "unknown": criteria(evaluation.unknown, lambda r: r.reason),
        "flagged": criteria(
            (r for r in evaluation.results.values() if r.flagged), lambda r: r.flagged
        ),
        "computed": [
            {"id": c.id, "text": c.text}
            for c in evaluation.computed.values()
            if c.value is not None and repr(c.value) != "UNKNOWN"
        ],
        # The earliest start and what would no longer hold on it, as the investigator
        # read it: "labs older than 14 days on that date" matters to whoever books it.
        "earliest_lines": earliest_lines(engine, evaluation, answers, lang),
    }


def summary_payload(
    screening: Screening,
    engine: Engine,
    evaluation: Evaluation,
    answers: Mapping[str, Answer],
    investigator: str,
    lang: str | None = None,
) -> dict[str, Any]:
    """Everything the summary shows, as JSON data, worded in ``lang`` (by default the
    screening's language); ``evaluation`` must be worded in ``lang`` too."""
    lang = lang or screening.language or "en"
    return {
        "screening_id": screening.id,
        "patient_code": screening.patient_code,
        "protocol_id": screening.protocol_id,
        "protocol_version": screening.protocol_version,
        "investigator": investigator,
        "investigator_id": screening.investigator_id,
        "verdict": evaluation.verdict,
        "lang": lang,
        **_worded(engine, evaluation, answers, lang),
        "earliest_start": evaluation.earliest_start.isoformat()
        if evaluation.earliest_start
        else None,
    }


def completion_payload(
    screening: Screening,
    engine: Engine,
    answers: Mapping[str, Answer],
    investigator: str,
) -> dict[str, Any]:
    """The summary queued at completion: worded in the screening's language, with its words
    in every other language under ``translations``, so that each coordinator reads it in
    their own.  Worded now, from this completion's answers: by the time it is sent, the
    screening may have been reopened and changed.

    Reasons are worded by the engine, so each language is an evaluation of its own (the
    flow's is in the investigator's current language, which /lang may have moved away
    from the screening's).
    """
    lang = screening.language or "en"
    worded = {other: engine.evaluate_answers(answers, other) for other in LANGUAGES}
    payload = summary_payload(screening, engine, worded[lang], answers, investigator, lang)
    payload["translations"] = {
        other: _worded(engine, worded[other], answers, other)
        for other in LANGUAGES
        if other != lang
    }
    return payload


def enqueue_completion_summary(
    tx: ScreeningTx, engine: Engine, coordinator_chat_id: int | None
) -> int:
    """Queue the summary to every coordinator; call right after ``tx.complete(...)``."""
    answers = answers_of(tx.current_answers())
    payload = completion_payload(tx.screening, engine, answers, investigator_name(tx))
    payload["ended_early"] = _ended_early(tx.last_event(_ENDING_EVENTS))
    return enqueue_summary(tx, payload, coordinator_chat_id)


# The latest of these says whether a completed screening ended at its first failed
# criterion (its other criteria were never asked) or was reopened since.
_ENDING_EVENTS = ("ended_at_first_fail", "reopened")


def _ended_early(last: EventRecord | None) -> bool:
    return last is not None and last.kind == "ended_at_first_fail"


def completion_hook(
    coordinator_chat_id: int | None,
) -> Callable[[ScreeningTx, Engine, Evaluation], int]:
    """The in-transaction completion hook for the investigator flow, bound to the settings."""

    def hook(tx: ScreeningTx, engine: Engine, evaluation: Evaluation) -> int:
        del evaluation  # worded in the investigator's language; the summary needs each
        return enqueue_completion_summary(tx, engine, coordinator_chat_id)

    return hook


def abandon_hook(coordinator_chat_id: int | None) -> Callable[[ScreeningTx, str], int]:
    """The in-transaction abandonment hook: a screening that had completed (its summary
    went to the coordinators, a coordinator may have confirmed it) and is now abandoned
    by its investigator is said to them; otherwise its verdict just vanished."""

    def hook(tx: ScreeningTx, lang: str) -> int:
        payload = {
            "patient_code": tx.screening.patient_code,
            "investigator": investigator_name(tx),
            "investigator_id": tx.screening.investigator_id,
            "verdict": tx.screening.verdict,
            "lang": lang,
        }
        return enqueue_abandoned_notice(tx, payload, coordinator_chat_id)

    return hook


def summary_text(payload: Mapping[str, Any], lang: str | None = None) -> str:
    """The summary as HTML, in ``lang`` (the reader's; default: the payload's own).

    The clinical words come from the payload's ``translations`` when it has ``lang``;
    a payload without (queued by an older version) keeps its own clinical words under a
    frame in ``lang``.
    """
    lang = lang or payload.get("lang") or "en"
    payload = worded_in(payload, lang)
    verdict = str(payload.get("verdict"))
    # /review of a screening reopened or in progress: its verdict is only "so far"; of
    # an abandoned one, what its answers read, never "completed".
    title = "summary_title"
    if payload.get("abandoned"):
        title = "summary_title_abandoned"
    elif payload.get("open"):
        title = "summary_title_open"
    lines = [
        tr(
            title,
            lang,
            code=_e(payload["patient_code"]),
            verdict=tr(verdict, lang) if f"coord_{verdict}" in CATALOGUE else _e(verdict),
        ),
        tr(
            "protocol",
            lang,
            protocol=_e(payload["protocol_id"]),
            version=_e(payload["protocol_version"]),
            cohort=_e(payload["cohort"]),
        ),
        tr(
            "investigator",
            lang,
            name=_e(person(payload["investigator"], payload.get("investigator_id"))),
        ),
    ]
    for key in ("failed", "unknown", "flagged"):
        items = payload.get(key) or []
        folded = key == "unknown" and (payload.get("ended_early") or payload.get("open"))
        if items and folded:
            # Never asked (ended at the first failed criterion) or not yet (in progress):
            # 33 lines of "not answered yet: <label>" made two messages of nothing.
            why = "unknown_not_asked" if payload.get("ended_early") else "unknown_to_come"
            ids = ", ".join(_e(i["id"]) for i in items)
            lines += ["", tr(why, lang, n=len(items), ids=ids)]
        elif items:
            lines += ["", tr(key, lang)]
            lines += [
                "• "
                + tr(
                    "item",
                    lang,
                    label=f"<b>{_e(i['id'])}</b> {_e(i['label'])}",
                    value=_e(i["reason"]),
                )
                for i in items
            ]
    if payload.get("computed"):
        lines += ["", tr("computed", lang)]
        lines += [f"• {_e(c['text'])}" for c in payload["computed"]]
    if payload.get("earliest_lines"):
        lines += ["", *(_e(line) for line in payload["earliest_lines"])]
    elif payload.get("earliest_start"):  # queued by an older version
        day = dt.date.fromisoformat(payload["earliest_start"]).strftime("%d/%m/%Y")
        lines += ["", tr("earliest", lang, date=day)]
    return "\n".join(lines)


def review_markup(screening_id: int, lang: str | None, revision: int) -> InlineKeyboardMarkup:
    """Confirm / Query / Reopen for one revision (completion) of the screening: pressed
    on an older summary, they are refused rather than act on a verdict never shown."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tr(action, lang),
                    callback_data=f"{CALLBACK_PREFIX}|{action}|{screening_id}|{revision}",
                )
                for action in ("confirm", "query", "reopen")
            ]
        ]
    )


def render_outbox(store: Store, default_language: str = "en") -> Renderer:
    """How each kind of outbox row reads in Telegram (called at send time, in a thread).

    Each message is in its recipient's language as of sending (:func:`recipient_language`:
    chosen, else their Telegram client's as last seen, else a default): a summary in the
    coordinator's (``default_language`` for one never seen, and for the group chat), a
    query, reopening or reminder in the investigator's (the screening's for one never
    seen: it came from their Telegram client).
    """

    def render(message: OutboxMessage) -> Outgoing | None:
        payload: Mapping[str, Any] = message.payload
        if message.kind == MessageKind.SUMMARY:
            lang = recipient_language(store, message.recipient, default_language)
            markup = review_markup(message.screening_id, lang, int(message.revision))
            return Outgoing(summary_text(payload, lang), markup)
        lang = recipient_language(store, message.recipient, payload.get("lang") or "en")
        payload = worded_in(payload, lang)
        if message.kind == MessageKind.REMINDER:
            text = render_reminder(store, payload, lang)
            return None if text is None else Outgoing(text)
        if message.kind == MessageKind.QUERY_RESPONSE:
            return Outgoing(*_response_text(store, message.screening_id, payload, lang))
        if message.kind == MessageKind.ABANDONED:
            name = person(payload["investigator"], payload.get("investigator_id"))
            return Outgoing(
                tr("abandoned_notice", lang, name=_e(name), code=_e(payload["patient_code"]))
            )
        code = _e(payload["patient_code"])
        coordinator = _e(person(payload["coordinator"], payload.get("coordinator_id")))
        if message.kind == MessageKind.QUERY:
            about = ""
            if payload.get("question_id"):
                about = tr(
                    "about",
                    lang,
                    label=_e(payload["question_label"]),
                    current=_e(payload.get("current") or "—"),
                )
            text = tr(
                "query_received",
                lang,
                name=coordinator,
                code=code,
                about=about,
                comment=_e(payload["comment"]),
            )
            if not payload.get("question_id"):
                # Pointing at no answer, a reopening would land on whichever question
                # comes first: the investigator answers in words (a reply to this
                # message), and the coordinator reopens or queries an answer if need be.
                return Outgoing(f"{text}\n\n{tr('query_how', lang)}")
            label = _fitted("reopen_at", lang, payload["question_label"], BUTTON_TEXT)
            button = InlineKeyboardButton(
                label, callback_data=f"{CALLBACK_PREFIX}|reopen_at|{payload['review_id']}"
            )
            text = f"{text}\n\n{tr('query_how_at', lang)}"
            return Outgoing(text, InlineKeyboardMarkup([[button]]))
        if message.kind == MessageKind.REOPENED:
            text = tr(
                "reopened_by",
                lang,
                name=coordinator,
                code=code,
                label=_e(payload["question_label"]),
            )
            return Outgoing(
                text, _continue_markup(message.screening_id, payload["patient_code"], lang)
            )
        log.error("outbox: unknown message kind %r (row %s)", message.kind, message.id)
        return None

    return render


def _fitted(key: str, lang: str, label: str, room: int) -> str:
    """A catalogue text naming ``label``, in at most ``room`` characters: a long label is
    cut at a word boundary, with "…", inside its quotes (a cut text would lose the
    closing quote, and half a word reads as another word)."""
    text = tr(key, lang, label=label)
    space = room - len(tr(key, lang, label="…"))
    if len(text) <= room or space < 1:
        return text[:room]
    head = label[:space]
    if " " in head and not label[space].isspace():  # the cut falls inside a word
        head = head[: head.rindex(" ")]
    if head.count("(") > head.count(")"):  # "(avec…" opens what it never closes
        head = head[: head.rindex("(")]
    return tr(key, lang, label=head.rstrip(" ,;:.–—-(") + "…")


def _response_text(
    store: Store, screening_id: int, payload: Mapping[str, Any], lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """An investigator's written reply to a query, as the coordinator reads it: with the
    review buttons of the screening as it is now when it is completed (the reply may
    settle the query: confirm it from here)."""
    about = ""
    if payload.get("question_label"):
        about = tr("response_about", lang, label=_e(payload["question_label"]))
    text = tr(
        "response_received",
        lang,
        name=_e(person(payload["investigator"], payload.get("investigator_id"))),
        code=_e(payload["patient_code"]),
        about=about,
        response=_e(payload["response"]),
        comment=_e(payload.get("comment") or "—"),
    )
    screening = store.get_screening(screening_id)
    if screening.status != Status.COMPLETED:
        return text, None
    return text, review_markup(screening_id, lang, revision_of(store, screening_id))


def _continue_markup(screening_id: int, patient_code: str, lang: str) -> InlineKeyboardMarkup:
    """The investigator flow's own "resume" button: it shows the reopened question."""
    label = tr("continue", lang, code=patient_code)
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label[:60], callback_data=screening_data("r", screening_id))]]
    )


# -- handlers -------------------------------------------------------------------------------------


def _services(context: Ctx) -> CoordinatorServices:
    return cast(CoordinatorServices, context.application.bot_data[SERVICES_KEY])


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sent the update: their user row (None for a stranger) and their language.

    Looked up once per update, so a refusal is in the refused person's language as much
    as an answer is in a coordinator's.
    """

    user: User | None
    lang: str

    @property
    def reviewer(self) -> User | None:
        """The user if an active coordinator or admin (who may review), else None."""
        user = self.user
        if user is None or not user.active or user.role not in REVIEWERS:
            return None
        return user


async def _actor(services: CoordinatorServices, update: Update) -> Actor:
    """The sender and the language to answer them in: chosen, else the client's of this
    update, else the one last seen, else the default.

    A coordinator's updates stop here, never reaching the flow that records the client's
    language for pushed messages (summaries, notices): it is recorded here too, written
    only when it changed.
    """
    who = update.effective_user
    if who is None:
        return Actor(None, services.default_language)
    store = services.store
    user = await asyncio.to_thread(store.get_user, who.id)
    code = who.language_code
    if user is None:
        return Actor(None, language_of(None, code, services.default_language))
    if user.active:
        user = await asyncio.to_thread(store.saw_telegram_language, user, code)
    code = code or user.telegram_language
    return Actor(user, language_of(user.language, code, services.default_language))


def _refusal(actor: Actor) -> str:
    """Why a coordinator's command or button is refused: a deactivated coordinator read
    "Coordinators only." and could not tell their access had been revoked."""
    user = actor.user
    if user is not None and not user.active and user.role in REVIEWERS:
        return tr("deactivated", actor.lang, user_id=user.telegram_id)
    return tr("refused", actor.lang)


def _person(user: User) -> str:
    return person(user.display_name, user.telegram_id)


async def _send_long(
    context: Ctx, chat_id: int, lines: Sequence[str], markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send lines as few messages as Telegram's length limit allows; buttons on the last."""
    chunks = split_text("\n".join(lines) or "—", MAX_MESSAGE)
    for i, chunk in enumerate(chunks):
        await context.bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if i == len(chunks) - 1 else None,
        )


async def on_button(update: Update, context: Ctx) -> None:
    """Confirm / Query / Reopen (coordinators) and Reopen-at (the investigator)."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    parts = query.data.split("|")
    if len(parts) not in (3, 4) or not all(p.isdigit() for p in parts[2:]):
        await query.answer()
        raise ApplicationHandlerStop
    action, target = parts[1], int(parts[2])
    revision = int(parts[3]) if len(parts) == 4 else None
    services = _services(context)
    actor = await _actor(services, update)
    lang = actor.lang
    notice: str | None = None
    if action == "reopen_at":
        notice = await _investigator_reopen(update, context, services, actor, target)
    elif (user := actor.reviewer) is None:
        notice = _refusal(actor)
    elif (refusal := await _not_current(services, lang, target, revision)) is not None:
        notice = refusal
    elif action == ReviewAction.CONFIRM:
        notice = await _confirm(update, context, services, user, lang, target)
    elif action == ReviewAction.QUERY:
        notice = await _ask_query(update, context, services, user, lang, target)
    elif action == ReviewAction.REOPEN:
        notice = await _coordinator_reopen(update, context, services, user, lang, target)
    await query.answer(notice[:190] if notice else None)
    raise ApplicationHandlerStop


async def _not_current(
    services: CoordinatorServices, lang: str, sid: int, revision: int | None
) -> str | None:
    """Why a review button no longer applies: the screening is open again, or completed
    again since its summary (a newer summary carries the buttons).  None if it applies.

    Checked before acting; Confirm and Reopen check the status again in their own
    transaction.
    """
    screening = await asyncio.to_thread(services.store.get_screening, sid)
    if screening.status == Status.ABANDONED:
        return tr("abandoned_since", lang, code=screening.patient_code)
    if screening.status != Status.COMPLETED:
        return tr("not_completed", lang)
    if revision is not None:
        current = await asyncio.to_thread(revision_of, services.store, sid)
        if current != revision:
            return tr("newer_summary", lang, code=screening.patient_code)
    return None


@dataclass(frozen=True, slots=True)
class AlreadyConfirmed:
    """A Confirm that changed nothing: the completion was confirmed before (by ``review``)."""

    review: Review
    name: str  # the confirmer's display name ("" when they have none)


async def _confirm(
    update: Update,
    context: Ctx,
    services: CoordinatorServices,
    user: User,
    lang: str,
    sid: int,
) -> str:
    """Confirm the screening's current completion, once.

    A double tap, a redelivered update (its id is claimed with the review) or a second
    coordinator's Confirm records nothing more: one completion has one sign-off, and the
    notice says whose, and when.
    """

    def work() -> str | AlreadyConfirmed | None:
        with services.store.screening_tx(sid) as tx:
            if tx.screening.status != Status.COMPLETED:
                return None
            claimed = tx.claim_update(update.update_id)
            earlier = completion_confirmation(tx)
            if earlier is not None:
                return AlreadyConfirmed(earlier, user_name(tx, earlier.coordinator_id))
            if not claimed:  # applied before, to a completion that is no longer current
                return None
            record_review(tx, user.telegram_id, ReviewAction.CONFIRM)
            return tx.screening.patient_code

    done = await asyncio.to_thread(work)
    if done is None:
        return tr("not_completed", lang)
    if isinstance(done, AlreadyConfirmed):
        screening = await asyncio.to_thread(services.store.get_screening, sid)
        when = when_text(done.review.at)
        if done.review.coordinator_id == user.telegram_id:
            return tr("already_confirmed_you", lang, code=screening.patient_code, when=when)
        name = person(done.name, done.review.coordinator_id)
        return tr("already_confirmed", lang, code=screening.patient_code, name=name, when=when)
    text = tr("confirmed", lang, code=_e(done), name=_e(_person(user)))
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
    return html.unescape(text)


@dataclass(frozen=True, slots=True)
class Pointing:
    """What a coordinator's query reply points at, and the question it asks.

    ``problem`` (a ``coord_*`` key) says why nothing may be sent yet: the number is no
    answer of the screening (``number``), or nothing follows the pointer.
    """

    question_id: str | None
    comment: str
    problem: str | None = None
    number: int | None = None


def point_at(text: str, numbered: Mapping[int, str], question_ids: Iterable[str]) -> Pointing:
    """Read a query reply: "#12 …" / "12: …" point at answer 12 (its number in /review: any
    version of an answer points at its question), "anc: …" at question ``anc`` (any case).

    The pointer is not part of the question the investigator reads.  A word before a
    colon that is no question id ("Note: …") is just the start of the question.
    """
    text = text.strip()
    if (by_number := _BY_NUMBER.match(text)) is not None:
        number = int(by_number.group(1) or by_number.group(2))
        rest = text[by_number.end() :].strip()
        question_id = numbered.get(number)
        if question_id is None:
            return Pointing(None, rest, "query_no_answer", number)
        return Pointing(question_id, rest, None if rest else "query_empty", number)
    ids = {q.lower(): q for q in question_ids}
    by_id = _BY_ID.match(text)
    if by_id is not None and by_id.group(1).lower() in ids:
        rest = text[by_id.end() :].strip()
        return Pointing(ids[by_id.group(1).lower()], rest, None if rest else "query_empty")
    return Pointing(None, text)


def _answer_line(engine: Engine | None, record: AnswerRecord, lang: str, when: str = "") -> str:
    """One answer as /review and the query prompt show it, numbered as a query points at
    it: "<b>#12</b> Age: 16" (HTML)."""
    qid = record.question_id
    if engine is None or qid not in engine.protocol.question_by_id:
        label = f"<code>{_e(qid)}</code>"
    else:
        label = _e(_question_name(engine, qid, lang))
    shown = _shown(engine, record, lang)
    return tr("item", lang, label=f"<b>#{record.seq}</b> {when}{label}", value=shown)


def _shown(engine: Engine | None, record: AnswerRecord, lang: str) -> str:
    """A recorded answer as the chat shows it (HTML-escaped); as typed without its protocol."""
    qid = record.question_id
    if engine is None or qid not in engine.protocol.question_by_id:
        return _e(record.raw)
    return _e(engine.display(qid, from_json(record.value_json), lang))


def _why_changed(reason: str | None, lang: str) -> str:
    """The change's audit reason, worded for the reader when the flow wrote it."""
    if not reason:
        return ""
    if reason.startswith(CHANGED_AFTER_REOPENING):
        return ", " + tr("after_reopening", lang)
    if reason.startswith(CHANGED_AFTER_BACK):
        return ", " + tr("after_back", lang)
    return f" — {_e(reason)}"


def _question_name(engine: Engine | None, question_id: str, lang: str) -> str:
    """A question named in a sentence (its label without "?"), or its id for want of one."""
    if engine is None or question_id not in engine.protocol.question_by_id:
        return question_id
    return question_label(engine.protocol, question_id, lang)


def _questioned(engine: Engine, records: Mapping[str, AnswerRecord]) -> list[AnswerRecord]:
    """The current answers behind the failing, unknown and flagged criteria, in the
    protocol's order: those a coordinator most likely queries."""
    protocol = engine.protocol
    evaluation = engine.evaluate_answers(answers_of(records))
    flagged = (r for r in evaluation.results.values() if r.flagged)
    behind: set[str] = set()
    for result in (*evaluation.failed, *evaluation.unknown, *flagged):
        behind |= criterion_inputs(protocol, result.id)
    return [records[q] for q in protocol.order if q in behind and q in records]


def _copyable(text: str, room: int) -> str:
    """``text`` as a tap-to-copy block of at most ``room`` characters of HTML, cut with "…"
    if need be (the re-prompt quotes the coordinator's whole message anyway)."""
    block = f"<code>{_e(text)}</code>"
    while len(block) > room and text:
        # Escaping lengthens text ("<" is "&lt;"): cut in proportion, at least one character.
        text = text[: min(len(text) - 1, len(text) * room // len(block))]
        block = f"<code>{_e(text)}…</code>"
    return block


def query_prompt(
    services: CoordinatorServices,
    sid: int,
    lang: str,
    notice: str | None = None,
    kept: str | None = None,
    asker: int | None = None,
) -> tuple[str, str]:
    """The query prompt (HTML) and its input field's placeholder, in ``lang``.

    It lists, numbered as in /review, the answers most likely queried; ``notice`` (why
    the previous reply sent nothing) comes first, ``kept`` (that reply's question, to
    copy) last.  ``asker`` (the coordinator it is for) reads their own confirmation as
    theirs, not as someone else's.
    """
    store = services.store
    screening = store.get_screening(sid)
    engine = engine_of(services.registry, screening)
    records = store.current_answers(sid)
    listed = _questioned(engine, records)[:SUGGESTED] if engine is not None else []
    example = listed[0].seq if listed else max((r.seq for r in records.values()), default=1)
    lines = [notice, ""] if notice else []
    confirmation = confirmation_of(store, screening)
    if confirmation is not None:
        # Asked after the completion was confirmed: the investigator's answer may reopen
        # a verdict someone signed off; the asker should know (and if it was them, be
        # told so, not named as a third person).
        when = when_text(confirmation.at)
        if confirmation.coordinator_id == asker:
            lines += [tr("query_on_confirmed_you", lang, when=when), ""]
        else:
            who = display_names(store, [confirmation.coordinator_id])
            name = _e(person(who.get(confirmation.coordinator_id), confirmation.coordinator_id))
            lines += [tr("query_on_confirmed", lang, name=name, when=when), ""]
    lines.append(tr("query_prompt", lang, sid=sid, code=_e(screening.patient_code), n=example))
    if listed:
        lines += ["", tr("query_answers", lang)]
        lines += [_answer_line(engine, r, lang) for r in listed]
    if kept:
        lines += ["", tr("query_kept", lang)]
        lines.append(_copyable(kept, MAX_MESSAGE - len("\n".join(lines)) - 1))
    return "\n".join(lines), tr("query_placeholder", lang, n=example)


async def _ask_query(
    update: Update,
    context: Ctx,
    services: CoordinatorServices,
    user: User,
    lang: str,
    sid: int,
) -> str | None:
    chat = update.effective_chat
    if chat is None:
        return None
    text, placeholder = await asyncio.to_thread(
        query_prompt, services, sid, lang, asker=user.telegram_id
    )
    await context.bot.send_message(
        chat.id,
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder),
    )
    return None


def _pointing(services: CoordinatorServices, sid: int, text: str) -> Pointing:
    """What a reply points at, in the screening's protocol and answers (none without its
    protocol: the whole text is then the question)."""
    engine = engine_of(services.registry, services.store.get_screening(sid))
    if engine is None:
        return Pointing(None, text.strip())
    numbered = {a.seq: a.question_id for a in services.store.answer_history(sid)}
    return point_at(text, numbered, engine.protocol.question_by_id)


async def _reply_about(
    update: Update, context: Ctx, services: CoordinatorServices, delivered: OutboxMessage
) -> None:
    """Let a reply to a message about one screening through only if that screening is
    the one in progress; otherwise say so and record nothing."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None

    def about() -> tuple[str, bool]:
        screening = services.store.get_screening(delivered.screening_id)
        current = services.store.find_open_screening(user.id)
        return screening.patient_code, current is not None and current.id == screening.id

    code, in_progress = await asyncio.to_thread(about)
    if in_progress:
        return
    actor = await _actor(services, update)
    await message.reply_text(tr("reply_other_screening", actor.lang, code=code))
    raise ApplicationHandlerStop


async def on_query_reply(update: Update, context: Ctx) -> None:
    """A text reply to one of the bot's messages that is part of a query.

    - A reply to a query message the bot delivered is the investigator's written answer
      to it: recorded on the queried screening and sent to the coordinator who asked,
      never read as an answer to the investigator's current question (which may be on
      another patient).  See :func:`_query_response`.
    - A coordinator's reply to a query prompt: record it, queue it for the investigator.
      A reply pointing at no answer sends nothing: the prompt comes again, saying why,
      with the question to copy.

    Any other reply goes on to the investigator flow.
    """
    message = update.effective_message
    if message is None or message.text is None:
        return
    prompt = message.reply_to_message
    if prompt is None or prompt.from_user is None or prompt.from_user.id != context.bot.id:
        return
    services = _services(context)
    chat = update.effective_chat
    if chat is not None:
        delivered = await asyncio.to_thread(
            delivered_message, services.store, chat.id, prompt.message_id
        )
        if delivered is not None and delivered.kind == MessageKind.QUERY:
            await _query_response(update, context, services, delivered)
            raise ApplicationHandlerStop
        if delivered is not None and delivered.kind == MessageKind.QUERY_RESPONSE:
            # A coordinator answering the investigator's reply: not a screening answer
            # ("No screening in progress" lost it); a new query is how to ask again.
            code = await asyncio.to_thread(
                lambda: services.store.get_screening(delivered.screening_id).patient_code
            )
            actor = await _actor(services, update)
            await message.reply_text(tr("response_reply_how", actor.lang, code=code))
            raise ApplicationHandlerStop
        if delivered is not None and delivered.kind in (
            MessageKind.REMINDER,
            MessageKind.REOPENED,
        ):
            # A reply to a reminder about P-0007 would go to the current question, which
            # may be P-0008's: only when it is that patient's screening does it go on.
            await _reply_about(update, context, services, delivered)
    mark = _QUERY_MARK.search(prompt.text or "")
    if mark is None:
        if (prompt.text or "").startswith(_QUERY_STARTS):
            # A query delivered before its message id was kept: which one it is cannot
            # be known, and it must not become an answer to the current question.
            actor = await _actor(services, update)
            await message.reply_text(tr("response_unmatched", actor.lang))
            raise ApplicationHandlerStop
        if (prompt.text or "").startswith(_HINT_STARTS):
            # A reply to the hint itself: it has no screening to go to either.
            await _query_hint(update, services)
        return  # a reply to some other prompt of the bot: not ours
    actor = await _actor(services, update)
    user = actor.reviewer
    if user is None:
        await message.reply_text(_refusal(actor))
        raise ApplicationHandlerStop
    sid = int(mark.group(1))
    lang = actor.lang
    pointing = await asyncio.to_thread(_pointing, services, sid, message.text)
    if pointing.problem is not None:

        def again(problem: str) -> tuple[str, str | None]:
            screening = services.store.get_screening(sid)
            refusal = _query_not_sent(screening, lang, message.text or "")
            if refusal is not None:  # no use asking again: it could not be sent anyway
                return refusal, None
            code = _e(screening.patient_code)
            last = screening.answer_count
            notice = tr(problem, lang, code=code, n=pointing.number, last=last)
            return query_prompt(
                services, sid, lang, notice, pointing.comment, asker=user.telegram_id
            )

        text, placeholder = await asyncio.to_thread(again, pointing.problem)
        await message.reply_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=None
            if placeholder is None
            else ForceReply(selective=True, input_field_placeholder=placeholder),
            do_quote=True,
        )
        raise ApplicationHandlerStop
    question_id, comment = pointing.question_id, pointing.comment

    def work() -> tuple[str, str | None] | str | None:
        """(code, the question's name) when sent; the refusal (HTML) when not; None when
        it was sent before (a redelivered update)."""
        screening = services.store.get_screening(sid)
        engine = engine_of(services.registry, screening)
        with services.store.screening_tx(sid) as tx:
            if not user_is_active(tx, tx.screening.investigator_id):
                return _e(_inactive_investigator(tx, lang))
            if not tx.claim_update(update.update_id):
                return None  # Telegram redelivered it: the query went once, and was said
            # Reopened by another coordinator, or abandoned, since the prompt: as for the
            # buttons, nothing is recorded or sent while it is not completed.
            refusal = _query_not_sent(tx.screening, lang, message.text or "")
            if refusal is not None:
                return refusal
            review = record_review(tx, user.telegram_id, ReviewAction.QUERY, comment, question_id)
            record = tx.current_answers().get(question_id) if question_id else None

            def words(lang: str) -> dict[str, Any]:
                if engine is None or question_id is None:
                    return {"question_label": None, "current": None}
                current = None
                if record is not None:
                    current = engine.display(question_id, from_json(record.value_json), lang)
                # Named in a sentence ("about « ECOG »"), so without its "?".
                name = _question_name(engine, question_id, lang)
                return {"question_label": name, "current": current}

            enqueue_for_investigator(
                tx,
                MessageKind.QUERY,
                str(review.id),
                {
                    "review_id": review.id,
                    "patient_code": tx.screening.patient_code,
                    "coordinator": user.display_name,
                    "coordinator_id": user.telegram_id,
                    "comment": comment,
                    "question_id": question_id,
                    **in_every_language(tx.screening.language or "en", words),
                },
            )
            about = _question_name(engine, question_id, lang) if question_id else None
            return tx.screening.patient_code, about

    done = await asyncio.to_thread(work)
    if done is None:
        raise ApplicationHandlerStop
    if isinstance(done, str):
        await message.reply_text(done, parse_mode=ParseMode.HTML)
        raise ApplicationHandlerStop
    code, about = done
    kick_sender(context.application)
    if about is None:
        await message.reply_text(tr("query_sent", lang, code=code))
    else:
        await message.reply_text(tr("query_sent_about", lang, code=code, label=about))
    raise ApplicationHandlerStop


def _query_not_sent(screening: Screening, lang: str, text: str) -> str | None:
    """Why a coordinator's reply to a query prompt cannot be sent (HTML), with their
    message to copy; None while the screening is completed.

    Between the prompt and the reply, another coordinator may have reopened the
    screening, or its investigator abandoned it: a query then asks about a verdict that
    no longer stands, and its reopen button would move a dialog already moving.
    """
    if screening.status == Status.COMPLETED:
        return None
    key = "query_after_abandon" if screening.status == Status.ABANDONED else "query_after_reopen"
    lines = [tr(key, lang, code=_e(screening.patient_code)), "", tr("query_kept", lang)]
    lines.append(_copyable(text.strip(), MAX_MESSAGE - len("\n".join(lines)) - 1))
    return "\n".join(lines)


def _inactive_investigator(tx: ScreeningTx, lang: str) -> str:
    """Why nothing was sent: the screening's investigator was deactivated.  The query (or
    reopening) is not recorded either, so the screening stays in /pending for whoever
    takes it over."""
    name = person(investigator_name(tx), tx.screening.investigator_id)
    return tr("investigator_inactive", lang, name=name, code=tx.screening.patient_code)


async def _query_response(
    update: Update, context: Ctx, services: CoordinatorServices, delivered: OutboxMessage
) -> None:
    """The investigator's written reply to a query message (a Telegram reply to it).

    Recorded as a ``query_response`` event on the queried screening (who, the text, which
    query), queued to the coordinator who asked (every coordinator when that one is no
    longer active), and confirmed to the investigator naming the patient.  Nothing in the
    screening changes: an answer is changed through the query's button, where the
    investigator sees the question.  A redelivered update records nothing twice.
    """
    message = update.effective_message
    assert message is not None and message.text is not None
    store = services.store
    actor = await _actor(services, update)
    lang, user = actor.lang, actor.user
    if user is None or not user.active:
        who = update.effective_user
        key = "refused_short" if user is None else "revoked_short"
        await message.reply_text(t(key, lang, user_id=who.id if who else "?"))
        return
    review = await asyncio.to_thread(get_review, store, int(delivered.revision))
    if review is None or review.screening_id != delivered.screening_id:
        await message.reply_text(tr("response_unmatched", lang))
        return
    response = message.text.strip()

    def work() -> tuple[str, bool]:
        screening = store.get_screening(review.screening_id)
        engine = engine_of(services.registry, screening)
        question_id = review.question_id
        with store.screening_tx(review.screening_id) as tx:
            recipients = coordinators_to_answer(
                tx, review.coordinator_id, services.coordinator_chat_id
            )
            asker_only = recipients == [review.coordinator_id]
            if not tx.claim_update(update.update_id):
                return tx.screening.patient_code, asker_only  # redelivered: done before
            event = tx.log_event(
                "query_response",
                user.telegram_id,
                {"review_id": review.id, "text": response},
            )

            def words(other: str) -> dict[str, Any]:
                if engine is None or question_id not in engine.protocol.question_by_id:
                    return {"question_label": question_id}
                return {"question_label": _question_name(engine, question_id, other)}

            enqueue_for(
                tx,
                recipients,
                MessageKind.QUERY_RESPONSE,
                str(event.id),
                {
                    "review_id": review.id,
                    "patient_code": tx.screening.patient_code,
                    "investigator": user.display_name,
                    "investigator_id": user.telegram_id,
                    "comment": review.comment,
                    "question_id": question_id,
                    "response": response,
                    **in_every_language(tx.screening.language or "en", words),
                },
            )
            return tx.screening.patient_code, asker_only

    code, asker_only = await asyncio.to_thread(work)
    kick_sender(context.application)
    if asker_only:
        names = await asyncio.to_thread(display_names, store, [review.coordinator_id])
        to = tr(
            "to_person",
            lang,
            name=_e(person(names.get(review.coordinator_id), review.coordinator_id)),
        )
    else:
        to = tr("to_coordinators", lang)
    await message.reply_text(
        tr("response_sent", lang, code=_e(code), to=to), parse_mode=ParseMode.HTML, do_quote=True
    )


class ProtocolNotLoaded(LookupError):
    """The screening's protocol file (id, version, sha256) is not loaded: it cannot be
    reopened (nothing could ask its questions); raised out of the transaction, so the
    review recorded before it is rolled back too."""


def _reopen(
    services: CoordinatorServices, tx: ScreeningTx, preferred: str | None, user_id: int, reason: str
) -> tuple[Engine, str]:
    """Reopen (or, if already open, move) the screening at the right question."""
    engine = engine_of(services.registry, tx.screening)
    if engine is None:
        raise ProtocolNotLoaded(f"protocol of screening {tx.screening_id} is not loaded")
    state, _ = reopen_at_open_items(tx, engine, preferred, user_id, reason)
    return engine, state


async def _coordinator_reopen(
    update: Update,
    context: Ctx,
    services: CoordinatorServices,
    user: User,
    lang: str,
    sid: int,
) -> str:
    def work() -> str:
        with services.store.screening_tx(sid) as tx:
            if tx.screening.status != Status.COMPLETED:
                return tr("not_completed", lang)
            if not user_is_active(tx, tx.screening.investigator_id):
                # Reopened, it would wait on someone who can no longer answer it.
                return _inactive_investigator(tx, lang)
            review = record_review(tx, user.telegram_id, ReviewAction.REOPEN)
            engine, state = _reopen(services, tx, None, user.telegram_id, "coordinator reopened")
            enqueue_for_investigator(
                tx,
                MessageKind.REOPENED,
                str(review.id),
                {
                    "review_id": review.id,
                    "patient_code": tx.screening.patient_code,
                    "coordinator": user.display_name,
                    "coordinator_id": user.telegram_id,
                    "question_id": state,
                    **in_every_language(
                        tx.screening.language or "en",
                        lambda other: {"question_label": _question_name(engine, state, other)},
                    ),
                },
            )
            label = _question_name(engine, state, lang)
            return tr("reopened", lang, code=tx.screening.patient_code, label=label)

    try:
        notice = await asyncio.to_thread(work)
    except DuplicatePatientCode:
        return tr("other_open", lang)
    except ProtocolNotLoaded:
        return tr("protocol_not_loaded", lang)
    kick_sender(context.application)
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, _e(notice), parse_mode=ParseMode.HTML)
    return notice


async def _investigator_reopen(
    update: Update,
    context: Ctx,
    services: CoordinatorServices,
    actor: Actor,
    review_id: int,
) -> str:
    """The investigator's "reopen at" button on a query; ``actor`` is the presser.

    Refused, with nothing changed, to anyone but the screening's active investigator,
    for a query pointing at no answer (a reply in words answers it), and once the query
    is settled: the screening abandoned, completed again since, or confirmed by a
    coordinator since (a confirmed verdict never changes behind the coordinators' backs).
    Checked under the screening's lock, so a confirmation cannot slip in between.
    """
    lang = actor.lang
    who = actor.user
    if who is None or not who.active:
        user = update.effective_user
        key = "refused_short" if who is None else "revoked_short"
        return t(key, lang, user_id=user.id if user else "?")
    review = await asyncio.to_thread(get_review, services.store, review_id)
    if review is None or review.action != ReviewAction.QUERY:
        return tr("not_yours", lang)

    def work() -> tuple[str, str | None]:
        """(notice, the question reopened at: None when refused)."""
        with services.store.screening_tx(review.screening_id) as tx:
            screening = tx.screening
            if screening.investigator_id != who.telegram_id:
                return tr("not_yours", lang), None
            if review.question_id is None:
                return tr("query_no_question", lang), None
            if screening.status == Status.ABANDONED:
                return tr("abandoned", lang), None
            completed_at = screening.completed_at
            if screening.status == Status.COMPLETED and completed_at and completed_at > review.at:
                # Answered: the screening was completed again since the query.
                return tr("query_settled", lang), None
            if confirmed_since(tx, review.at) is not None:
                return tr("query_confirmed", lang, code=screening.patient_code), None
            engine, state = _reopen(
                services,
                tx,
                review.question_id,
                who.telegram_id,
                f"coordinator query #{review.id}",
            )
            label = _question_name(engine, state, lang)
            return tr("reopened", lang, code=screening.patient_code, label=label), label

    try:
        notice, label = await asyncio.to_thread(work)
    except DuplicatePatientCode:
        return tr("other_open", lang)
    except ProtocolNotLoaded:
        return tr("protocol_not_loaded", lang)
    if label is None:
        return notice
    screening = await asyncio.to_thread(services.store.get_screening, review.screening_id)
    chat = update.effective_chat
    if chat is not None:
        assert screening.id is not None
        # Reopened, it is the screening typed answers go to, though the question on
        # screen may be another patient's: say so (a "oui" meant for that one would land
        # on this one).
        await context.bot.send_message(
            chat.id,
            tr("reopened_typed_here", lang, code=_e(screening.patient_code), label=_e(label)),
            parse_mode=ParseMode.HTML,
            reply_markup=_continue_markup(screening.id, screening.patient_code, lang),
        )
    return notice


async def _query_hint(update: Update, services: CoordinatorServices) -> None:
    """Say how a query is sent, the coordinator's text kept to copy; stops the update."""
    message = update.effective_message
    assert message is not None and message.text is not None
    actor = await _actor(services, update)
    hint = untargeted_hint(message.text.strip(), actor.lang, MAX_MESSAGE)
    await message.reply_text(hint, do_quote=True)
    raise ApplicationHandlerStop


async def _refuse_unless_coordinator(update: Update, context: Ctx) -> tuple[User, str]:
    """The acting coordinator (or admin) and their language; anyone else is refused."""
    actor = await _actor(_services(context), update)
    user = actor.reviewer
    if user is None:
        message = update.effective_message
        if message is not None:
            await message.reply_text(_refusal(actor))
        raise ApplicationHandlerStop
    return user, actor.lang


async def help_command(update: Update, context: Ctx) -> None:
    """/help from a coordinator or admin: the investigator's help, then their own commands.

    Runs before the investigator flow (group -1): anyone else falls through to the flow's
    own /help (or its refusal), unchanged.
    """
    actor = await _actor(_services(context), update)
    chat = update.effective_chat
    if actor.reviewer is None or chat is None:
        return
    text = f"{t('help', actor.lang)}\n\n{tr('help', actor.lang)}"
    await context.bot.send_message(chat.id, text)
    raise ApplicationHandlerStop


async def pending_command(update: Update, context: Ctx) -> None:
    """/pending: completed screenings no coordinator has confirmed since their latest
    completion, those with a query marked (open, or answered in words): a query is no
    sign-off, and one left unanswered must not drop out of sight."""
    _user, lang = await _refuse_unless_coordinator(update, context)
    items = await asyncio.to_thread(pending_review, _services(context).store)
    chat = update.effective_chat
    assert chat is not None
    if not items:
        await context.bot.send_message(chat.id, tr("no_pending", lang))
        raise ApplicationHandlerStop
    lines = [tr("pending", lang, n=len(items))]
    # Two investigators may use one code for two patients: /review CODE opens one of
    # them (the latest completed), so a screening it would not open is pointed at by its
    # number, whether the other is still pending or already reviewed.
    store = _services(context).store

    def opened_by_code() -> set[int]:
        found = (find_by_code(store, code) for code in {s.patient_code for s in items})
        return {f.id for f in found if f is not None and f.id is not None}

    by_code = await asyncio.to_thread(opened_by_code)
    # A queried screening stays here until confirmed: say which still wait on a query.
    queries = await asyncio.to_thread(query_states, store, items)
    marks = {QueryState.OPEN: tr("pending_query_open", lang)}
    marks[QueryState.ANSWERED] = tr("pending_query_answered", lang)
    for s in items:
        when = when_text(s.completed_at) if s.completed_at else ""
        verdict = s.verdict or "—"
        if f"coord_{verdict}" in CATALOGUE:
            verdict = tr(verdict, lang)
        target = s.patient_code if s.id in by_code else f"#{s.id}"
        state = queries.get(s.id) if s.id is not None else None
        mark = f" · {_e(marks[state])}" if state is not None else ""
        lines.append(
            f"• <b>{_e(s.patient_code)}</b> · {_e(verdict)} · {when}{mark} · /review {_e(target)}"
        )
    await _send_long(context, chat.id, lines)
    raise ApplicationHandlerStop


def when_text(moment: dt.datetime) -> str:
    """A time as coordinators read it: with its year (the history is compared with source
    documents, years later) and its zone: stored times are UTC, and the bot has no
    site zone to convert them to."""
    return f"{moment.astimezone(dt.UTC):%d/%m/%Y %H:%M} UTC"


def _status_word(status: str, lang: str) -> str:
    key = f"coord_status_{status}"
    return t(key, lang) if key in CATALOGUE else status


def _verdict_word(verdict: str | None, lang: str) -> str:
    verdict = verdict or "—"
    return tr(verdict, lang) if f"coord_{verdict}" in CATALOGUE else verdict


def review_lines(services: CoordinatorServices, screening: Screening, lang: str) -> list[str]:
    """The summary as of now, every answer in order with its changes, and the reviews
    with what followed them, in the reader's language ``lang`` (the screening keeps its
    own)."""
    store = services.store
    assert screening.id is not None
    engine = engine_of(services.registry, screening)
    history = store.answer_history(screening.id)
    lines: list[str] = []
    if engine is not None:
        answers = answers_of(store.current_answers(screening.id))
        evaluation = engine.evaluate_answers(answers, lang)
        investigator = store.get_user(screening.investigator_id)
        name = investigator.display_name if investigator is not None else ""
        payload = summary_payload(screening, engine, evaluation, answers, name, lang)
        payload["open"] = screening.status == Status.IN_PROGRESS
        payload["abandoned"] = screening.status == Status.ABANDONED
        payload["ended_early"] = screening.status == Status.COMPLETED and _ended_early(
            store.last_event(screening.id, _ENDING_EVENTS)
        )
        lines.append(summary_text(payload, lang))
    else:
        lines.append(f"<b>{_e(screening.patient_code)}</b> {tr('no_protocol', lang)}")
    status = _status_word(screening.status, lang)
    lines += [tr("status", lang, status=_e(status)), "", tr("history", lang)]
    by_id = {a.id: a for a in history}
    replaced_by = {a.supersedes_id: a for a in history if a.supersedes_id}
    for a in history:
        line = _answer_line(engine, a, lang, f"{when_text(a.created_at)} ")
        previous = by_id.get(a.supersedes_id) if a.supersedes_id else None
        if previous is not None:
            # The old value as the chat shows values (not as typed: "2026-11-14"), and
            # why in the reader's language (the trail keeps the English audit reason).
            was = tr("changed", lang, raw=_shown(engine, previous, lang))
            line += f" ({was}{_why_changed(a.reason, lang)})"
        elif a.reason:
            line += f" — {_e(a.reason)}"
        later = replaced_by.get(a.id) if a.id is not None else None
        if later is not None:
            # Scrolling down a long history, an old answer must not read as current.
            line += f" {tr('replaced_by', lang, n=later.seq)}"
        lines.append(line)
    trail = _trail(store, engine, screening.id, history, lang)
    if trail:
        lines += ["", tr("reviews", lang), *trail]
    return lines


# Events /review lists after the answers: the reviews (their events carry the review's
# comment and question) and what the investigator did after a completion.
_TRAIL = frozenset(
    {
        *("completed", "confirmed", "queried", "reopen_requested"),
        *("query_response", "reopened", "kept", "abandoned"),
    }
)
_REVIEW_EVENTS = {"confirmed": "confirm", "queried": "query", "reopen_requested": "reopen"}


def _trail(
    store: Store,
    engine: Engine | None,
    sid: int,
    history: Sequence[AnswerRecord],
    lang: str,
) -> list[str]:
    """The reviews and how each query was settled, in order, from the audit trail.

    A query is followed by what answered it, marked "↳": the investigator's written
    reply, the reopening at its question, the answer kept or changed, the new completion.
    Answers changed after the first completion are listed too (the history above has
    every answer; here they are placed among the decisions).  Nothing is listed for a
    screening never completed.
    """
    events = [e for e in store.events(sid) if e.kind in _TRAIL]
    if not any(e.kind == "completed" for e in events):
        return []
    first_completion = next(e.created_at for e in events if e.kind == "completed")
    by_id = {a.id: a for a in history}
    changes = [a for a in history if a.supersedes_id and a.created_at > first_completion]
    users = {e.user_id for e in events if e.user_id is not None} | {a.user_id for a in changes}
    names = display_names(store, users)

    def who(user_id: int | None) -> str:
        return person(names.get(user_id) if user_id is not None else None, user_id)

    def detail(item: Any) -> dict[str, Any]:
        return item if isinstance(item, dict) else {}

    items: list[tuple[dt.datetime, int, str]] = []
    answering = False  # since a query, until the screening is completed or abandoned
    for e in events:
        d = detail(e.detail)
        mark = "↳ " if answering and e.kind not in _REVIEW_EVENTS else ""
        if e.kind in _REVIEW_EVENTS:
            text = _reviewed(_REVIEW_EVENTS[e.kind], lang, who(e.user_id))
            if d.get("question_id"):
                text += f" [{_e(_question_name(engine, str(d['question_id']), lang))}]"
            if d.get("comment"):  # "[ECOG] : …" in French, as every "label: value"
                text = tr("review_comment", lang, text=text, comment=_e(d["comment"]))
            answering = e.kind == "queried" or (answering and e.kind != "confirmed")
        elif e.kind == "query_response":
            text = t(
                "coord_event_response",
                lang,
                name=_e(who(e.user_id)),
                text=_e(d.get("text") or ""),
            )
        elif e.kind == "reopened" and d.get("reason") == "coordinator reopened":
            continue  # the coordinator's Reopen, listed as their review just before
        elif e.kind == "reopened":
            label = _question_name(engine, str(d.get("state") or "—"), lang)
            text = t("coord_event_reopened", lang, name=_e(who(e.user_id)), label=_e(label))
        elif e.kind == "kept":
            label = _question_name(engine, str(d.get("question_id") or "—"), lang)
            text = t("coord_event_kept", lang, name=_e(who(e.user_id)), label=_e(label))
        elif e.kind == "completed":
            if e.created_at == first_completion:
                mark = ""
            verdict = _verdict_word(d.get("verdict"), lang)
            text = t("coord_event_completed", lang, name=_e(who(e.user_id)), verdict=_e(verdict))
            answering = False
        else:  # abandoned
            text = t("coord_event_abandoned", lang, name=_e(who(e.user_id)))
            answering = False
        items.append((e.created_at, 0, f"• {when_text(e.created_at)} {mark}{text}"))
    for a in changes:
        previous = by_id.get(a.supersedes_id) if a.supersedes_id else None
        name = _question_name(engine, a.question_id, lang)
        text = t(
            "coord_event_changed",
            lang,
            name=_e(who(a.user_id)),
            label=_e(name),
            old=_e(previous.raw if previous is not None else "—"),
            new=_e(a.raw),
        )
        items.append((a.created_at, 1, f"• {when_text(a.created_at)} ↳ {text}"))
    items.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line in items]


def _reviewed(action: str, lang: str, who: str) -> str:
    """One decision in /review: "✅ confirmed by Dr Martin (123456)"."""
    key = f"coord_reviewed_{action}"
    if key in CATALOGUE:
        return t(key, lang, name=_e(who))
    return f"{_e(action)}: {_e(who)}"  # an action this version does not know


async def review_command(update: Update, context: Ctx) -> None:
    """/review CODE: the summary and the full answer history, with the review buttons."""
    _user, lang = await _refuse_unless_coordinator(update, context)
    chat = update.effective_chat
    assert chat is not None
    if not context.args:
        await context.bot.send_message(chat.id, tr("review_usage", lang))
        raise ApplicationHandlerStop
    services = _services(context)
    code = normalise_patient_code(" ".join(context.args))  # stored in this form
    number = re.fullmatch(r"#\s*([0-9]{1,12})", code)
    screening: Screening | None
    if number is not None:  # /review #12: one screening, by its number in /pending
        try:
            screening = await asyncio.to_thread(services.store.get_screening, int(number[1]))
        except ScreeningNotFound:
            screening = None
    else:
        screening = await asyncio.to_thread(find_by_code, services.store, code)
    if screening is None or screening.id is None:
        if number is not None:  # a number, not a code: "no screening with code #999" misled
            text = tr("not_found_number", lang, n=number[1])
        else:
            text = tr("not_found", lang, code=code)
        await context.bot.send_message(chat.id, text)
        raise ApplicationHandlerStop
    lines = await asyncio.to_thread(review_lines, services, screening, lang)
    markup = None
    if screening.status == Status.COMPLETED:
        revision = await asyncio.to_thread(revision_of, services.store, screening.id)
        markup = review_markup(screening.id, lang, revision)
    await _send_long(context, chat.id, lines, markup)
    raise ApplicationHandlerStop


# A date as the chat asks for it everywhere: DD/MM/YYYY (also with "." or "-").
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def chat_moment(text: str) -> dt.datetime | None:
    """A /log or /export date: DD/MM/YYYY as everywhere else in the chat, YYYY-MM-DD, or
    an ISO timestamp (a date is midnight UTC); None when unreadable, so the command says
    so rather than quietly show another period."""
    text = text.strip()
    if (match := _DMY.fullmatch(text)) is not None:
        try:
            day = dt.date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            return None
        return dt.datetime.combine(day, dt.time(), dt.UTC)
    try:
        return parse_since(text)
    except argparse.ArgumentTypeError:
        return None


def _is_day(moment: dt.datetime) -> bool:
    return moment.astimezone(dt.UTC).time() == dt.time()


def _moment_text(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%d/%m/%Y}" if _is_day(moment) else when_text(moment)


@dataclass(frozen=True, slots=True)
class Period:
    """The screenings a /log covers, by start (creation) time, as ``screenbot log --since``
    counts the patients screened in a period: from ``since``
    and before ``until`` (None: open-ended).  ``end`` is the end as the coordinator typed
    it (a day counts whole), for the reply to say which period it shows."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    end: dt.datetime | None = None

    def text(self, lang: str) -> str:
        if self.since is None and self.end is None:
            return tr("period_all", lang)
        start = _moment_text(self.since) if self.since is not None else "—"
        if self.end is None:
            return tr("period_since", lang, start=start)
        return tr("period_range", lang, start=start, end=_moment_text(self.end))


@dataclass(frozen=True, slots=True)
class PeriodProblem:
    """Why a command's dates give no period: a catalogue key and its fields."""

    key: str
    fields: Mapping[str, str]


def period_of(dates: Sequence[str]) -> Period | PeriodProblem:
    """The period of a command's date arguments (start, then an optional end: a day
    counts whole), or what is wrong with them: an argument that is no date, an end
    before the start, more than two dates."""
    if len(dates) > 2:
        return PeriodProblem("too_many_dates", {})
    moments: list[dt.datetime] = []
    for arg in dates:
        moment = chat_moment(arg)
        if moment is None:
            return PeriodProblem("not_a_date", {"arg": arg})
        moments.append(moment)
    if not moments:
        return Period()
    since = moments[0]
    if len(moments) == 1:
        return Period(since)
    end = moments[1]
    until = end + dt.timedelta(days=1) if _is_day(end) else end
    if until <= since:
        return PeriodProblem("end_before_start", {"start": dates[0], "end": dates[1]})
    return Period(since, until, end)


def cohort_names(registry: ProtocolRegistry, codes: Iterable[str], lang: str) -> dict[str, str]:
    """The label of each stored cohort code, in ``lang``, from the first loaded protocol
    that knows it (a code none knows stays as stored)."""
    names: dict[str, str] = {NO_COHORT: tr("log_no_cohort", lang)}
    engines = [e for e in registry.engines() if "cohort" in e.protocol.question_by_id]
    for code in codes:
        if code == NO_COHORT:  # display() would hand it back unchanged, in English
            continue
        for engine in engines:
            try:
                names[code] = engine.display("cohort", code, lang)
                break
            except (KeyError, LookupError, TypeError, ValueError):
                continue
    return names


def log_lines(screening_log: ScreeningLog, lang: str, names: Mapping[str, str]) -> str:
    """The log for a phone, in ``lang`` (HTML): one line per cohort, then the total, each
    with its outcomes that are not zero.  An aligned table of six columns was ~115
    characters wide, and wrapped into an unreadable grid on a phone."""

    def line(name: str, screened: int, counts: Mapping[str, int]) -> str:
        outcomes = " · ".join(
            f"{tr(f'outcome_{k}', lang).lower()} {counts[k]}" for k in OUTCOMES if counts[k]
        )
        head = f"<b>{_e(name)}</b> — {tr('log_screened', lang).lower()} {screened}"
        return tr("log_line", lang, head=head, outcomes=_e(outcomes)) if outcomes else head

    rows = [
        line(names.get(cohort, cohort), sum(counts.values()), counts)
        for cohort, counts in sorted(
            screening_log.by_cohort.items(), key=lambda item: names.get(item[0], item[0])
        )
    ]
    rows.append(line(tr("log_total", lang), screening_log.screened, screening_log.totals))
    return "\n".join(rows)


def _log_caption(n: int, lang: str) -> str:
    return tr("log_caption_one", lang) if n == 1 else tr("log_caption", lang, n=n)


def chart_words(n: int, lang: str, names: Mapping[str, str]) -> ChartWords:
    """The chart's words in ``lang`` (storage draws it, the catalogue words it)."""
    heading = _log_caption(n, lang).replace("{", "{{").replace("}", "}}")
    return ChartWords(
        heading=heading,
        outcomes={k: tr(f"outcome_{k}", lang) for k in OUTCOMES},
        patients=tr("chart_patients", lang),
        no_screenings=tr("chart_empty", lang),
        failing=tr("chart_failing", lang),
        failing_axis=tr("chart_failing_axis", lang),
        no_failed=tr("chart_no_failed", lang),
        cohorts=names,
    )


async def log_command(update: Update, context: Ctx) -> None:
    """/log [FROM [TO]]: the screening log as a table, then as a chart, in the reader's
    language, saying which period it covers.  A date that cannot be read shows nothing
    and says so: a log of another period than asked, unannounced, would be misread."""
    _user, lang = await _refuse_unless_coordinator(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = list(context.args or [])
    period = period_of(args)
    if isinstance(period, PeriodProblem):
        why = tr(period.key, lang, **period.fields)
        await context.bot.send_message(chat.id, f"{tr('log_usage', lang)} {why}")
        raise ApplicationHandlerStop
    services = _services(context)

    def work() -> tuple[str, bytes, int]:
        screening_log = compute_log(services.store, period.since, until=period.until)
        names = cohort_names(services.registry, screening_log.by_cohort, lang)
        table = log_lines(screening_log, lang, names)
        failing = ", ".join(f"{cid} ({n})" for cid, n in screening_log.top_failing(10))
        text = "\n".join(
            [
                _e(tr("log_heading", lang, period=period.text(lang))),
                table + (f"\n❌ {_e(failing)}" if failing else ""),
            ]
        )
        words = chart_words(screening_log.screened, lang, names)
        return text, render_png(screening_log, words=words), screening_log.screened

    text, png, screened = await asyncio.to_thread(work)
    await context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
    caption = f"{_log_caption(screened, lang)} ({period.text(lang)})"
    await context.bot.send_photo(chat.id, photo=png, caption=caption)
    raise ApplicationHandlerStop


@dataclass(frozen=True, slots=True)
class ExportFile:
    data: bytes | None  # None: over UPLOAD_LIMIT even compressed
    filename: str
    count: int
    size: int
    # Screenings exported without their protocol file (not loaded), per file.
    unloaded: Mapping[ProtocolKey, int] = field(default_factory=dict)


def prepare_export(
    store: Store,
    registry: ProtocolRegistry,
    fmt: Format,
    since: dt.datetime | None,
    basename: str,
) -> ExportFile:
    """Render through temporary files, not memory: only what Telegram accepts is read back."""
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        # A document a coordinator opens, most often in a spreadsheet.
        unloaded: Counter[ProtocolKey] = Counter()
        count = export_to(
            store, registry, fmt, text, since, for_spreadsheet=True, unloaded=unloaded
        )
        text.flush()
        text.detach()  # closing the wrapper would close the file
        size = raw.tell()
        raw.seek(0)
        filename = f"{basename}.{SUFFIX[fmt]}"
        if size <= min(COMPRESS_ABOVE, UPLOAD_LIMIT):
            return ExportFile(raw.read(), filename, count, size, unloaded)
        with tempfile.TemporaryFile() as packed:
            # mtime=0: the same export gives the same bytes.
            with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
                shutil.copyfileobj(raw, gz)
            size = packed.tell()
            packed.seek(0)
            data = packed.read() if size <= UPLOAD_LIMIT else None
            return ExportFile(data, f"{filename}.gz", count, size, unloaded)


def _export_caption(n: int, fmt: str, since: dt.datetime | None, lang: str) -> str:
    """What a document holds: how many screenings, which format, which of them (an
    export's date selects the screenings changed since, as ``screenbot export --since``)."""
    which = tr("period_all", lang)
    if since is not None:
        which = tr("period_changed", lang, start=_moment_text(since))
    if n == 1:
        return tr("export_caption_one", lang, fmt=fmt, period=which)
    return tr("export_caption", lang, n=n, fmt=fmt, period=which)


def export_period(args: Sequence[str]) -> Period | PeriodProblem:
    """The cut-off of /export's arguments other than formats, or what is wrong with them:
    a word is a mistyped format ("cvs"), anything with a digit a date that cannot be read
    ("31/02/2030", "24/11": the year is needed), and one date at most."""
    for arg in args:
        if not any(c.isdigit() for c in arg):
            return PeriodProblem("export_bad_format", {"arg": arg})
    if len(args) > 1:
        return PeriodProblem("export_one_date", {})
    return period_of(args)


async def export_command(update: Update, context: Ctx) -> None:
    """/export [csv|json|fhir] [DATE]: the export files as documents (all three by default).

    DATE reads as in /log (DD/MM/YYYY…); one that cannot be read exports nothing.
    """
    _user, lang = await _refuse_unless_coordinator(update, context)
    chat = update.effective_chat
    assert chat is not None
    args = list(context.args or [])
    formats: list[Format] = [f for f in FORMATS if f in (a.lower() for a in args)]
    period = export_period([a for a in args if a.lower() not in FORMATS])
    if isinstance(period, PeriodProblem):
        why = tr(period.key, lang, **period.fields)
        await context.bot.send_message(chat.id, f"{tr('export_usage_why', lang)} {why}")
        raise ApplicationHandlerStop
    since = period.since
    services = _services(context)
    future = since is not None and since > services.clock()
    stamp = services.clock().strftime("%Y%m%d-%H%M")
    for fmt in formats or FORMATS:
        export = await asyncio.to_thread(
            prepare_export, services.store, services.registry, fmt, since, f"screenings-{stamp}"
        )
        if future and export.count == 0:
            # A date to come (a mistyped year?): one line, not three empty files.
            assert since is not None
            text = tr("export_future", lang, start=_moment_text(since))
            await context.bot.send_message(chat.id, text)
            break
        if export.data is None:
            since_arg = f" --since {since.date().isoformat()}" if since is not None else ""
            text = tr(
                "export_too_large",
                lang,
                name=export.filename,
                mb=f"{export.size / 1e6:.0f}",
                command=f"screenbot export --format {fmt}{since_arg} --output FILE",
            )
            await context.bot.send_message(chat.id, text)
            continue
        await context.bot.send_document(
            chat.id,
            document=export.data,
            filename=export.filename,
            caption=_export_caption(export.count, fmt, since, lang),
        )
        if export.unloaded and fmt != "json":
            # As the CLI warns: silence would pass a file missing data off as complete.
            for (pid, version, sha), n in sorted(export.unloaded.items()):
                warning = tr(
                    f"export_unloaded_{fmt}",
                    lang,
                    n=n,
                    protocol=f"{pid} v{version}",
                    sha=sha[:12],
                )
                await context.bot.send_message(chat.id, warning)
    raise ApplicationHandlerStop


# -- jobs -----------------------------------------------------------------------------------------


async def outbox_job(context: Ctx) -> None:
    """Deliver what is due (the JobQueue runs this every few seconds and at start-up)."""
    services = _services(context)
    await deliver_due(
        context.bot,
        services.store,
        render_outbox(services.store, services.default_language),
        clock=services.clock,
    )


async def reminder_job(context: Ctx) -> None:
    """Queue reminders for idle screenings, then deliver them without waiting for the tick."""
    services = _services(context)
    queued = await asyncio.to_thread(
        enqueue_due_reminders,
        services.store,
        services.registry,
        services.reminder_days,
        services.clock(),
    )
    if queued:
        log.info("reminders: %d queued", queued)
        kick_sender(context.application)


def command_menu(lang: str) -> list[BotCommand]:
    """A coordinator's menu: the investigator's commands (they may screen too), then theirs."""
    pairs = (*COMMANDS.get(lang, COMMANDS["en"]), *COORDINATOR_COMMANDS.get(lang, ()))
    return [BotCommand(name, description) for name, description in pairs]


async def sync_menus(bot: Bot, store: Store, default_language: str = "en") -> int:
    """Give each active coordinator's (and admin's) chat a menu with their commands.

    The bot's default menus (``bot.app.register_commands``) list the investigator's
    commands, for everyone; where a chat has a menu of its own (``BotCommandScopeChat``)
    Telegram shows that one instead.  It is set for every client language (and none), in
    the user's chosen language where they have one, as the bot's replies are.  A
    deactivated coordinator's menu is deleted.  Run at start-up and every
    ``MENU_REFRESH``: a coordinator registered with the command line while the bot runs
    (another process), or one who changed language, gets theirs within the hour.  A chat
    Telegram refuses (the user never opened the bot)
    is logged and skipped.  Returns how many menus were set.
    """
    users = await asyncio.to_thread(store.list_users)
    done = 0
    for user in users:
        if user.role not in REVIEWERS:
            continue
        scope = BotCommandScopeChat(user.telegram_id)
        try:
            for code in (None, *LANGUAGES):
                if not user.active:
                    await bot.delete_my_commands(scope=scope, language_code=code)
                    continue
                lang = language_of(user.language, code, default_language)
                await bot.set_my_commands(command_menu(lang), scope=scope, language_code=code)
            if user.active:
                done += 1
        except TelegramError as exc:
            log.warning("menu of user %s not set: %s", user.telegram_id, exc)
    return done


async def menu_job(context: Ctx) -> None:
    """At start-up and every ``MENU_REFRESH``: the coordinators' own menus (see
    :func:`sync_menus`)."""
    services = _services(context)
    await sync_menus(context.bot, services.store, services.default_language)


def kick_sender(application: App) -> None:
    """Deliver the outbox now (after a commit that queued something), not at the next tick."""
    if application.job_queue is not None:
        application.job_queue.run_once(outbox_job, 0)


async def kick_after_completion(application: App, completed: object) -> None:
    """After-commit completion hook: deliver the new summary now rather than at the tick."""
    del completed
    kick_sender(application)


# The coordinator's commands; /help and the menus list them (bot.texts.COORDINATOR_COMMANDS).
COMMAND_HANDLERS: dict[str, Callable[[Update, Ctx], Coroutine[Any, Any, None]]] = {
    "pending": pending_command,
    "review": review_command,
    "log": log_command,
    "export": export_command,
}


def register(application: App, services: AppServices | CoordinatorServices) -> CoordinatorServices:
    """Add the coordinator's handlers, jobs and completion hooks; call once, before start.

    ``bot.app`` calls it with its ``Services``: the summary hook then joins the
    completion transaction (``on_completing``) and the sender is kicked after the commit
    (``on_completed``).  Tests may pass a ready :class:`CoordinatorServices` instead.
    """
    if application.job_queue is None:
        raise RuntimeError(
            "the coordinator features need the JobQueue (install python-telegram-bot[job-queue])"
        )
    if isinstance(services, CoordinatorServices):
        coordinator = services
    else:
        coordinator = CoordinatorServices.from_settings(
            services.settings, services.store, services.registry
        )
        services.on_completing.append(completion_hook(coordinator.coordinator_chat_id))
        services.on_abandoning.append(abandon_hook(coordinator.coordinator_chat_id))
        services.on_completed.append(kick_after_completion)
    application.bot_data[SERVICES_KEY] = coordinator
    group = HANDLER_GROUP
    application.add_handler(
        CallbackQueryHandler(on_button, pattern=rf"^{CALLBACK_PREFIX}\|"), group=group
    )
    application.add_handler(
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, on_query_reply),
        group=group,
    )
    for name, callback in COMMAND_HANDLERS.items():
        application.add_handler(CommandHandler(name, callback), group=group)
    # Before the flow's /help: a coordinator's lists their commands too.
    application.add_handler(
        CommandHandler("help", help_command, filters=filters.UpdateType.MESSAGE), group=group
    )
    jobs = application.job_queue
    # The start-up pass of each job is a run_once of its own: an interval job's first run
    # counts from now, but the scheduler starts only once the bot has met Telegram (getMe,
    # the menus, setWebhook), and a first run already past then moved to the next
    # interval: with a slow Telegram, the coordinators' menus came an hour after every
    # restart.  A one-off run that is late still runs (no misfire grace).
    late = {"misfire_grace_time": None}
    periodic: tuple[tuple[JobCallback, str, float, float], ...] = (
        (menu_job, MENU_JOB, MENU_REFRESH, 0),
        (outbox_job, OUTBOX_JOB, coordinator.send_interval, 0),
        (reminder_job, REMINDER_JOB, coordinator.reminder_interval.total_seconds(), 1),
    )
    for job, name, interval, first in periodic:
        jobs.run_once(job, first, name=f"{name} (start-up)", job_kwargs=late)
        jobs.run_repeating(job, interval=interval, first=first + interval, name=name)
    return coordinator
