"""Webhook mode's HTTP server: an update is acknowledged only once it has been processed.

python-telegram-bot's own webhook server answers 200 as soon as an update is queued, and
handles the queue one update at a time.  A worker killed with updates in its queue (OOM,
container kill) loses them, since Telegram never resends an update it got a 200 for, and one
slow reply (Telegram, or another worker's row lock) holds up every other user's.  This
server instead:

* runs :meth:`Application.process_update` (the handlers, then the error handler if one
  raised) inside the request and answers 200 only after it returned, i.e. after the
  flow committed and the replies went out.  A worker that dies before that answers
  nothing; Telegram delivers the update again, and the processed-updates claim in the
  flow's transaction makes the second delivery change nothing (it shows the screen again);
* processes different chats' updates concurrently, one chat's one at a time in arrival
  order (:class:`ChatLocks`): "54" then "F" typed quickly are applied in that order;
* answers 403 for a missing or wrong ``X-Telegram-Bot-Api-Secret-Token`` header, 404 for
  another path (tornado's router), 400 for a body that is no update, 503 while stopping;
* on stop, stops listening, refuses new requests on open connections (503: Telegram
  resends them to another worker), lets the updates in progress finish (up to
  ``drain_seconds``, after which they are cancelled and answered 500), then closes.

HTTP is tornado's, as in python-telegram-bot's server; nothing here parses HTTP.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any

import tornado.web
from telegram import Update
from telegram.ext import ExtBot
from tornado.httpserver import HTTPServer

from bot.handlers import AnyApplication

if TYPE_CHECKING:
    from bot.app import WebhookOptions

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's default; what python-telegram-bot's start_webhook passed to setWebhook.
MAX_CONNECTIONS = 40
# How long a stopping worker lets the updates in progress finish (a container manager's
# grace period is typically 10 to 30 s before SIGKILL).
DRAIN_SECONDS = 20.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)


class ChatLocks:
    """One asyncio lock per chat, alive only while an update of that chat is in progress.

    ``asyncio.Lock`` wakes its waiters first come, first served, so one chat's updates run
    in the order their requests arrived; other chats' do not wait for them.
    """

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: int | None) -> AsyncIterator[None]:
        if key is None:  # no chat and no user: nothing to keep in order with
            yield
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def ordering_key(update: Update) -> int | None:
    """The chat whose updates must stay in order: the update's chat, else its user."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class WebhookServer:
    """Serves ``options['url_path']`` on ``listen:port`` and registers the webhook."""

    def __init__(
        self,
        app: AnyApplication,
        options: WebhookOptions,
        *,
        drain_seconds: float = DRAIN_SECONDS,
    ) -> None:
        self.app = app
        self.options = options
        self.drain_seconds = drain_seconds
        self.locks = ChatLocks()
        self._secret = (options["secret_token"] or "").encode() or None
        self._in_progress: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._http: HTTPServer | None = None

    @property
    def in_progress(self) -> int:
        """How many updates this worker is processing (received, not yet answered)."""
        return len(self._in_progress)

    async def start(self) -> None:
        """Listen (an ``OSError`` if the address is unusable), then call setWebhook.

        Listening first: a worker that cannot serve must not point Telegram at itself.
        """
        path = "/" + self.options["url_path"].strip("/")
        route = rf"{re.escape(path.rstrip('/'))}/?"
        web_app = tornado.web.Application(
            [(route, _UpdateHandler, {"server": self})], log_function=_log_request
        )
        http = HTTPServer(web_app)
        http.listen(self.options["port"], address=self.options["listen"])
        self._http = http
        try:
            await self.app.bot.set_webhook(
                url=self.options["webhook_url"],
                allowed_updates=self.options["allowed_updates"],
                secret_token=self.options["secret_token"],
                max_connections=MAX_CONNECTIONS,
            )
        except BaseException:
            http.stop()
            self._http = None
            raise
        log.debug("webhook server listening on %s:%s", self.options["listen"], self.options["port"])

    async def stop(self) -> None:
        """Stop listening, let the updates in progress finish, close every connection."""
        self._stopping = True
        http, self._http = self._http, None
        if http is None:
            return
        http.stop()
        pending = set(self._in_progress)
        if pending:
            log.info("stopping: finishing %d update(s) in progress", len(pending))
            _done, late = await asyncio.wait(pending, timeout=self.drain_seconds)
            for task in late:  # answered 500 by tornado: Telegram delivers them again
                task.cancel()
            if late:
                log.warning(
                    "stopping: %d update(s) not finished in time, left to Telegram", len(late)
                )
                await asyncio.wait(late)
        await http.close_all_connections()

    async def handle(self, secret: str | None, body: bytes) -> HTTPStatus:
        """One POST to the webhook path: the status to answer, once the update was processed."""
        if self._secret is not None and not (
            secret is not None and hmac.compare_digest(secret.encode(), self._secret)
        ):
            log.debug("webhook request without the right secret token refused")
            return HTTPStatus.FORBIDDEN
        if self._stopping:
            return HTTPStatus.SERVICE_UNAVAILABLE
        try:
            update = Update.de_json(json.loads(body), self.app.bot)
        except Exception:  # not JSON, or JSON that is no Update
            log.warning("webhook request of %d bytes is no update", len(body), exc_info=True)
            return HTTPStatus.BAD_REQUEST
        if isinstance(self.app.bot, ExtBot):  # arbitrary callback data, when enabled
            self.app.bot.insert_callback_data(update)
        task = asyncio.current_task()
        assert task is not None
        self._in_progress.add(task)
        try:
            async with self.locks.hold(ordering_key(update)):
                await self.app.process_update(update)
        finally:
            self._in_progress.discard(task)
        return HTTPStatus.OK


class _UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def post(self) -> None:
        status = await self.server.handle(
            self.request.headers.get(SECRET_HEADER), self.request.body
        )
        self.set_status(status)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, tornado.web.HTTPError):
            log.debug("webhook request answered %s", value.status_code)
        else:  # not an update's handler error: those went to the error handler
            log.error("webhook request failed", exc_info=value)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    request = handler.request
    log.debug(
        "%s %s %s %.1f ms",
        handler.get_status(),
        request.method,
        request.path,
        1000 * request.request_time(),
    )


async def serve(
    app: AnyApplication,
    options: WebhookOptions,
    stop: asyncio.Event,
    *,
    drain_seconds: float = DRAIN_SECONDS,
) -> None:
    """What ``Application.run_webhook`` does, with this server: initialize (getMe),
    post_init, listen and setWebhook, start (job queue); then, once ``stop`` is set, stop
    serving (finishing the updates in progress) and shut everything down."""
    server = WebhookServer(app, options, drain_seconds=drain_seconds)
    try:
        await app.initialize()
        await _call(app.post_init, app)
        await server.start()
        await app.start()
        await stop.wait()
        log.info("stopping")
    finally:
        await server.stop()
        if app.running:
            await app.stop()
            await _call(app.post_stop, app)
        await app.shutdown()
        await _call(app.post_shutdown, app)


async def _call(hook: Callable[[AnyApplication], Awaitable[None]] | None, app: Any) -> None:
    if hook is not None:
        await hook(app)


def run_webhook(app: AnyApplication, options: WebhookOptions) -> None:
    """Serve until SIGINT, SIGTERM or SIGABRT (then finish the updates in progress)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            with suppress(NotImplementedError):  # an event loop without signal handlers
                loop.add_signal_handler(sig, stop.set)
        try:
            await serve(app, options, stop)
        finally:
            for sig in STOP_SIGNALS:
                with suppress(NotImplementedError):
                    loop.remove_signal_handler(sig)

    asyncio.run(main())
