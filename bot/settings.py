"""Runtime settings, read from the environment (and an optional .env file).

Only the composition root reads settings; the engine and storage receive plain values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    database_url: str | None = None
    data_dir: Path = Path("data")
    protocol_dir: Path | None = None
    default_language: str = "en"
    coordinator_chat_id: int | None = None
    reminder_days: int = 3
    reminder_interval_minutes: int = 60
    stop_at_first_fail: bool = True
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: SecretStr | None = None
    log_level: str = "INFO"
    # The site's time zone (IANA name, e.g. Europe/Paris): "today" for the dialog.  A
    # server on UTC would refuse, from midnight to 1-2 am in France, a lab drawn today
    # as "after today".  Unset: the server's local time.
    timezone: str | None = None

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
    def effective_database_url(self) -> str:
        """PostgreSQL when DATABASE_URL is set, else the embedded SQLite file in data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'screenbot.sqlite3').resolve()}"
