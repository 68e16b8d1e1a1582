"""Telegram handlers: turn an Update into an :class:`Incoming`, run the flow, send the Outcome.

Replies are sent only after the flow returned, i.e. after its commit.  Where the flow
(storage + engine, synchronous) runs is the composition root's choice (``offload``):

* PostgreSQL: in a worker thread.  The flow waits on the network and, now and then, on
  another worker's row lock; the event loop must keep serving meanwhile.
* the embedded SQLite: on the event loop, as the benchmark's floor does.  The work is
  local CPU plus one fsync (about a millisecond); the hop to a thread and back cost about
  0.1 ms per update here (a fifth of a whole bare reply), and buys no concurrency, since
  polling processes updates one at a time (the webhook server, ``bot.webhook``, runs
  different chats at once: it is how several workers share PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import CallbackQuery, ForceReply, InlineKeyboardMarkup, Message, Update
from telegram import User as TelegramUser
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes

from bot.errors import screening_of
from bot.keyboards import code_prompt_markup, parse_data, to_markup
from bot.screening_flow import Incoming, Outcome, Reply, ScreeningCompleted, ScreeningFlow
from bot.texts import LANGUAGES, language_of, t
from storage.errors import StorageError

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096
MAX_NOTICE = 200

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
CompletedHook = Callable[[AnyApplication, ScreeningCompleted], Awaitable[None]]
"""Runs after the completion committed and the verdict was sent (e.g. kick the outbox)."""

_CODE_PROMPTS = frozenset(t("ask_code", lang) for lang in LANGUAGES)


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split at line breaks into pieces Telegram accepts; hard-split only overlong lines."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _is_code_prompt(message: Message | None) -> bool:
    if message is None or message.reply_to_message is None:
        return False
    replied = message.reply_to_message
    author = replied.from_user
    return bool(author and author.is_bot and replied.text in _CODE_PROMPTS)


def _replied_question(message: Message) -> tuple[int, str] | None:
    """The (screening, question) of the bot's question message this one replies to, read
    from its answer or Keep buttons; None when it replies to nothing of the kind."""
    replied = message.reply_to_message
    if replied is None or replied.reply_markup is None:
        return None
    author = replied.from_user
    if author is None or not author.is_bot:
        return None
    for row in replied.reply_markup.inline_keyboard:
        for button in row:
            raw = button.callback_data if isinstance(button.callback_data, str) else None
            data = parse_data(raw)
            if data is None or data.kind not in ("a", "k"):
                continue
            if data.screening_id is not None and data.question_id:
                return data.screening_id, data.question_id
    return None


class TelegramFrontEnd:
    """The investigator's handlers; ``completed_hooks`` is shared with Services.on_completed."""

    def __init__(
        self,
        flow: ScreeningFlow,
        completed_hooks: Sequence[CompletedHook],
        *,
        offload: bool = True,
    ) -> None:
        self.flow = flow
        self.completed_hooks = completed_hooks
        self.offload = offload

    async def _run(self, incoming: Incoming) -> Outcome:
        if self.offload:
            return await asyncio.to_thread(self.flow.handle, incoming)
        return self.flow.handle(incoming)

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None or message.text is None:
            return
        incoming = _incoming(
            update,
            user,
            text=message.text,
            reply_to_code_prompt=_is_code_prompt(message),
            replied_question=_replied_question(message),
        )
        outcome = await self._run(incoming)
        await self._send(context, message.chat_id, outcome)
        await self._completed(context, outcome)

    async def on_unreadable(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message without text (photo, voice note, sticker, file): nothing is read from
        it; the user is told to type the answer, and sees what the bot waits for."""
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None:
            return
        outcome = await self._run(_incoming(update, user, unreadable=True))
        await self._send(context, message.chat_id, outcome)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        user = update.effective_user
        if query is None or user is None:
            return
        incoming = _incoming(update, user, data=query.data or "")
        outcome = await self._run(incoming)
        notice = outcome.notice[:MAX_NOTICE] if outcome.notice else None
        # A press costs up to three Bot API calls (stop the spinner, edit the pressed
        # message, send what comes next).  They do not depend on one another, so they go
        # out together: on a phone the press then takes one round trip to Telegram, not
        # three.  Replies of one outcome still go out in order, inside _send.
        calls: list[Awaitable[object]] = [_answer_query(query, notice)]
        message = query.message
        if outcome.recorded and isinstance(message, Message) and message.text is not None:
            calls.append(_edit(query, message, f"{message.text}\n{outcome.recorded}"))
        chat = update.effective_chat
        if chat is not None:
            calls.append(self._send(context, chat.id, outcome))
        await _all(calls)
        await self._completed(context, outcome)

    async def _send(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, outcome: Outcome
    ) -> None:
        for reply in outcome.replies:
            await send_reply(context, chat_id, reply, outcome.lang)

    async def _completed(self, context: ContextTypes.DEFAULT_TYPE, outcome: Outcome) -> None:
        if outcome.completed is None:
            return
        for hook in self.completed_hooks:
            try:
                await hook(context.application, outcome.completed)
            except Exception:  # a hook must never cost the investigator the reply
                log.exception(
                    "completion hook failed (screening %s)", outcome.completed.screening_id
                )

    async def _language(self, user: TelegramUser) -> str:
        """The user's language for the apology: the one chosen with /lang, as every reply.
        The error may be the database itself: then the Telegram client's language."""
        store = self.flow.store
        try:
            if self.offload:
                stored = await asyncio.to_thread(store.get_user, user.id)
            else:
                stored = store.get_user(user.id)
        except (StorageError, SQLAlchemyError):  # what failed the update may fail this too
            log.warning("no stored language for user %s: the client's is used", user.id)
            stored = None
        chosen = stored.language if stored is not None else None
        return language_of(chosen, user.language_code, self.flow.default_language)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Global error handler: apology to the user, traceback with screening id to the log."""
        error = context.error
        sid = screening_of(error)
        user_id = None
        lang = "en"
        chat_id = None
        if isinstance(update, Update):
            if update.effective_user is not None:
                user_id = update.effective_user.id
                lang = await self._language(update.effective_user)
            if update.effective_chat is not None:
                chat_id = update.effective_chat.id
        log.error(
            "update %s failed (screening %s, user %s)",
            getattr(update, "update_id", None),
            sid,
            user_id,
            exc_info=error,
        )
        if not isinstance(update, Update):
            return
        try:
            if update.callback_query is not None:
                await update.callback_query.answer()
            if chat_id is not None:
                await context.bot.send_message(chat_id, t("apology", lang))
        except TelegramError as exc:
            log.warning("could not send the apology: %s", exc)


def _incoming(update: Update, user: TelegramUser, **what: Any) -> Incoming:
    return Incoming(
        user_id=user.id,
        update_id=update.update_id,
        language_code=user.language_code,
        display_name=user.full_name,
        **what,
    )


async def _answer_query(query: CallbackQuery, notice: str | None) -> None:
    try:
        await query.answer(notice)
    except BadRequest as exc:
        # "query is too old": a press that waited out a restart.  Its answer is recorded
        # and the next question still goes out; only the spinner was left to stop.
        log.info("could not answer callback query %s: %s", query.id, exc)


async def _edit(query: CallbackQuery, message: Message, text: str) -> None:
    try:
        await query.edit_message_text(text[:MAX_MESSAGE])
    except BadRequest as exc:  # e.g. "message is not modified", or too old to edit
        log.info("could not edit message %s: %s", message.message_id, exc)


async def _all(calls: Sequence[Awaitable[object]]) -> None:
    """Await the calls concurrently; every one runs to its end, then the first error is
    raised (for the error handler), so none is left running unobserved."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def send_reply(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply, lang: str
) -> None:
    """Send one reply, split to Telegram's length limit; buttons go on the last piece."""
    pieces = split_text(reply.text)
    for piece in pieces[:-1]:
        await context.bot.send_message(chat_id, piece)
    markup: InlineKeyboardMarkup | ForceReply | None = None
    if reply.keyboard:
        markup = to_markup(reply.keyboard)
    elif reply.ask_code:
        markup = code_prompt_markup(t("code_placeholder", lang))
    await context.bot.send_message(chat_id, pieces[-1], reply_markup=markup)
