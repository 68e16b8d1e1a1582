"""Runtime settings, read from the environment (and an optional .env file).

Only the composition root reads settings; the engine and storage receive plain values.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigurationError
from dialogs.protocol import PROTOCOL_DIR

# A host name as a resolver takes it (RFC 1123 labels): WEBHOOK_LISTEN=localhost is fine,
# "0.0.0.0:8443" or "http://host" is a setting put in the wrong variable.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    database_url: str | None = None
    data_dir: Path = Path("data")
    protocol_dir: Path | None = None
    default_language: str = "en"
    coordinator_chat_id: int | None = None
    # At least 1: 0 days would remind every idle screening at once, and a 0-minute
    # interval runs the reminder job in a tight loop (every second).
    reminder_days: Annotated[int, Field(ge=1)] = 3
    reminder_interval_minutes: Annotated[int, Field(ge=1)] = 60
    stop_at_first_fail: bool = True
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    # A TCP port: the server would otherwise listen on the value modulo 65536 while the
    # log names the value given.
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = 8443
    webhook_secret: SecretStr | None = None
    log_level: str = "INFO"
    # The site's time zone (IANA name, e.g. Europe/Paris): "today" for the dialog.  A
    # server on UTC would refuse, from midnight to 1-2 am in France, a lab drawn today
    # as "after today".  Unset: the server's local time.
    timezone: str | None = None

    @field_validator("telegram_api_base_url")
    @classmethod
    def _api_root(cls, url: str | None) -> str | None:
        """The server's root URL: python-telegram-bot appends ``/bot<token>`` itself.

        A local Bot API server's documentation gives ``http://host:8081/bot``; taken as
        is, requests would go to ``/bot/bot<token>/getMe`` (404, read as a bad token), so
        one trailing ``/bot`` is dropped.
        """
        if url is None or not url.strip():
            return None
        root = url.strip().rstrip("/")
        root = root.removesuffix("/bot").rstrip("/")
        parts = urlsplit(root)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8081")
        return root

    @field_validator("webhook_url")
    @classmethod
    def _https_url(cls, url: str | None) -> str | None:
        """Telegram delivers webhooks over HTTPS only: anything else would start and then
        fail at setWebhook (or never receive an update), so it is refused at start-up.
        The value itself is not echoed: it may carry a secret path."""
        if url is None or not url.strip():
            return None
        url = url.strip()
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is no number
        except ValueError:
            raise ValueError("not a URL (expected https://host/path)") from None
        if parts.scheme != "https":
            raise ValueError(
                "must be an https:// URL (Telegram only delivers webhooks over HTTPS), "
                "e.g. https://bot.example.org/telegram"
            )
        if not parts.hostname:
            raise ValueError("must name a host, e.g. https://bot.example.org/telegram")
        return url

    @field_validator("webhook_listen")
    @classmethod
    def _listen_address(cls, address: str) -> str:
        """An IP address or a host name, nothing else (no port, scheme or path): the web
        server would otherwise fail deep inside its event loop."""
        address = address.strip()
        try:
            ipaddress.ip_address(address)
        except ValueError:
            if not _HOST_NAME.match(address):
                raise ValueError(
                    "not an IP address or host name (e.g. 0.0.0.0, ::, 127.0.0.1)"
                ) from None
        return address

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if not name:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris)"
            ) from None
        return name

    def today(self) -> dt.date:
        """Today's date at the site."""
        if self.timezone is None:
            return dt.date.today()
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def effective_protocol_dir(self) -> Path:
        """PROTOCOL_DIR, else the protocol files bundled with screenbot."""
        return self.protocol_dir or PROTOCOL_DIR

    def protocol_files(self) -> list[Path]:
        """The protocol files the bot loads (``*.yaml`` in the effective folder).

        Raises :class:`ConfigurationError` naming the folder when it is missing or holds
        none: the registry alone would say "no protocol loaded", without saying where
        it looked.
        """
        folder = self.effective_protocol_dir
        if not folder.is_dir():
            raise ConfigurationError(f"PROTOCOL_DIR {folder}: no such folder")
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise ConfigurationError(f"PROTOCOL_DIR {folder}: no protocol file (*.yaml) in it")
        return files

    @property
    def effective_database_url(self) -> str:
        """PostgreSQL when DATABASE_URL is set, else the embedded SQLite file in data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'screenbot.sqlite3').resolve()}"
