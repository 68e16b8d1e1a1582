"""The investigator's conversation, independent of Telegram: input in, replies out.

:class:`ScreeningFlow` takes one :class:`Incoming` (a typed line, a command or a button
press) and returns an :class:`Outcome` (replies with buttons, the text to show on the
pressed message, a short notice).  The Telegram handlers and the terminal chat both
drive it, so the flow is written once.

Per update that touches a screening: restore the conversation from storage under the
screening's lock → one engine step → ONE transaction (claim the update id, the answer,
the new state, the verdict when complete) → commit → only then are the replies sent.
A redelivered update (same update id: the process died after the commit, before the
reply reached Telegram) changes nothing and sends the current prompt again.

Memory: nothing is kept between updates.  The conversation is rebuilt from the database
for every update; a pending "stop at first fail" offer is derived from the screening's
audit trail and a pending patient-code prompt is a column of the user, so any number of
workers, or a restarted one, serve the same conversations identically.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from bot.errors import tag_screening
from bot.keyboards import (
    UNKNOWN_VALUE,
    Button,
    Keyboard,
    answer_data,
    keep_data,
    language_data,
    layout,
    parse_data,
    screening_data,
)
from bot.texts import LANGUAGES, language_of, t
from dialogs.answers import normalise_patient_code
from dialogs.conversation import Conversation
from dialogs.engine import Engine, Step
from dialogs.errors import ProtocolError
from dialogs.evaluation import CriterionResult, Evaluation
from dialogs.machine import COMPLETE
from dialogs.protocol import AnswerType
from dialogs.registry import ProtocolRegistry
from dialogs.reopening import reopen_items, with_what_asks_them
from dialogs.resolution import START_QUESTION
from dialogs.values import Answer, from_json, to_json, unit_of
from storage import (
    DuplicatePatientCode,
    EventRecord,
    Screening,
    ScreeningNotFound,
    ScreeningTx,
    Status,
    StorageError,
    Store,
    UpdateAlreadyProcessed,
    User,
)

log = logging.getLogger(__name__)

LIST_LIMIT = 15
# Events that make or settle a "stop at first fail" offer; the latest one tells whether
# an offer is pending (see _offer_pending).
_OFFERED = "stop_offered"
# An open screening moved to the question a coordinator's query or Reopen names.
_MOVED = "moved"
# Why an investigator reopens an incomplete screening (in its audit event).
_RESUME_REASON = "resumed by the investigator to document unknowns"
_OFFER_EVENTS = (
    _OFFERED,
    "ended_at_first_fail",
    "documenting_remaining",
    "back",
    "kept",
    "reopened",
)
# Commands that only show something: they leave a pending question (abandon?) pending.
_VIEWS = frozenset({"help", "status", "summary", "list", "start"})
# The investigator's answers to the offer.
_CHOICES = ("ended_at_first_fail", "documenting_remaining")
_LANGUAGE_NAMES = {"en": "English", "fr": "Français"}
_BUTTON_TYPES = (AnswerType.yesno, AnswerType.choice)
# How a changed answer's audit reason starts (English, in the trail; /review words it).
CHANGED_AFTER_REOPENING = "changed after reopening"
CHANGED_AFTER_BACK = "changed by the investigator after /back"
_REVIEWER_ROLES = frozenset({"coordinator", "admin"})
_MARKS = {"pass": "✅", "fail": "❌", "unknown": "❔", "not_applicable": "➖"}


# -- what goes in and out -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing the user did: typed ``text`` (maybe a /command) or pressed ``data``."""

    user_id: int
    text: str | None = None
    data: str | None = None
    update_id: int | None = None
    language_code: str | None = None
    display_name: str = ""
    reply_to_code_prompt: bool = False
    # A message with nothing to read (photo, voice note, sticker): never an answer.
    unreadable: bool = False
    # The front end numbers a choice question's options ([1] Sarcoma…), so a typed number
    # names one; Telegram's buttons carry none.
    choices_numbered: bool = False
    # A Telegram reply to one of the bot's question messages: (screening id, question id)
    # read from that message's buttons.  Replying to an earlier question is not answering
    # the current one, which may be another patient's.
    replied_question: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    keyboard: Keyboard = ()
    ask_code: bool = False
    typed: bool = False  # the reply waits for a typed answer (number, date, code)


@dataclass(frozen=True, slots=True)
class ScreeningCompleted:
    """Passed to the completion hooks (coordinator summaries) after the commit."""

    screening_id: int
    patient_code: str
    investigator_id: int
    protocol_id: str
    protocol_version: str
    verdict: str
    criteria: dict[str, Any]
    language: str


@dataclass(slots=True)
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    recorded: str | None = None  # appended to the pressed message, whose buttons go away
    notice: str | None = None  # short notice on a button press (answerCallbackQuery)
    completed: ScreeningCompleted | None = None
    screening_id: int | None = None
    lang: str = ""  # the user's language after this update; "" until handle() sets it


CompletingHook = Callable[[ScreeningTx, Engine, Evaluation], object]
# Run inside the abandonment's transaction (the coordinators' notice).
AbandoningHook = Callable[[ScreeningTx, str], object]
"""Runs inside the completion's transaction, after ``tx.complete``: what it writes (e.g. a
coordinator summary queued in the outbox) exists if and only if the completion does.
An exception rolls the completion back (the user gets the apology and can answer again)."""


class _Refused(Exception):
    """A press or command that changes nothing: a stale, forged or closed target."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _Redelivered(Exception):
    """An update already applied: nothing to change, only where the screening is to show."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("redelivered")
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class _Ctx:
    user_id: int
    lang: str
    update_id: int | None
    pressed: bool
    awaiting_code: bool
    choices_numbered: bool = False
    reviewer: bool = False  # a coordinator or admin (who may screen too)


@dataclass(slots=True)
class _Work:
    tx: ScreeningTx
    engine: Engine
    conv: Conversation
    screening: Screening


def criteria_json(evaluation: Evaluation) -> dict[str, Any]:
    """What storage keeps with a verdict: every criterion's status and reason."""
    return {cid: r.to_json() for cid, r in evaluation.results.items()}


def answers_of(records: Mapping[str, Any]) -> dict[str, Answer]:
    """Storage's current answer records as the engine's answers (parsed values, no re-parse)."""
    return {qid: Answer(qid, rec.raw, from_json(rec.value_json)) for qid, rec in records.items()}


def answers_from_values(values: Mapping[str, tuple[str, Any]]) -> dict[str, Answer]:
    """The same from ``ScreeningTx.current_values()``, the lean read of the update path."""
    return {qid: Answer(qid, raw, from_json(data)) for qid, (raw, data) in values.items()}


def reopen_at_open_items(
    tx: ScreeningTx, engine: Engine, preferred: str | None, user_id: int, reason: str
) -> tuple[str, dict[str, Answer]]:
    """Reopen a completed screening (or move an open one) at the question to work on: the
    one preferred (a coordinator's query), else the first behind a failing or unknown
    criterion.  The investigator's /resume of an incomplete screening and the
    coordinator's Reopen and query buttons all go through here.  Returns the state and
    the current answers (to render its prompt)."""
    answers = answers_from_values(tx.current_values())
    items = reopen_items(engine, answers, preferred)
    state = items[0]
    # The walk, for /back within it, and the answer count it starts at, to tell a walk
    # that only kept answers (see _walk_of).
    walk = {"items": list(items), "answers": tx.screening.answer_count}
    if tx.screening.status == Status.COMPLETED.value:
        tx.reopen(state, user_id=user_id, reason=reason, detail=walk)
    else:
        tx.set_state(state)
        tx.log_event(_MOVED, user_id, {"state": state, "reason": reason, **walk})
    # Every answer to work on waits until answered again or kept: reopened for unknown
    # labs, the dialog walks through each of them (not the first only, then the verdict
    # again), and /back and Keep on the question before come back here.  Added to what an
    # open screening still has to confirm (new labs' values), never instead of it.
    still = set(tx.screening.to_confirm or ())
    tx.set_to_confirm(sorted(still | (set(items) & answers.keys())))
    return state, answers


@dataclass(frozen=True)
class _Walk:
    """The questions a reopening walks through, as its audit event recorded them."""

    items: tuple[str, ...]
    answers: int  # the screening's answer count when the walk began
    reason: str | None
    verdict: str | None  # the verdict reopened, for a completed screening


# The events that start a walk; the latest of them is the walk under way.
_WALK_EVENTS = ("reopened", _MOVED)


def _walk_of(tx: ScreeningTx) -> _Walk | None:
    return _walk_from(tx.last_event(_WALK_EVENTS))


def _walk_from(last: EventRecord | None) -> _Walk | None:
    """The latest reopening's walk; None before any, or for one recorded without its items."""
    detail = last.detail if last is not None and isinstance(last.detail, dict) else {}
    items = detail.get("items")
    if not isinstance(items, list):
        return None
    reason = detail.get("reason")
    verdict = detail.get("verdict") if last is not None and last.kind == "reopened" else None
    return _Walk(
        tuple(str(q) for q in items),
        int(detail.get("answers", -1)),
        reason if isinstance(reason, str) else None,
        verdict if isinstance(verdict, str) else None,
    )


def _only_kept(tx: ScreeningTx, verdict: str) -> bool:
    """Whether completing now repeats the verdict the investigator's /resume reopened,
    with no answer given since (every one kept)."""
    walk = _walk_of(tx)
    return (
        walk is not None
        and walk.reason == _RESUME_REASON
        and walk.verdict == verdict
        and walk.answers == tx.screening.answer_count
    )


def untargeted_hint(text: str, lang: str, limit: int | None = None) -> str:
    """What a coordinator's line that went to no one gets: how a query is sent, and the
    line itself to copy (cut to ``limit`` characters in all, if given)."""
    head = "\n".join([t("coord_plain_text_hint", lang), "", t("plain_text_kept", lang), ""])
    if limit is not None and len(head) + len(text) > limit:
        text = text[: max(0, limit - len(head) - 1)] + "…"
    return head + text


def _offer_pending(last: EventRecord | None, screening: Screening) -> bool:
    """Whether the latest offer still waits for the investigator's choice.

    Settled by a choice, /back, a kept answer or a reopening (later events), and by any
    answer recorded since (the offer notes the answer count it was made at).
    """
    if last is None or last.kind != _OFFERED or screening.status != Status.IN_PROGRESS.value:
        return False
    detail = last.detail if isinstance(last.detail, dict) else {}
    return bool(detail.get("answers") == screening.answer_count)


# -- the flow ------------------------------------------------------------------------------


class ScreeningFlow:
    def __init__(
        self,
        registry: ProtocolRegistry,
        store: Store,
        *,
        stop_at_first_fail: bool = True,
        default_language: str = "en",
        completing: list[CompletingHook] | None = None,
        abandoning: list[AbandoningHook] | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        # Shared with Services.on_completing: hooks added later are seen here.
        self.completing: list[CompletingHook] = completing if completing is not None else []
        self.abandoning: list[AbandoningHook] = abandoning if abandoning is not None else []
        self.stop_at_first_fail = stop_at_first_fail
        self.default_language = default_language if default_language in LANGUAGES else "en"

    # -- entry point ------------------------------------------------------------------------

    def handle(self, msg: Incoming) -> Outcome:
        user = self.store.get_user(msg.user_id)
        lang = self._lang(user, msg.language_code)
        if user is None or not user.active:
            log.warning(
                "refused %s Telegram user %s (%s)",
                "unknown" if user is None else "inactive",
                msg.user_id,
                msg.display_name or "-",
            )
            # A deactivated user read "not authorised… ask for access", as if never given.
            key = "refused" if user is None else "revoked"
            out = Outcome([Reply(t(key, lang, user_id=msg.user_id))], lang=lang)
            if msg.data is not None:
                out.notice = t(f"{key}_short", lang, user_id=msg.user_id)
            return out
        ctx = _Ctx(
            user.telegram_id,
            lang,
            msg.update_id,
            msg.data is not None,
            user.awaiting_code_since is not None,
            msg.choices_numbered,
            user.role in _REVIEWER_ROLES,
        )
        user = self.store.saw_telegram_language(user, msg.language_code)
        if msg.unreadable:
            return self._unreadable(ctx)
        text = (msg.text or "").strip()
        typed = msg.data is None and not text.startswith("/")
        try:
            if user.abandon_pending_id is not None:
                # Asked "abandon it?": a typed line is not an answer to the question
                # ("oui" meant the abandon); a press or a command that moves the dialog
                # settles the question (/help, /status… only show something).
                if typed and not ctx.awaiting_code:
                    pending = self._abandon_still_asked(ctx, user.abandon_pending_id)
                    if pending is not None:
                        return pending
                if typed or msg.data is not None or _command_of(text) not in _VIEWS:
                    self.store.set_abandon_pending(user.telegram_id, None)
            if msg.data is not None:
                out = self._press(ctx, msg.data)
            elif not typed:
                out = self._command(ctx, text)
            elif ctx.awaiting_code or msg.reply_to_code_prompt:
                out = self._new(ctx, text)
            else:
                out = self._typed(ctx, text, msg.replied_question)
        except _Redelivered as redelivered:
            out = redelivered.outcome
        except _Refused as refusal:
            text = t(refusal.key, lang)
            out = Outcome(notice=text) if ctx.pressed else Outcome([Reply(text)])
        except ProtocolError:
            log.exception("protocol version unavailable for user %s", msg.user_id)
            out = Outcome([Reply(t("protocol_unavailable", lang))])
        if out.completed is not None:
            self._then_continuing(ctx, out)
        out.lang = out.lang or lang  # /lang sets the new one itself
        return out

    def _then_continuing(self, ctx: _Ctx, out: Outcome) -> None:
        """After a verdict, another patient still open is the one typed answers go to now:
        say which and show its question, as after /cancel (nothing said it before)."""
        assert out.completed is not None
        other = self.store.find_open_screening(ctx.user_id)
        if other is None or other.id == out.completed.screening_id:
            return
        out.replies += [
            Reply(t("resumed", ctx.lang, code=other.patient_code)),
            self._current_view(ctx, other),
        ]

    def _unreadable(self, ctx: _Ctx) -> Outcome:
        """Say only text is read, then what is awaited: the code, or the open question."""
        lines = [t("unreadable", ctx.lang)]
        if ctx.awaiting_code:
            return Outcome([Reply("\n".join([*lines, t("ask_code", ctx.lang)]))], lang=ctx.lang)
        s = self.store.find_open_screening(ctx.user_id)
        if s is None:
            return Outcome([Reply("\n".join([*lines, t("empty_line", ctx.lang)]))], lang=ctx.lang)
        return Outcome(
            [Reply(lines[0]), self._current_view(ctx, s)], screening_id=s.id, lang=ctx.lang
        )

    def _lang(self, user: User | None, code: str | None) -> str:
        return language_of(user.language if user else None, code, self.default_language)

    # -- commands ---------------------------------------------------------------------------

    def _command(self, ctx: _Ctx, text: str) -> Outcome:
        head, _, rest = text.partition(" ")
        command = _command_of(text)
        arg = rest.strip()
        lang = ctx.lang
        if command == "start":
            return self._start(ctx)
        if command == "help":
            return Outcome([Reply(t("help", lang))])
        if command == "lang":
            if arg:
                return self._set_language(ctx, arg.lower())
            return Outcome([Reply(t("lang_choose", lang), _language_keyboard())])
        if command == "new":
            if arg:
                return self._new(ctx, arg)
            self.store.set_awaiting_code(ctx.user_id, True)
            return Outcome([Reply(t("ask_code", lang), ask_code=True, typed=True)])
        if command == "cancel":
            return self._cancel(ctx)
        if ctx.awaiting_code:
            return self._while_awaiting_code(ctx, command, arg, head)
        return self._after_code(ctx, command, arg, head)

    def _after_code(self, ctx: _Ctx, command: str, arg: str, head: str) -> Outcome:
        """Commands about the screening in progress (none waits for a patient code)."""
        if command == "resume":
            return self._resume_command(ctx, normalise_patient_code(arg))
        if command == "list":
            return self._list(ctx)
        if command == "status":
            return self._status(ctx)
        if command == "summary":
            return self._summary(ctx)
        if command == "back":
            return self._back(ctx)
        if command == "unknown":
            return self._typed(ctx, "unknown")
        return Outcome([Reply(t("unknown_command", ctx.lang, command=head))])

    def _while_awaiting_code(self, ctx: _Ctx, command: str, arg: str, head: str) -> Outcome:
        """/new asked for a patient code: a look around keeps that question open.

        /resume and /back that lead into a screening drop it; /unknown cannot answer it.
        """
        ask = Reply(t("ask_code", ctx.lang), ask_code=True, typed=True)
        if command == "unknown":
            return Outcome([Reply(t("code_still_needed", ctx.lang)), ask])
        try:
            out = self._after_code(ctx, command, arg, head)
        except _Refused as refusal:  # e.g. /status or /back with nothing in progress
            out = Outcome([Reply(t(refusal.key, ctx.lang))])
        if command in ("resume", "back") and out.screening_id is not None:
            # Back in a screening: its question is what the next line answers.
            self.store.set_awaiting_code(ctx.user_id, False)
            return out
        out.replies.append(ask)
        return out

    def _start(self, ctx: _Ctx) -> Outcome:
        title = self.registry.latest().protocol.title.get(ctx.lang)
        text = t("welcome", ctx.lang, title=title)
        replies = [Reply(text, _language_keyboard())]
        if ctx.awaiting_code:
            # /new asked for a code before a restart: the next line still answers it, and
            # « sarcome » typed for the open screening was refused as a code, unexplained.
            ask = "\n".join([t("welcome_code", ctx.lang), t("ask_code", ctx.lang)])
            return Outcome([*replies, Reply(ask, ask_code=True, typed=True)])
        current = self.store.find_open_screening(ctx.user_id)
        if current is not None:
            replies.append(Reply(t("welcome_open", ctx.lang, code=current.patient_code)))
        return Outcome(replies)

    def _set_language(self, ctx: _Ctx, lang: str) -> Outcome:
        if lang not in LANGUAGES:
            return Outcome([Reply(t("lang_bad", ctx.lang, language=lang))])
        self.store.set_language(ctx.user_id, lang)
        replies = [Reply(t("lang_set", lang))]
        current = self.store.find_open_screening(ctx.user_id)
        if current is not None and not ctx.awaiting_code:  # the question, in the new language
            replies.append(self._current_view(replace(ctx, lang=lang), current))
        out = Outcome(replies, lang=lang)
        if ctx.pressed:
            out.recorded = t("recorded", lang, answer=_LANGUAGE_NAMES[lang])
        return out

    # -- creating a screening ------------------------------------------------------------------

    def _new(self, ctx: _Ctx, code_text: str, *, anyway: bool = False) -> Outcome:
        """Open a screening for the typed code; ``anyway`` once the investigator chose a
        new one over taking up the code's incomplete screening."""
        engine = self.registry.latest()
        protocol = engine.protocol
        conv = engine.start(ctx.lang)
        try:
            step = engine.answer(conv, code_text)
        finally:
            engine.release(conv)
        if not step.accepted or step.answer is None:
            if not ctx.awaiting_code:
                self.store.set_awaiting_code(ctx.user_id, True)
            error = step.error or t("ask_code", ctx.lang)
            return Outcome([Reply(error, ask_code=True, typed=True)])
        code = str(step.answer.value)
        earlier = None if anyway else self._latest_of_code(ctx.user_id, code)
        if earlier is not None and earlier.verdict == "incomplete" and earlier.id is not None:
            # Labs back days later, the investigator typed /new: a second screening would
            # leave the first one's unknowns undocumented (and /resume CODE ambiguous).
            if ctx.awaiting_code:
                self.store.set_awaiting_code(ctx.user_id, False)
            when = _date(earlier.completed_at or earlier.updated_at)
            text = t("new_has_incomplete", ctx.lang, code=code, date=when)
            buttons = (
                Button(t("button_resume", ctx.lang, code=code), screening_data("r", earlier.id)),
                Button(
                    t("button_new_anyway", ctx.lang, code=code), screening_data("n", earlier.id)
                ),
            )
            return Outcome([Reply(text, layout(buttons, width=1))])
        try:
            screening = self.store.create_screening(
                patient_code=code,
                protocol_id=protocol.id,
                protocol_version=str(protocol.version),
                protocol_sha256=protocol.sha256,
                investigator_id=ctx.user_id,
                initial_state=step.state,
                language=ctx.lang,
                update_id=ctx.update_id,
            )
        except UpdateAlreadyProcessed as done:
            if done.screening_id is None:
                return Outcome()
            with self.store.screening_tx(done.screening_id) as tx:
                return self._where_now(ctx, tx)
        except DuplicatePatientCode:
            if ctx.awaiting_code:
                self.store.set_awaiting_code(ctx.user_id, False)
            mine = self.store.find_open_screening(ctx.user_id, code)
            key = "duplicate_own" if mine is not None else "duplicate_other"
            return Outcome([Reply(t(key, ctx.lang, code=code))])
        # create_screening cleared the code prompt in its own transaction.
        assert screening.id is not None
        header = t(
            "started",
            ctx.lang,
            code=code,
            title=protocol.title.get(ctx.lang),
            version=protocol.version,
        )
        with engine.attached(screening.current_state, {}, ctx.lang) as fresh:
            prompt = self._prompt(engine, fresh, screening.id, ctx.lang)
        return Outcome([Reply(header), prompt], screening_id=screening.id)

    # -- the locked unit of work ---------------------------------------------------------------

    def _engine_of(self, screening: Screening) -> Engine:
        return self.registry.engine_for(
            screening.protocol_id, int(screening.protocol_version), screening.protocol_sha256
        )

    @contextmanager
    def _session(
        self, ctx: _Ctx, screening_id: int, question_id: str | None = None
    ) -> Iterator[_Work]:
        """Lock the screening, check the press is for it, claim the update, attach the dialog.

        Raises _Refused, writing nothing, for someone else's screening, a closed one or an
        old question, and _Redelivered, writing nothing, for an update already applied.
        The claim comes before the closed/stale checks: a redelivered press names the
        question it answered, which is no longer the current one.
        """
        try:
            with self.store.screening_tx(screening_id) as tx:
                s = tx.screening
                if s.investigator_id != ctx.user_id:
                    raise _Refused("forged")
                if ctx.update_id is not None and not tx.claim_update(ctx.update_id):
                    log.info("update %s already processed: prompt sent again", ctx.update_id)
                    raise _Redelivered(self._where_now(ctx, tx))
                if s.status != Status.IN_PROGRESS.value:
                    raise _Refused("closed")
                if question_id is not None and s.current_state != question_id:
                    raise _Refused("stale")
                engine = self._engine_of(s)
                answers = answers_from_values(tx.current_values())
                to_confirm = s.to_confirm or ()
                with engine.attached(s.current_state, answers, ctx.lang, s.id, to_confirm) as conv:
                    yield _Work(tx, engine, conv, s)
                    still_open = tx.screening.status == Status.IN_PROGRESS.value
                    tx.set_to_confirm(
                        sorted(conv.to_confirm) if still_open and conv.state != COMPLETE else ()
                    )
        except ScreeningNotFound:
            raise _Refused("forged") from None
        except (_Refused, _Redelivered):
            raise
        except Exception as exc:
            tag_screening(exc, screening_id)
            raise

    def _where_now(self, ctx: _Ctx, tx: ScreeningTx) -> Outcome:
        """What the screening shows now: its question (or pending offer), verdict or end."""
        s = tx.screening
        sid = tx.screening_id
        if s.investigator_id != ctx.user_id:
            raise _Refused("forged")
        if s.status == Status.ABANDONED.value:
            return Outcome([Reply(t("abandoned", ctx.lang, code=s.patient_code))], screening_id=sid)
        engine = self._engine_of(s)
        with engine.attached(
            s.current_state, answers_from_values(tx.current_values()), ctx.lang, sid
        ) as conv:
            if s.status == Status.COMPLETED.value:
                last = tx.last_event(("ended_at_first_fail", "reopened"))
                early = last is not None and last.kind == "ended_at_first_fail"
                lines = self._verdict_lines(
                    engine, s, engine.evaluate(conv), ctx.lang, early, conv.answers
                )
                return Outcome([Reply("\n".join(lines))], screening_id=sid)
            last = tx.last_event(_OFFER_EVENTS)
            if _offer_pending(last, s):
                assert last is not None
                reply = self._offer_again(engine, conv, last, sid, ctx.lang)
                return Outcome([reply], screening_id=sid)
            return Outcome([self._prompt(engine, conv, sid, ctx.lang)], screening_id=sid)

    def _current(self, ctx: _Ctx) -> Screening:
        s = self.store.find_open_screening(ctx.user_id)
        if s is None:
            raise _Refused("no_open")
        return s

    # -- answering -----------------------------------------------------------------------------

    def _typed(self, ctx: _Ctx, text: str, replied: tuple[int, str] | None = None) -> Outcome:
        if ctx.reviewer and self.store.find_open_screening(ctx.user_id) is None:
            # A coordinator's line with no patient of theirs under way is most likely a
            # query typed without replying to the query prompt ("#26 is this the date of
            # the last chemo?"): "No screening in progress" would lose it unexplained.
            return Outcome([Reply(untargeted_hint(text, ctx.lang))])
        s = self._current(ctx)
        assert s.id is not None
        if replied is not None and replied != (s.id, s.current_state):
            # A reply to A's old "Age?" recorded the age on B, the current patient; a
            # correction replied to the ANC question landed on the platelets.
            return Outcome(
                [Reply(self._replied_elsewhere(ctx, *replied)), self._current_view(ctx, s)],
                screening_id=s.id,
            )
        return self._answer(ctx, s.id, None, text)

    def _replied_elsewhere(self, ctx: _Ctx, sid: int, question_id: str) -> str:
        try:
            other = self.store.get_screening(sid)
            engine = self._engine_of(other)
            label = engine.question(question_id).label.get(ctx.lang)
        except (StorageError, ProtocolError, KeyError):
            return t("reply_earlier_unknown", ctx.lang)
        if other.investigator_id != ctx.user_id:
            return t("reply_earlier_unknown", ctx.lang)
        return t("reply_earlier", ctx.lang, code=other.patient_code, label=label)

    def _answer(self, ctx: _Ctx, sid: int, question_id: str | None, value: str) -> Outcome:
        with self._session(ctx, sid, question_id) as work:
            engine, conv = work.engine, work.conv
            if conv.state == COMPLETE:  # only after an interrupted completion
                return self._finish(ctx, work, [])
            # A typed line while the offer waits is not an answer: show the choice again.
            last = work.tx.last_event(_OFFER_EVENTS) if question_id is None else None
            if last is not None and _offer_pending(last, work.screening):
                reply = self._offer_again(engine, conv, last, sid, ctx.lang)
                return Outcome([reply], screening_id=sid)
            text = value
            question = engine.question(conv.state) if conv.state != COMPLETE else None
            typed_choice = (
                question_id is None and question is not None and question.type is AnswerType.choice
            )
            if typed_choice and not ctx.choices_numbered and value.strip().rstrip(".").isdigit():
                # Telegram's buttons carry no numbers: a '5' meant for the next question
                # (a dose) picked the fifth drug.  The terminal shows them numbered.
                assert question is not None
                example = question.choices[0].label.get(ctx.lang)
                # With the buttons: the question itself has scrolled up, out of reach.
                keyboard = self._prompt(engine, conv, sid, ctx.lang).keyboard
                reply = Reply(t("choice_not_numbered", ctx.lang, example=example), keyboard)
                return Outcome([reply], screening_id=sid)
            if question_id is not None and value.startswith("#") and value[1:].isdigit():
                choices = engine.question(question_id).choices
                index = int(value[1:])
                if index >= len(choices):
                    raise _Refused("forged")
                text = choices[index].value
            # A button under an older message may be another patient's: it is answered, and
            # that patient becomes the one typed answers go to, so the reply names them.
            switched = ctx.pressed and not work.tx.is_current()
            previous = conv.answers.get(conv.state)
            moving_start = conv.state == START_QUESTION and previous is not None
            unknown_before: set[str] = set()
            if moving_start:
                # Unknown already, and for a reason of its own: a criterion that only
                # waited for lab values still to type is news when the start ages its labs.
                before = engine.evaluate(conv)
                unknown_before = {r.id for r in before.unknown if not _waits_for_later(r, before)}
            step = engine.answer(conv, text)
            if not step.accepted or step.answer is None:
                error = step.error or t("stale", ctx.lang)
                if ctx.pressed:
                    return Outcome(notice=error[:200], screening_id=sid)
                reply = Reply(error, typed=True)
                if question is not None and question.type in _BUTTON_TYPES:
                    # « peut-être » at a yes/no question: its buttons under the refusal,
                    # not only under the question, now scrolled up.
                    keyboard = self._prompt(engine, conv, sid, ctx.lang).keyboard
                    reply = Reply(error, keyboard)
                if step.after_start:
                    # Labs dated after the start: the start may have moved, and the way
                    # to it was a button on an older message, or 30 /back away.
                    reply = _with_start_button(reply, sid, ctx.lang)
                return Outcome([reply], screening_id=sid)
            parsed = step.answer.value
            work.tx.record_answer(
                step.question_id,
                step.answer.raw,
                to_json(parsed),
                unit_of(parsed),
                ctx.user_id,
                reason=None if previous is None else _change_reason(work.tx, previous.raw),
            )
            work.tx.set_state(step.state)
            lines = [t("resumed", ctx.lang, code=work.screening.patient_code)] if switched else []
            typed = question_id is None and not ctx.choices_numbered
            if typed and (typed_choice or _read_otherwise(step.answer.raw, step.display)):
                # A pressed button's message shows the choice; a typed answer is read back
                # when what was recorded is not what was typed ('dexa', 'NA' → unknown,
                # 'il y a 2 semaines' → a date, 1500/mm3 → ×10⁹/L), so a misreading is
                # seen at once.  (The terminal shows every recorded answer itself.)
                lines.append(t("recorded", ctx.lang, answer=step.display or ""))
            lines += [t("computed", ctx.lang, text=n) for n in step.notices]
            # Last, just before the prompt they explain: it asks the first of them again.
            lines += [t("warning", ctx.lang, text=w) for w in step.warnings]
            if question is not None and question.not_after_today and isinstance(parsed, dt.date):
                # Labs already too old for the start when typed (pre-screening weeks
                # ahead): a warning, not only the computed "15 days before (at most 14)"
                # line, before a dozen values that will not count.
                after = engine.evaluate(conv)
                stale = [r for r in after.unknown if step.question_id in r.open_questions]
                lines += _by_reason(stale, ctx.lang)
            if moving_start:
                # A later start ages the labs and the pregnancy test: say what it now
                # lacks, and ask again (with Keep) the dates behind it, so new labs are
                # typed now rather than after every value measured on the old ones.
                # (Not what only waits for the answers an earlier start voided: those are
                # asked again at once, with their own warning.)
                after = engine.evaluate(conv)
                lacking = [
                    r
                    for r in after.unknown
                    if r.id not in unknown_before and not _waits_for_later(r, after)
                ]
                lines += _by_reason(lacking, ctx.lang)
                self._ask_again(work, {q for r in lacking for q in r.open_questions})
            changed = previous is not None and previous.value != parsed
            out = self._advance(ctx, work, lines, step.newly_failed, step.failing, changed)
            if step.question_id == START_QUESTION and out.replies and self._past(work, parsed):
                # The warning says to check it: the way back to it, one tap away.
                out.replies[-1] = _with_start_button(out.replies[-1], sid, ctx.lang)
        out.recorded = t("recorded", ctx.lang, answer=step.display or "")
        return out

    @staticmethod
    def _ask_again(work: _Work, question_ids: set[str]) -> None:
        """Put recorded answers back in the dialog's way, with Keep, and move to the first
        of them if it comes before the current question."""
        conv, protocol = work.conv, work.engine.protocol
        order = protocol.order
        redo = {
            q
            for q in with_what_asks_them(protocol, question_ids)
            if q != START_QUESTION and q in conv.answers and conv.applies(q) is True
        }
        if not redo:
            return
        conv.to_confirm |= redo
        first = next(q for q in order if q in redo)
        if conv.state == COMPLETE or order.index(first) < order.index(conv.state):
            work.engine.goto(conv, first)
            work.tx.set_state(conv.state)

    def _advance(
        self,
        ctx: _Ctx,
        work: _Work,
        lines: list[str],
        newly_failed: Sequence[CriterionResult],
        failing: frozenset[str] = frozenset(),
        changed: bool = False,
    ) -> Outcome:
        """After the state moved (inside the transaction): verdict, stop offer or next prompt.

        ``failing``: the criteria the answer can change that fail after it.  An answer
        confirmed unchanged after /back from the stop offer fails nothing newly, but the
        investigator never chose: the offer comes again.
        """
        sid = work.tx.screening_id
        if work.conv.state == COMPLETE:
            return self._finish(ctx, work, lines)
        offer: Sequence[CriterionResult] = ()
        if newly_failed:
            evaluation = work.engine.evaluate(work.conv)
            lines += [self._failure_line(work.engine, r, ctx.lang) for r in newly_failed]
            # The first failure, or one after an offer left without a choice (/back).
            if len(evaluation.failed) == len(newly_failed) or (
                self.stop_at_first_fail and self._offer_left_unanswered(work)
            ):
                offer = newly_failed
        elif failing and self.stop_at_first_fail and self._offer_left_unanswered(work):
            evaluation = work.engine.evaluate(work.conv)
            if {r.id for r in evaluation.failed} <= failing:  # still the first failure
                offer = evaluation.failed
                lines += [self._failure_line(work.engine, r, ctx.lang) for r in offer]
        elif failing and changed:
            # A changed answer that still fails (a washout date corrected, still short):
            # said again with its new reason and earliest start, not passed over.
            evaluation = work.engine.evaluate(work.conv)
            lines += [
                self._failure_line(work.engine, r, ctx.lang)
                for r in evaluation.failed
                if r.id in failing
            ]
        if offer and self.stop_at_first_fail:
            # The answer count dates the offer: an answer recorded later settles it.
            detail = {"criteria": [r.id for r in offer], "answers": work.screening.answer_count}
            work.tx.log_event(_OFFERED, ctx.user_id, detail)
            reply = self._offer(sid, ctx.lang, lines)
        else:
            reply = self._prompt(work.engine, work.conv, sid, ctx.lang, lines)
        if offer and any(r.earliest_start is not None for r in offer):
            # A washout a day short: moving the start is the fix, and without this button
            # it was 26 /back away (or "end screening", which only a coordinator undoes).
            # Only on the offer: under a question's own buttons it read as one more choice.
            reply = _with_start_button(reply, sid, ctx.lang)
        return Outcome([reply], screening_id=sid)

    @staticmethod
    def _offer_left_unanswered(work: _Work) -> bool:
        """Whether the latest stop offer was settled without a choice (by /back)."""
        last = work.tx.last_event((_OFFERED, *_CHOICES, "reopened"))
        return last is not None and last.kind == _OFFERED

    def _finish(
        self, ctx: _Ctx, work: _Work, lines: list[str], *, ended_early: bool = False
    ) -> Outcome:
        evaluation = work.engine.evaluate(work.conv)
        criteria = criteria_json(evaluation)
        unchanged = _only_kept(work.tx, evaluation.verdict)
        work.tx.complete(evaluation.verdict, criteria, ctx.user_id)
        s = work.screening
        if unchanged:
            # Resumed while the labs were still out, every answer kept: the coordinators
            # have this very summary already.
            lines = [*lines, t("verdict_unchanged", ctx.lang)]
        verdict = self._verdict_lines(
            work.engine, s, evaluation, ctx.lang, ended_early, work.conv.answers
        )
        if evaluation.verdict == "incomplete":
            # Pre-screening: labs pending.  The way back in, to copy days later.
            verdict += ["", t("incomplete_next", ctx.lang, code=s.patient_code)]
        text = "\n".join([*lines, *verdict])
        if unchanged:
            return Outcome([Reply(text)], screening_id=work.tx.screening_id)
        completed = ScreeningCompleted(
            screening_id=work.tx.screening_id,
            patient_code=s.patient_code,
            investigator_id=s.investigator_id,
            protocol_id=s.protocol_id,
            protocol_version=s.protocol_version,
            verdict=evaluation.verdict,
            criteria=criteria,
            language=ctx.lang,
        )
        for hook in self.completing:
            hook(work.tx, work.engine, evaluation)
        return Outcome([Reply(text)], completed=completed, screening_id=work.tx.screening_id)

    # -- buttons -------------------------------------------------------------------------------

    def _press(self, ctx: _Ctx, raw: str) -> Outcome:
        data = parse_data(raw)
        if data is None:
            raise _Refused("forged")
        if data.kind == "l":
            return self._set_language(ctx, data.value or "")
        sid = data.screening_id
        assert sid is not None
        if data.kind == "a":
            assert data.question_id is not None and data.value is not None
            return self._answer(ctx, sid, data.question_id, data.value)
        if data.kind == "k":
            assert data.question_id is not None
            return self._keep(ctx, sid, data.question_id)
        if data.kind == "e":
            return self._end(ctx, sid)
        if data.kind == "d":
            return self._document(ctx, sid)
        if data.kind == "r":
            return self._resume(ctx, sid)
        if data.kind == "s":
            return self._change_start(ctx, sid)
        if data.kind == "n":
            return self._new_anyway(ctx, sid)
        if data.kind == "x" and data.value == "c":
            return self._close_again(ctx, sid)
        if data.kind == "x":
            return self._abandon(ctx, sid, data.value == "y")
        raise _Refused("forged")

    def _keep(self, ctx: _Ctx, sid: int, question_id: str) -> Outcome:
        with self._session(ctx, sid, question_id) as work:
            existing = work.conv.answers.get(question_id)
            # An answer voided by a new start date must be answered again (an old button).
            if existing is None or question_id in work.conv.resolution.invalid:
                raise _Refused("stale")
            switched = not work.tx.is_current()
            # A value of the old lab date read unknown until kept: kept, it may fail now,
            # as it would have typed again (the stop offer, not silence until the verdict).
            before = work.engine.failing(work.conv, question_id)
            # Move on with the stored answer itself: re-parsing its text could change it
            # ("today" typed last week).
            work.conv.trigger("advance", answer=existing)
            work.tx.set_state(work.conv.state)
            work.tx.log_event("kept", ctx.user_id, {"question_id": question_id})
            shown = work.engine.display(question_id, existing.value, ctx.lang)
            failing = work.engine.failing(work.conv, question_id)
            newly: tuple[CriterionResult, ...] = ()
            if failing - before:
                failed = work.engine.evaluate(work.conv).failed
                newly = tuple(r for r in failed if r.id in failing - before)
            lines = [t("resumed", ctx.lang, code=work.screening.patient_code)] if switched else []
            out = self._advance(ctx, work, lines, newly, failing)
        out.recorded = t("kept", ctx.lang, answer=shown)
        return out

    def _end(self, ctx: _Ctx, sid: int) -> Outcome:
        with self._session(ctx, sid) as work:
            self._require_offer(work)
            work.tx.log_event("ended_at_first_fail", ctx.user_id, None)
            out = self._finish(ctx, work, [], ended_early=True)
        out.recorded = t("chose_end", ctx.lang)
        return out

    def _document(self, ctx: _Ctx, sid: int) -> Outcome:
        with self._session(ctx, sid) as work:
            self._require_offer(work)
            work.tx.log_event("documenting_remaining", ctx.user_id, None)
            out = Outcome([self._prompt(work.engine, work.conv, sid, ctx.lang)], screening_id=sid)
        out.recorded = t("chose_document", ctx.lang)
        return out

    def _require_offer(self, work: _Work) -> None:
        """End/document buttons act only on the offer still waiting; an old one is stale."""
        if not _offer_pending(work.tx.last_event(_OFFER_EVENTS), work.screening):
            raise _Refused("stale")

    def _abandon(self, ctx: _Ctx, sid: int, confirmed: bool) -> Outcome:
        # The choice is shown once, on the pressed message; kept, the question comes back.
        if not confirmed:
            s = self.store.get_screening(sid)
            if s.investigator_id != ctx.user_id:
                raise _Refused("forged")
            if s.status != Status.IN_PROGRESS.value:  # "Keep it" after "Abandon": too late
                raise _Refused("closed")
            # Kept, it is the screening shown, so the one typed answers go to: touched as
            # by /resume (another may have become current since /cancel).
            out = self._resume(ctx, sid)
            out.recorded = t("not_abandoned", ctx.lang, code=s.patient_code)
            return out
        with self._session(ctx, sid) as work:
            work.tx.abandon(ctx.user_id, "cancelled by the investigator")
            for hook in self.abandoning:
                hook(work.tx, ctx.lang)
            text = t("abandoned", ctx.lang, code=work.screening.patient_code)
        # Another open screening is now the one typed answers go to: say which.
        other = self.store.find_open_screening(ctx.user_id)
        if other is None:
            return Outcome(recorded=text, screening_id=sid)
        replies = [Reply(t("resumed", ctx.lang, code=other.patient_code))]
        replies.append(self._current_view(ctx, other))
        return Outcome(replies, recorded=text, screening_id=other.id)

    # -- moving around -------------------------------------------------------------------------

    def _back(self, ctx: _Ctx) -> Outcome:
        if self.store.find_open_screening(ctx.user_id) is None:
            closed = self._just_closed(ctx)
            if closed is not None:
                return closed
        s = self._current(ctx)
        assert s.id is not None
        with self._session(ctx, s.id) as work:
            step = self._walk_back(work) or work.engine.back(work.conv)
            if step is None:
                reply = self._prompt(
                    work.engine, work.conv, s.id, ctx.lang, [t("nothing_back", ctx.lang)]
                )
                return Outcome([reply], screening_id=s.id)
            work.tx.set_state(step.state)
            work.tx.log_event("back", ctx.user_id, {"from": step.question_id, "to": step.state})
            reply = self._prompt(work.engine, work.conv, s.id, ctx.lang)
        return Outcome([reply], screening_id=s.id)

    def _walk_back(self, work: _Work) -> Step | None:
        """/back within a reopening's walk: to the walk's previous question, not the one
        before in the protocol, which the walk never asked (labs back: FFPE, then the
        neutrophils; /back showed the lab date).  None outside a walk, or at its first."""
        conv = work.conv
        walk = _walk_of(work.tx)
        if walk is None or conv.state not in walk.items:
            return None
        earlier = walk.items[: walk.items.index(conv.state)]
        for qid in reversed(earlier):
            if qid in conv.answers and conv.applies(qid) is True:
                source = conv.state
                work.engine.goto(conv, qid)
                return Step(source, qid, accepted=True)
        return None

    def _just_closed(self, ctx: _Ctx) -> Outcome | None:
        """/back right after a verdict, to change an answer: "no screening in progress"
        said nothing of the patient just closed, nor of the way to it.  Said of the last
        one closed: an incomplete one the investigator reopens with /resume, the others
        only a coordinator."""
        mine = self.store.list_screenings(ctx.user_id, Status.COMPLETED.value)
        if not mine:
            return None
        s = max(mine, key=lambda x: (x.updated_at, x.id or 0))
        verdict = t(f"verdict_{s.verdict}", ctx.lang)
        key = "back_closed_incomplete" if s.verdict == "incomplete" else "not_reopenable"
        return Outcome([Reply(t(key, ctx.lang, code=s.patient_code, verdict=verdict))])

    def _resume_command(self, ctx: _Ctx, code: str) -> Outcome:
        if code:
            found = self.store.find_open_screening(ctx.user_id, code)
            if found is not None and found.id is not None:
                return self._resume(ctx, found.id)
            latest = self._latest_of_code(ctx.user_id, code)
            if latest is None or latest.id is None:
                return Outcome([Reply(t("no_open_code", ctx.lang, code=code))])
            return self._resume(ctx, latest.id)
        mine = self.store.list_screenings(ctx.user_id, Status.IN_PROGRESS.value)
        if not mine:
            return Outcome([Reply(t("no_open", ctx.lang))])
        if len(mine) == 1:
            assert mine[0].id is not None
            return self._resume(ctx, mine[0].id)
        recent = sorted(mine, key=lambda s: s.updated_at, reverse=True)[:LIST_LIMIT]
        buttons = [Button(f"▶ {s.patient_code}", screening_data("r", s.id or 0)) for s in recent]
        return Outcome([Reply(t("resume_choose", ctx.lang), layout(buttons))])

    def _latest_of_code(self, user_id: int, code: str) -> Screening | None:
        """The code's latest screening that counts: one abandoned (a second screening opened
        by mistake, then dropped) never hides an earlier verdict."""
        closed = [s for s in self.store.list_screenings(user_id) if s.patient_code == code]
        kept = [s for s in closed if s.status != Status.ABANDONED.value] or closed
        return max(kept, key=lambda s: (s.updated_at, s.id or 0)) if kept else None

    def _new_anyway(self, ctx: _Ctx, sid: int) -> Outcome:
        earlier = self.store.get_screening(sid)
        if earlier.investigator_id != ctx.user_id:
            raise _Refused("forged")
        out = self._new(ctx, earlier.patient_code, anyway=True)
        if ctx.pressed:
            out.recorded = t("chose_new_anyway", ctx.lang)
        return out

    def _resume(self, ctx: _Ctx, sid: int) -> Outcome:
        s = self.store.get_screening(sid)
        if s.investigator_id != ctx.user_id:
            raise _Refused("forged")
        if s.status != Status.IN_PROGRESS.value:
            return self._reopen_incomplete(ctx, s)
        with self._session(ctx, sid) as work:
            # Touch the row: the most recently touched open screening is the current one.
            work.tx.set_state(work.conv.state)
            work.tx.log_event("resumed", ctx.user_id, None)
            code = work.screening.patient_code
            if work.conv.state == COMPLETE:
                return self._finish(ctx, work, [])
            last = work.tx.last_event(_OFFER_EVENTS)
            if _offer_pending(last, work.screening):
                # Days later: say again what failed, not only "choose first".
                assert last is not None
                reply = self._offer_again(
                    work.engine, work.conv, last, sid, ctx.lang, with_reasons=True
                )
            else:
                prompt = self._prompt(work.engine, work.conv, sid, ctx.lang)
                reply = self._with_past_start(work.engine, work.conv, sid, ctx.lang, prompt)
        out = Outcome([Reply(t("resumed", ctx.lang, code=code)), reply], screening_id=sid)
        if ctx.pressed:
            out.recorded = t("recorded", ctx.lang, answer=code)
        return out

    def _reopen_incomplete(self, ctx: _Ctx, s: Screening) -> Outcome:
        """Pre-screening finished days later: the labs came back for a screening that ended
        incomplete.  Its investigator may reopen it at the first question behind an
        unknown criterion; a verdict of eligible or not eligible is the coordinator's to
        reopen."""
        assert s.id is not None
        code = s.patient_code
        if s.status != Status.COMPLETED.value or s.verdict != "incomplete":
            shown = (
                t(f"verdict_{s.verdict}", ctx.lang)
                if s.verdict
                else t("status_abandoned", ctx.lang)
            )
            return Outcome([Reply(t("not_reopenable", ctx.lang, code=code, verdict=shown))])
        engine = self._engine_of(s)
        try:
            with self.store.screening_tx(s.id) as tx:
                if ctx.update_id is not None and not tx.claim_update(ctx.update_id):
                    return self._where_now(ctx, tx)
                state, answers = reopen_at_open_items(tx, engine, None, ctx.user_id, _RESUME_REASON)
                with engine.attached(state, answers, ctx.lang) as conv:
                    # Why each question of the walk comes back (the test is too old for
                    # the start, a value was unknown): days later, nobody remembers.
                    why = _by_reason(engine.evaluate(conv).unknown, ctx.lang)
                    prompt = self._prompt(engine, conv, s.id, ctx.lang)
                    reply = self._with_past_start(engine, conv, s.id, ctx.lang, prompt)
        except DuplicatePatientCode:
            return Outcome([Reply(t("other_open_code", ctx.lang, code=code))])
        reopened = "\n".join([t("reopened_incomplete", ctx.lang, code=code), *why])
        out = Outcome([Reply(reopened), reply], screening_id=s.id)
        if ctx.pressed:
            out.recorded = t("recorded", ctx.lang, answer=code)
        return out

    def _cancel(self, ctx: _Ctx) -> Outcome:
        if ctx.awaiting_code:
            self.store.set_awaiting_code(ctx.user_id, False)
            return Outcome([Reply(t("cancelled_code", ctx.lang))])
        s = self.store.find_open_screening(ctx.user_id)
        if s is None or s.id is None:
            return Outcome([Reply(t("nothing_to_cancel", ctx.lang))])
        self.store.set_abandon_pending(ctx.user_id, s.id)
        return Outcome([self._abandon_question(ctx, s, ())], screening_id=s.id)

    def _abandon_question(self, ctx: _Ctx, s: Screening, before: Sequence[str]) -> Reply:
        assert s.id is not None
        abandon = Button(
            t("button_abandon", ctx.lang, code=s.patient_code), screening_data("x", s.id, "y")
        )
        keep = Button(t("button_keep_screening", ctx.lang), screening_data("x", s.id, "n"))
        if self._resumed_by_investigator(s.id):
            # Taken up again to document labs: /cancel most likely means "not now", and
            # abandoning would throw away the verdict it had (coordinators told so).
            close = Button(t("button_close_again", ctx.lang), screening_data("x", s.id, "c"))
            text = t("cancel_confirm_resumed", ctx.lang, code=s.patient_code)
            return Reply("\n".join([*before, text]), ((close,), (abandon,), (keep,)))
        text = "\n".join([*before, t("cancel_confirm", ctx.lang, code=s.patient_code)])
        return Reply(text, ((abandon, keep),))

    def _resumed_by_investigator(self, sid: int) -> bool:
        """Whether the open screening is one its investigator reopened with /resume."""
        walk = _walk_from(self.store.last_event(sid, _WALK_EVENTS))
        return walk is not None and walk.reason == _RESUME_REASON and walk.verdict is not None

    def _close_again(self, ctx: _Ctx, sid: int) -> Outcome:
        """/cancel in a resumed walk, then "Close it again": completed with the answers
        given so far, as if the walk had reached its end (a kept walk says so)."""
        if not self._resumed_by_investigator(sid):
            raise _Refused("stale")
        with self._session(ctx, sid) as work:
            work.tx.log_event("closed_again", ctx.user_id, None)
            out = self._finish(ctx, work, [])
        out.recorded = t("chose_close_again", ctx.lang)
        return out

    def _abandon_still_asked(self, ctx: _Ctx, sid: int) -> Outcome | None:
        """The abandon question again, for a line typed while it waits; None once the
        screening is no longer open (then the line is handled as usual)."""
        s = self.store.find_open_screening(ctx.user_id)
        if s is None or s.id != sid:
            return None
        before = (t("abandon_use_buttons", ctx.lang),)
        return Outcome([self._abandon_question(ctx, s, before)], screening_id=sid, lang=ctx.lang)

    # -- read-only views -------------------------------------------------------------------------

    def _snapshot(self, s: Screening, lang: str) -> tuple[Engine, dict[str, Answer]]:
        assert s.id is not None
        return self._engine_of(s), answers_of(self.store.current_answers(s.id))

    def _status(self, ctx: _Ctx) -> Outcome:
        s = self._current(ctx)
        assert s.id is not None
        engine, answers = self._snapshot(s, ctx.lang)
        evaluation = _so_far(engine, s, answers, ctx.lang)
        with engine.attached(s.current_state, answers, ctx.lang) as conv:
            prompt = engine.prompt(conv)
            question = prompt.text if prompt else "—"
            progress = _progress(prompt.position, prompt.total, ctx.lang) if prompt else "—"
            status = t(
                "status",
                ctx.lang,
                code=s.patient_code,
                progress=progress,
                question=question,
                failed=len(evaluation.failed),
                unknown=len(evaluation.unknown),
            )
        reply = Reply(status)
        if START_QUESTION in answers and s.current_state != START_QUESTION:
            # The start moved (labs late, a bed free later): from here, one tap, not
            # 30 /back.
            reply = _with_start_button(reply, s.id, ctx.lang)
        return Outcome([reply, self._current_view(ctx, s)], screening_id=s.id)

    def _current_view(self, ctx: _Ctx, s: Screening) -> Reply:
        """An open screening's question, or its stop offer while that waits (read-only)."""
        assert s.id is not None
        last = self.store.last_event(s.id, _OFFER_EVENTS)
        engine, answers = self._snapshot(s, ctx.lang)
        with engine.attached(s.current_state, answers, ctx.lang) as conv:
            if _offer_pending(last, s):
                assert last is not None
                return self._offer_again(engine, conv, last, s.id, ctx.lang)
            return self._prompt(engine, conv, s.id, ctx.lang)

    def _summary(self, ctx: _Ctx) -> Outcome:
        s = self.store.find_open_screening(ctx.user_id)
        if s is None:
            mine = self.store.list_screenings(ctx.user_id)
            if not mine:
                return Outcome([Reply(t("no_screening", ctx.lang))])
            s = max(mine, key=lambda x: x.updated_at)
        engine, answers = self._snapshot(s, ctx.lang)
        evaluation = _so_far(engine, s, answers, ctx.lang)
        in_progress = s.status == Status.IN_PROGRESS.value
        title = "summary_title" if in_progress else "summary_title_closed"
        verdict_key = f"verdict_{evaluation.verdict}"
        if in_progress and evaluation.verdict == "incomplete" and evaluation.pending:
            # Not "unknown items" when nothing was answered unknown: questions remain.
            verdict_key = "verdict_incomplete_so_far"
        lines = [
            t(
                title,
                ctx.lang,
                code=s.patient_code,
                status=t(f"status_{s.status}", ctx.lang),
                verdict=t(verdict_key, ctx.lang),
            )
        ]
        # Mid-screening, criteria that only wait for questions still to come are one line:
        # listed one by one they were two full phone screens of "not yet answered".
        later = [
            cid
            for cid, r in evaluation.results.items()
            if in_progress and r.status == "unknown" and _waits_for_later(r, evaluation)
        ]
        # Ended at the first failed criterion: the others were never asked, and 35 lines of
        # "not yet answered" on a closed screening made two messages of nothing (as in the
        # verdict and the coordinators' summary, one line).
        ended_early = self._ended_early(s)
        never = [
            cid for cid, r in evaluation.results.items() if ended_early and r.status == "unknown"
        ]
        for cid, r in evaluation.results.items():
            if cid in later or cid in never:
                continue
            label = engine.protocol.criterion_by_id[cid].label.get(ctx.lang)
            lines.append(
                t(
                    "status_line",
                    ctx.lang,
                    mark=_MARKS[r.status],
                    id=cid,
                    label=label,
                    reason=r.reason,
                )
            )
        if later:
            lines.append(t("summary_later", ctx.lang, n=len(later), ids=", ".join(later)))
        if never:
            lines.append(t("summary_not_asked", ctx.lang, n=len(never), ids=", ".join(never)))
        # As in the verdict: what passes but a person should look at.
        lines += _flagged_section(engine, evaluation, ctx.lang)
        lines += earliest_lines(engine, evaluation, answers, ctx.lang)
        replies = [Reply("\n".join(lines))]
        if in_progress:
            # After a summary of 40 lines, the question (and its Keep button) was a long
            # scroll up on a phone: shown again under it, as /status does.
            replies.append(self._current_view(ctx, s))
        return Outcome(replies, screening_id=s.id)

    def _ended_early(self, s: Screening) -> bool:
        """Completed by "End screening" at a failed criterion (and not reopened since)."""
        if s.status != Status.COMPLETED.value or s.id is None:
            return False
        last = self.store.last_event(s.id, ("ended_at_first_fail", "reopened"))
        return last is not None and last.kind == "ended_at_first_fail"

    def _list(self, ctx: _Ctx) -> Outcome:
        every = self.store.list_screenings(ctx.user_id)
        mine = sorted(
            (s for s in every if s.status != Status.ABANDONED.value),
            key=lambda s: s.updated_at,
            reverse=True,
        )
        if not mine:
            key = "no_screening_left" if every else "no_screening"
            return Outcome([Reply(t(key, ctx.lang, n=len(every)))])
        lines = [t("list_title", ctx.lang)]
        buttons: list[Button] = []
        for s in mine[:LIST_LIMIT]:
            try:
                engine, answers = self._snapshot(s, ctx.lang)
            except ProtocolError:
                # One screening on a protocol file no longer loaded: the others still list.
                lines.append(t("list_unloaded", ctx.lang, code=s.patient_code))
                continue
            if s.status == Status.IN_PROGRESS.value:
                to_confirm = s.to_confirm or ()
                with engine.attached(s.current_state, answers, ctx.lang, None, to_confirm) as conv:
                    prompt = engine.prompt(conv)
                    left = len(waiting(conv))
                progress = _progress(prompt.position, prompt.total, ctx.lang) if prompt else "—"
                lines.append(
                    t("list_open", ctx.lang, code=s.patient_code, progress=progress, pending=left)
                )
                buttons.append(Button(f"▶ {s.patient_code}", screening_data("r", s.id or 0)))
            else:
                items = ""
                if s.verdict == "incomplete":
                    criteria = s.criteria_json or {}
                    ids = [cid for cid, r in criteria.items() if r.get("status") == "unknown"]
                    if ids:
                        items = t("list_items", ctx.lang, ids=", ".join(ids), code=s.patient_code)
                        buttons.append(
                            Button(f"▶ {s.patient_code}", screening_data("r", s.id or 0))
                        )
                verdict = t(f"verdict_{s.verdict}", ctx.lang) if s.verdict else s.status
                lines.append(
                    t("list_done", ctx.lang, code=s.patient_code, verdict=verdict, items=items)
                )
        if len(mine) > LIST_LIMIT:
            lines.append(t("list_more", ctx.lang, n=len(mine) - LIST_LIMIT))
        return Outcome([Reply("\n".join(lines), layout(buttons))])

    # -- rendering -------------------------------------------------------------------------------

    def _prompt(
        self,
        engine: Engine,
        conv: Conversation,
        sid: int,
        lang: str,
        before: Sequence[str] = (),
    ) -> Reply:
        prompt = engine.prompt(conv)
        if prompt is None:
            return Reply("\n".join(before)) if before else Reply("…")
        qid = prompt.question_id
        head = prompt.text
        if prompt.position:
            head = f"{_progress(prompt.position, prompt.total, lang)} · {head}"
        lines = [*before, head]
        if prompt.help:
            lines.append(prompt.help)
        typed = prompt.type not in (AnswerType.yesno, AnswerType.choice)
        buttons: list[Button] = []
        if typed:
            hint = engine.expected(qid, lang)
            if prompt.allows_unknown:
                hint += " " + t("unknown_hint", lang)
            lines.append(hint)
        else:
            for index, (value, label) in enumerate(prompt.choices):
                buttons.append(Button(label, answer_data(sid, qid, value, index)))
            if prompt.allows_unknown:
                buttons.append(
                    Button(t("button_unknown", lang), answer_data(sid, qid, UNKNOWN_VALUE, None))
                )
        keyboard = layout(buttons)
        if prompt.current is not None:
            lines.append(t("current_answer", lang, answer=prompt.current))
            if prompt.keepable:
                label = _phone_width(t("button_keep", lang, answer=prompt.current))
                keep = Button(label, keep_data(sid, qid))
                keyboard = (*keyboard, (keep,))
        return Reply("\n".join(lines), keyboard, typed=typed)

    def _with_past_start(
        self, engine: Engine, conv: Conversation, sid: int, lang: str, reply: Reply
    ) -> Reply:
        """A screening taken up days later whose planned start has passed: say so before
        its question, with a button straight to the start date (every date is checked
        against it, and /back would walk through every answer to reach it)."""
        start = conv.resolution.start
        if start is None or start >= engine.clock() or conv.state == START_QUESTION:
            return reply
        warning = t("start_now_past", lang, start=_date(start))
        return _with_start_button(replace(reply, text=f"{warning}\n{reply.text}"), sid, lang)

    @staticmethod
    def _past(work: _Work, value: object) -> bool:
        return isinstance(value, dt.date) and value < work.engine.clock()

    def _change_start(self, ctx: _Ctx, sid: int) -> Outcome:
        """Straight to the planned start date; answered, the dialog comes back where it was
        (everything between is answered), asking again what the new date makes invalid."""
        with self._session(ctx, sid) as work:
            was = work.conv.state
            # An older message's button, of a patient no longer current: say whose start
            # date is asked, since the date typed next goes to that patient.
            switched = (
                []
                if work.tx.is_current()
                else [t("resumed", ctx.lang, code=work.screening.patient_code)]
            )
            work.engine.goto(work.conv, START_QUESTION)
            work.tx.set_state(START_QUESTION)
            work.tx.log_event("back", ctx.user_id, {"from": was, "to": START_QUESTION})
            reply = self._prompt(work.engine, work.conv, sid, ctx.lang, switched)
        return Outcome([reply], recorded=t("button_change_start", ctx.lang), screening_id=sid)

    def _offer_again(
        self,
        engine: Engine,
        conv: Conversation,
        offer: EventRecord,
        sid: int,
        lang: str,
        *,
        with_reasons: bool = False,
    ) -> Reply:
        """A pending stop offer shown again (typed text, /status, /resume days later), with
        the start date button when it was made with one: a washout short of the start
        is fixed by moving the start, and the button went missing at the first re-show.
        ``with_reasons``: say again what failed (days later), not only "choose first"."""
        detail = offer.detail if isinstance(offer.detail, dict) else {}
        ids = set(detail.get("criteria") or ())
        failed = [r for r in engine.evaluate(conv).failed if r.id in ids]
        before = [self._failure_line(engine, r, lang) for r in failed] if with_reasons else []
        reply = self._offer(sid, lang, before)
        if any(r.earliest_start is not None for r in failed):
            reply = _with_start_button(reply, sid, lang)
        return reply

    def _offer(self, sid: int, lang: str, before: Sequence[str]) -> Reply:
        keyboard = (
            (Button(t("button_end", lang), screening_data("e", sid)),),
            (Button(t("button_document", lang), screening_data("d", sid)),),
        )
        text = "\n".join([*before, t("stop_offer", lang) if before else t("stop_pending", lang)])
        return Reply(text, keyboard)

    def _failure_line(self, engine: Engine, r: CriterionResult, lang: str) -> str:
        label = engine.protocol.criterion_by_id[r.id].label.get(lang)
        return t("criterion_failed", lang, id=r.id, label=label, reason=r.reason)

    def _verdict_lines(
        self,
        engine: Engine,
        s: Screening,
        evaluation: Evaluation,
        lang: str,
        ended_early: bool = False,
        answers: Mapping[str, Answer] | None = None,
    ) -> list[str]:
        lines = [
            t(
                "complete",
                lang,
                code=s.patient_code,
                verdict=t(f"verdict_{evaluation.verdict}", lang),
            )
        ]

        lines += _section(engine, lang, "failing", evaluation.failed)
        if ended_early:
            if evaluation.unknown:
                lines.append(t("not_documented", lang, n=len(evaluation.unknown)))
        else:
            lines += _section(engine, lang, "unknowns", evaluation.unknown)
        lines += _flagged_section(engine, evaluation, lang)
        return lines + earliest_lines(engine, evaluation, answers or {}, lang)


def _section(
    engine: Engine,
    lang: str,
    title_key: str,
    results: Sequence[CriterionResult],
    flagged: bool = False,
) -> list[str]:
    if not results:
        return []
    lines = [t(title_key, lang)]
    for r in results:
        label = engine.protocol.criterion_by_id[r.id].label.get(lang)
        reason = (r.flagged or r.reason) if flagged else r.reason
        lines.append(t("criterion_line", lang, id=r.id, label=label, reason=reason))
    return lines


def _flagged_section(engine: Engine, evaluation: Evaluation, lang: str) -> list[str]:
    flagged = tuple(r for r in evaluation.results.values() if r.flagged)
    return _section(engine, lang, "flagged", flagged, flagged=True)


def _language_keyboard() -> Keyboard:
    return (
        (
            Button(_LANGUAGE_NAMES["en"], language_data("en")),
            Button(_LANGUAGE_NAMES["fr"], language_data("fr")),
        ),
    )


def _with_start_button(reply: Reply, sid: int, lang: str) -> Reply:
    button = Button(t("button_change_start", lang), screening_data("s", sid))
    return replace(reply, keyboard=(*reply.keyboard, (button,)))


def _command_of(text: str) -> str:
    """'/Status@screenbot now' -> 'status'."""
    return text.partition(" ")[0][1:].split("@", 1)[0].lower()


# What a full-width button shows on a phone before Telegram cuts it off mid-word.
PHONE_BUTTON_WIDTH = 30


def _phone_width(label: str) -> str:
    """A label cut where a phone would, but said to be cut: « Garder : Lymphome primitif
    du système nerveux central » ran off the screen.  The whole answer is in the text."""
    if len(label) <= PHONE_BUTTON_WIDTH:
        return label
    return label[: PHONE_BUTTON_WIDTH - 1].rstrip(" ,;:") + "…"


def _progress(position: int, total: int, lang: str) -> str:
    return t("progress", lang, position=position, total=total)


def earliest_lines(
    engine: Engine, evaluation: Evaluation, answers: Mapping[str, Answer], lang: str
) -> list[str]:
    """The earliest start date, and what would no longer hold on it (the investigator's
    verdict and the coordinators' summary say the same: the coordinator books the date).

    Waiting for a washout ages the labs and the pregnancy test: a start moved to the
    earliest date could be 'incomplete' for labs older than 14 days.  The answers are
    evaluated again with that start, and what passes now but not then is said.
    """
    day = evaluation.earliest_start
    if day is None:
        return []
    lines = [t("earliest", lang, date=_date(day))]
    if START_QUESTION not in answers:
        return lines
    moved = {**answers, START_QUESTION: Answer(START_QUESTION, day.isoformat(), day)}
    then = engine.evaluate_answers(moved, lang)
    lost = (
        r
        for cid, r in then.results.items()
        if r.status in ("unknown", "fail") and evaluation.results[cid].status == "pass"
    )
    lines += _by_reason(lost, lang, "earliest_then")
    return lines


def _read_otherwise(raw: str, display: str | None) -> bool:
    """Whether the recorded answer reads otherwise than the text typed (case, spaces and a
    final full stop aside): '54' recorded as 54 needs no read-back, 'NA' as unknown does."""

    def plain(text: str) -> str:
        return " ".join(text.casefold().split()).rstrip(".")

    return display is not None and plain(raw) != plain(display)


def _by_reason(
    results: Iterable[CriterionResult], lang: str, key: str = "criteria_warning"
) -> list[str]:
    """One line per reason, its criteria IDs together: "⚠️ I09, I10, I11: labs older
    than 14 days" once, not three times."""
    grouped: dict[str, list[str]] = {}
    for r in results:
        grouped.setdefault(r.reason, []).append(r.id)
    return [t(key, lang, ids=", ".join(ids), reason=reason) for reason, ids in grouped.items()]


def _waits_for_later(r: CriterionResult, evaluation: Evaluation) -> bool:
    """Whether an unknown criterion lacks only questions not answered yet (pending),
    nothing answered "unknown" nor anything gone stale."""
    return bool(r.open_questions) and set(r.open_questions) <= set(evaluation.pending)


def _so_far(engine: Engine, s: Screening, answers: Mapping[str, Answer], lang: str) -> Evaluation:
    """The evaluation at this stage, without the answers still to confirm.

    Those were measured on an earlier lab date (or reopened by a query): the dialog asks
    them again, with Keep, and until then /summary and /status must not present them as
    current.  They read 'ELIGIBLE' on the old labs while the bot was asking for new ones.
    """
    held = set(s.to_confirm or ()) if s.status == Status.IN_PROGRESS.value else set()
    current = {qid: a for qid, a in answers.items() if qid not in held}
    return engine.evaluate_answers(current, lang)


def waiting(conv: Conversation) -> list[str]:
    """The questions still to answer, in order: pending (no answer, or one a start date
    change voided) and the answers to confirm (new labs, a reopening)."""
    pending = set(conv.resolution.pending)
    return [
        q for q in conv.protocol.order if q in pending or (q in conv.to_confirm and conv.waits(q))
    ]


def _date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def _change_reason(tx: ScreeningTx, was: str) -> str:
    """Why an answer was changed, for the audit trail (which also links the old record)."""
    reopened = tx.last_event(("reopened",))
    if reopened is not None and isinstance(reopened.detail, dict) and reopened.detail.get("reason"):
        return f"{CHANGED_AFTER_REOPENING} ({reopened.detail['reason']}); was {was!r}"
    return f"{CHANGED_AFTER_BACK}; was {was!r}"
