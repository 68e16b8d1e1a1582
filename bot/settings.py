"""Runtime settings, read from the environment (and an optional .env file).

Only the composition root reads settings; the engine and storage receive plain values.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
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

    @property
    def effective_database_url(self) -> str:
        """PostgreSQL when DATABASE_URL is set, else the embedded SQLite file in data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'screenbot.sqlite3').resolve()}"
