"""Delivers the outbox: summaries, queries and reminders, once each, whatever the network does.

Why a separate sender rather than sending from the handler that completed the screening:
the completion commits first, with its messages in the outbox; the send happens after,
and may fail.  This job retries with exponential backoff on network errors, waits as long
as Telegram asks on ``RetryAfter``, and marks a message sent only after Telegram accepted
it.  Each attempt first *claims* the row (pushing its next attempt a lease ahead), so two
runs of the job, or two bot processes on one database, never send the same row twice; a
process killed mid-send leaves the row to be retried once the lease expires (the one
case a message can arrive twice: Telegram accepted it but the process died before
recording so).

The ids of the Telegram messages a row became are recorded with it, so that a reply to
one (an investigator answering a query) is recognised as such.  A row whose recipient was
deactivated since it was queued is skipped: revoked access ends the messages too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.handlers import split_text
from bot.texts import LANGUAGES, language_of
from storage import Store
from storage.coordination import (
    OutboxMessage,
    backoff,
    claim,
    due_messages,
    is_deactivated,
    mark_failed,
    mark_sent,
    mark_skipped,
    skip_for_deactivated,
)
from storage.models import utcnow

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=120)
BATCH = 50


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a rendered outbox row becomes in Telegram (HTML text and optional buttons)."""

    text: str
    markup: InlineKeyboardMarkup | None = None


# Renders a row at send time (called in a worker thread: it may read the database);
# None means the message is obsolete and is skipped.
Renderer = Callable[[OutboxMessage], Outgoing | None]


# -- the reader's language ---------------------------------------------------------------------
# A row is worded when it is queued and read when it is sent, by someone who may have changed
# language meanwhile: its payload carries its words in every language, and the renderer
# picks the recipient's at send time.


def recipient_language(store: Store, chat_id: int, default: str = "en") -> str:
    """The language of a message pushed to ``chat_id``, by the rule every reply follows:
    the user's chosen language, else their Telegram client's as last seen in one of their
    updates (``users.telegram_language``), else ``default``.  A group chat (negative id)
    has no language of its own: ``default``.
    """
    user = store.get_user(chat_id) if chat_id > 0 else None
    if user is None:
        return language_of(None, None, default)
    return language_of(user.language, user.telegram_language, default)


def in_every_language(lang: str, words: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """A payload's words in ``lang`` (the screening's) and, under ``translations``, in
    every other language: the recipient's is only known when the message is sent."""
    return {
        **words(lang),
        "lang": lang,
        "translations": {other: words(other) for other in LANGUAGES if other != lang},
    }


def worded_in(payload: Mapping[str, Any], lang: str) -> Mapping[str, Any]:
    """A payload with its words in ``lang`` when it carries them (``translations``).

    A payload without them (queued by an older version, or a language added since)
    keeps its own words; the frame around them is in ``lang`` all the same.
    """
    if lang == payload.get("lang"):
        return payload
    return {**payload, **(payload.get("translations") or {}).get(lang, {})}


@dataclass(slots=True)
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    flood_wait: float | None = None


def retry_after_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` is an int or a timedelta depending on PTB settings.

    Both are handled, so the int form's deprecation warning is noise here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


async def deliver_due(
    bot: Bot,
    store: Store,
    render: Renderer,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    limit: int = BATCH,
) -> DeliveryReport:
    """Send what is due now; every outcome is written back before returning."""
    report = DeliveryReport()
    now = clock()
    due = await asyncio.to_thread(due_messages, store, now, limit)
    for message in due:
        assert message.id is not None
        if not await asyncio.to_thread(claim, store, message, now, LEASE):
            continue  # another run took it
        if message.recipient > 0 and await asyncio.to_thread(
            is_deactivated, store, message.recipient
        ):
            await asyncio.to_thread(skip_for_deactivated, store, message)
            report.skipped.append(message.id)
            log.info("outbox: message %s skipped: recipient deactivated", message.id)
            continue
        outgoing = await asyncio.to_thread(render, message)
        if outgoing is None:
            await asyncio.to_thread(mark_skipped, store, message.id, "obsolete before delivery")
            report.skipped.append(message.id)
            continue
        attempt = message.attempts + 1
        try:
            # A summary listing every undocumented criterion passes Telegram's 4096
            # characters; it goes in pieces cut at line ends (its HTML tags never span a
            # line), the buttons on the last.  A retry after a failed piece sends the
            # earlier pieces again: a repeat, never a loss.
            pieces = split_text(outgoing.text)
            delivered: list[int] = []
            for index, piece in enumerate(pieces, 1):
                sent = await bot.send_message(
                    chat_id=message.recipient,
                    text=piece,
                    parse_mode=ParseMode.HTML,
                    reply_markup=outgoing.markup if index == len(pieces) else None,
                )
                delivered.append(sent.message_id)
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            retry_at = clock() + dt.timedelta(seconds=wait)
            await asyncio.to_thread(mark_failed, store, message.id, str(exc), retry_at)
            report.retrying.append(message.id)
            report.flood_wait = wait
            log.warning("outbox: flood control, waiting %.0f s before sending more", wait)
            break  # the limit is the bot's: sending the rest now would only extend it
        except (BadRequest, Forbidden, ChatMigrated) as exc:
            # Telegram will refuse this message whatever we do (unknown chat, bot blocked):
            # keep it, failed, for an operator rather than retrying forever.
            await asyncio.to_thread(mark_failed, store, message.id, repr(exc), None)
            report.failed.append(message.id)
            log.error("outbox: message %s to %s refused: %s", message.id, message.recipient, exc)
        except (NetworkError, TelegramError) as exc:
            retry_at = clock() + backoff(attempt)
            await asyncio.to_thread(mark_failed, store, message.id, repr(exc), retry_at)
            report.retrying.append(message.id)
            log.warning(
                "outbox: message %s attempt %d failed (%s); retry at %s",
                message.id,
                attempt,
                exc,
                retry_at.isoformat(),
            )
        else:
            await asyncio.to_thread(
                mark_sent, store, message.id, clock(), message.recipient, delivered
            )
            report.sent.append(message.id)
    return report
