"""The composition root: the only place that reads settings and wires the pieces together.

``build_services`` opens storage (applying migrations) and loads the protocols;
``build_application`` builds the Telegram ``Application`` around them.  Tests and a local
Bot API server replace the transport by passing ``request`` / ``get_updates_request`` or
setting ``TELEGRAM_API_BASE_URL``.

Coordinator features (issue 5) plug in without editing this file:

* ``Services.on_completing``: sync hooks run inside the completion's transaction, right
  after ``tx.complete(...)`` (``hook(tx, engine, evaluation)``), e.g. queueing the
  coordinators' summary in the outbox; an exception rolls the completion back;
* ``Services.on_completed``: async hooks run after the commit and the verdict reply
  (``await hook(application, completed)``);
* ``register_coordinator_handlers(app, services)`` imports each module named in
  ``EXTENSION_MODULES`` that exists and calls its ``register(app, services)`` with this
  module's :class:`Services` (settings, store, registry, flow and the two hook lists);
  it is called before the application starts, after the flow's commands; handlers it
  adds in group 0 take precedence over the investigator's free-text and fallback handlers
  (which are added after it), so use specific filters and callback-data prefixes other
  than the flow's (``a k e d x r l`` followed by ``|``).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, TypedDict
from urllib.parse import urlparse

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.errors import ConfigurationError
from bot.handlers import AnyApplication, CompletedHook, TelegramFrontEnd
from bot.keyboards import FLOW_PREFIXES
from bot.screening_flow import AbandoningHook, CompletingHook, ScreeningFlow
from bot.settings import Settings
from bot.texts import COMMANDS
from bot.webhook import run_webhook
from dialogs.engine import Clock
from dialogs.registry import ProtocolRegistry
from storage import Store

log = logging.getLogger(__name__)

# Modules that add features on top of the investigator's Application (if present).
EXTENSION_MODULES: tuple[str, ...] = ("bot.coordinator",)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
FLOW_COMMANDS = (*(name for name, _ in COMMANDS["en"]), "start")
FLOW_CALLBACKS = rf"^[{''.join(sorted(FLOW_PREFIXES))}]\|"


@dataclass
class Services:
    registry: ProtocolRegistry
    store: Store
    settings: Settings
    flow: ScreeningFlow
    on_completing: list[CompletingHook] = field(default_factory=list)
    on_abandoning: list[AbandoningHook] = field(default_factory=list)
    on_completed: list[CompletedHook] = field(default_factory=list)

    def close(self) -> None:
        self.store.close()


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_transport_loggers()
    if settings.telegram_token is not None:
        webhook_secret = (
            settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        )
        install_secret_filter(settings.telegram_token.get_secret_value(), webhook_secret)
    install_startup_filter()


def quiet_transport_loggers() -> None:
    """Loggers too chatty for a server's log at INFO.

    httpx logs every request URL, and the URL contains the bot token; apscheduler logs
    two lines each time a job runs (the outbox job runs every few seconds: tens of
    thousands of lines a day that hide everything else); transitions (the dialog's state
    machine) logs three lines per answer, three quarters of a busy worker's log.
    """
    for name in ("httpx", "httpcore", "apscheduler", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)


def shown_token(token: str) -> str:
    """The token as it may be shown: its public bot id, the secret part masked."""
    bot_id, colon, _secret = token.partition(":")
    return f"{bot_id}:***" if colon else "***"


def mask_token(text: str, token: str) -> str:
    """``text`` with the token's secret part (or the whole token) replaced by ``***``.

    The secret part alone is masked too: it can appear without the bot id (a URL
    quoted in pieces, an exception that cut the token).
    """
    if not token:
        return text
    text = text.replace(token, shown_token(token))
    _bot_id, colon, secret = token.partition(":")
    if colon and secret:
        text = text.replace(secret, "***")
    return text


class SecretFilter(logging.Filter):
    """Masks the bot token and the webhook secret in every record a handler emits:
    message, arguments, exception and stack text.

    Defence in depth: python-telegram-bot puts the token in exception messages
    (``InvalidToken: The token `…` was rejected``) and request URLs, and at DEBUG logs
    every Bot API call's parameters (setWebhook's ``secret_token``); any library may log
    either.  Installed on the handlers, because a filter on a logger does not see the
    records of its child loggers.
    """

    def __init__(self, token: str, webhook_secret: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.webhook_secret = webhook_secret or None

    def mask(self, text: str) -> str:
        text = mask_token(text, self.token)
        if self.webhook_secret:
            text = text.replace(self.webhook_secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.mask(_message(record)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def install_secret_filter(token: str, webhook_secret: str | None = None) -> None:
    """Put a :class:`SecretFilter` for ``token`` (and the webhook secret) on every handler
    of the root logger."""
    secrets = (token, webhook_secret or None)
    for handler in logging.getLogger().handlers:
        if not any(
            isinstance(f, SecretFilter) and (f.token, f.webhook_secret) == secrets
            for f in handler.filters
        ):
            handler.addFilter(SecretFilter(token, webhook_secret))


class StartupFailureFilter(logging.Filter):
    """Moves python-telegram-bot's "retry loop … Aborting" errors to DEBUG.

    The loop gives up only at start-up (getMe, deleteWebhook, setWebhook) and then
    re-raises, and :func:`run_bot` reports that error in one line naming what to check;
    the record it logs first is the same error with 60 lines of traceback.  With
    LOG_LEVEL=DEBUG the traceback is still logged, at DEBUG.
    """

    # Only the start-up loops ("Bootstrap Initialize Application", "Bootstrap delete
    # Webhook", …): a token revoked while polling must still be logged as an error.
    PREFIX = "Network Retry Loop (Bootstrap "

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not _message(record).startswith(self.PREFIX):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format
        return f"{record.msg} {record.args!r}"


def install_startup_filter() -> None:
    """On the logger python-telegram-bot's retry loop writes to (``telegram.ext``)."""
    logger = logging.getLogger("telegram.ext")
    if not any(isinstance(f, StartupFailureFilter) for f in logger.filters):
        logger.addFilter(StartupFailureFilter())


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Storage (migrated to the latest schema) and every protocol version, ready to serve."""
    settings.protocol_files()  # a missing or empty PROTOCOL_DIR, named
    registry = ProtocolRegistry.from_directory(settings.protocol_dir, clock or settings.today)
    store = Store(settings.effective_database_url)
    store.upgrade()
    completing: list[CompletingHook] = []
    abandoning: list[AbandoningHook] = []
    flow = ScreeningFlow(
        registry,
        store,
        stop_at_first_fail=settings.stop_at_first_fail,
        default_language=settings.default_language,
        completing=completing,
        abandoning=abandoning,
    )
    return Services(
        registry, store, settings, flow, on_completing=completing, on_abandoning=abandoning
    )


def build_application(
    settings: Settings,
    services: Services,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    *,
    rate_limiter: bool = True,
) -> AnyApplication:
    """The Telegram Application: investigator handlers, extensions, error handler.

    ``rate_limiter=False`` only for measurements: AIORateLimiter holds outgoing calls to
    Telegram's 30 messages/s, which would hide the cost of the bot's own work.
    """
    if settings.telegram_token is None:
        raise ConfigurationError("TELEGRAM_TOKEN is not set")
    quiet_transport_loggers()
    base = (
        Application.builder()
        .token(settings.telegram_token.get_secret_value())
        .post_init(_post_init)
    )
    # Typed Any: the builder's generic parameters change with the rate limiter.
    builder: Any = base.rate_limiter(AIORateLimiter()) if rate_limiter else base
    if settings.telegram_api_base_url:
        api = settings.telegram_api_base_url.rstrip("/")
        builder = builder.base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    app: AnyApplication = builder.build()

    # On the embedded SQLite the flow runs on the event loop (see bot.handlers).
    offload = services.store.dialect != "sqlite"
    front = TelegramFrontEnd(services.flow, services.on_completed, offload=offload)
    only_new = filters.UpdateType.MESSAGE  # an edited old message must not answer anew
    app.add_handler(CommandHandler(FLOW_COMMANDS, front.on_message, filters=only_new))
    app.add_handler(CallbackQueryHandler(front.on_callback, pattern=FLOW_CALLBACKS))
    register_coordinator_handlers(app, services)
    app.add_handler(MessageHandler(only_new & filters.TEXT & ~filters.COMMAND, front.on_message))
    app.add_handler(MessageHandler(only_new & filters.COMMAND, front.on_message))
    # A photo of a lab report, a voice note, a sticker: told to type it (private chats
    # only: in a coordinators' group the bot must not answer everyone's pictures).
    unreadable = only_new & filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL
    app.add_handler(MessageHandler(unreadable, front.on_unreadable))
    app.add_handler(CallbackQueryHandler(front.on_callback))  # anything else: refused
    app.add_error_handler(front.on_error)
    app.bot_data["services"] = services
    return app


def register_coordinator_handlers(app: AnyApplication, services: Services) -> None:
    """Let each extension module present add its handlers, jobs and completion hooks."""
    for name in EXTENSION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app, services)


async def register_commands(app: AnyApplication) -> None:
    """The menu commands, in English (default) and French (users with a French client)."""
    await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS["en"]])
    await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS["fr"]], language_code="fr")


async def _post_init(app: AnyApplication) -> None:
    await register_commands(app)


class WebhookOptions(TypedDict):
    listen: str
    port: int
    url_path: str
    webhook_url: str
    secret_token: str | None
    allowed_updates: list[str]


def webhook_options(settings: Settings) -> WebhookOptions:
    """The webhook server's and setWebhook's parameters, from settings, in one place.

    ``run_bot`` passes them to :func:`bot.webhook.run_webhook`; tests start the same
    :class:`bot.webhook.WebhookServer` with them inside their event loop, so what they
    exercise is what a worker behind the load balancer runs.  The path served is the
    public URL's path: the balancer forwards the request unchanged.
    """
    if not settings.webhook_url:
        raise ConfigurationError("WEBHOOK_URL is not set")
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    return WebhookOptions(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=urlparse(settings.webhook_url).path.lstrip("/"),
        webhook_url=settings.webhook_url,
        secret_token=secret,
        allowed_updates=list(ALLOWED_UPDATES),
    )


class StartupError(ConfigurationError):
    """The bot could not start: Telegram unreachable or refusing, or the webhook port."""


def run_bot(app: AnyApplication, settings: Settings) -> None:
    """Polling by default; a webhook when WEBHOOK_URL is set (several workers, one DB).

    The webhook is :mod:`bot.webhook`'s server, not python-telegram-bot's: it answers
    Telegram only after the update was processed, and runs different chats' updates
    concurrently.

    A failure to start (token refused, Telegram unreachable, port in use) raises
    :class:`StartupError` with one line naming the setting to check: the command line
    prints it instead of python-telegram-bot's chained tracebacks, which also quote
    the token.
    """
    try:
        if settings.webhook_url:
            opts = webhook_options(settings)
            log.info("webhook mode on %s:%s/%s", opts["listen"], opts["port"], opts["url_path"])
            run_webhook(app, opts)
        else:
            log.info("polling mode")
            app.run_polling(allowed_updates=ALLOWED_UPDATES)
    except (TelegramError, OSError) as exc:
        problem = startup_problem(exc, settings)
        if problem is None:
            raise
        log.debug("start-up failed", exc_info=True)
        raise StartupError(problem) from None


def startup_problem(exc: BaseException, settings: Settings) -> str | None:
    """One line for a start-up failure, without the token; None for anything else."""
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    custom_api = settings.telegram_api_base_url
    api = custom_api or "https://api.telegram.org"
    detail = mask_token(_first_line(exc), token)
    if isinstance(exc, InvalidToken):
        if custom_api:
            # A Bot API server answers 404 for a wrong path too, which PTB reads as this.
            return (
                f"Telegram rejected the bot token ({shown_token(token)}) at {custom_api}: "
                "check TELEGRAM_TOKEN and TELEGRAM_API_BASE_URL"
            )
        return f"Telegram rejected the bot token ({shown_token(token)}): check TELEGRAM_TOKEN"
    if isinstance(exc, TimedOut):
        return (
            f"Telegram did not answer in time ({api}): check TELEGRAM_API_BASE_URL and the network"
        )
    if isinstance(exc, NetworkError):
        return (
            f"cannot reach Telegram at {api} ({detail}): check TELEGRAM_API_BASE_URL and "
            "the network"
        )
    if isinstance(exc, TelegramError):
        check = "WEBHOOK_URL" if settings.webhook_url else "TELEGRAM_TOKEN"
        return f"Telegram refused to start the bot ({detail}): check {check}"
    if isinstance(exc, OSError) and settings.webhook_url:
        # Address in use (errno 98), no permission (a port below 1024), an address not
        # on this machine (99) or a name that does not resolve (socket.gaierror).
        reason = exc.strerror or detail
        return (
            f"cannot listen on {settings.webhook_listen}:{settings.webhook_port} ({reason}): "
            "check WEBHOOK_LISTEN and WEBHOOK_PORT"
        )
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def services_of(app: AnyApplication) -> Services:
    services: Any = app.bot_data["services"]
    assert isinstance(services, Services)
    return services
