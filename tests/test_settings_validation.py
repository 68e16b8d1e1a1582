"""Settings that cannot work are refused at start-up, in one line naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telegram.request import BaseRequest, RequestData

from bot.app import build_application, build_services
from bot.cli import main
from bot.settings import Settings
from tests.bot.transcript import OfflineRequest
from tests.conftest import one_line

TOKEN = "123456:AAFakeSecretTokenValue"


@pytest.fixture
def env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATA_DIR", str(clean_env / "data"))
    for name in ("WEBHOOK_URL", "WEBHOOK_LISTEN", "WEBHOOK_PORT", "TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    return clean_env


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("WEBHOOK_PORT", "99999", "WEBHOOK_PORT: Input should be less than or equal to 65535"),
        ("WEBHOOK_PORT", "0", "WEBHOOK_PORT: Input should be greater than or equal to 1"),
        (
            "WEBHOOK_URL",
            "notaurl",
            "WEBHOOK_URL: must be an https:// URL (Telegram only delivers webhooks over "
            "HTTPS), e.g. https://bot.example.org/telegram",
        ),
        (
            "WEBHOOK_URL",
            "http://bot.example.org/telegram",
            "WEBHOOK_URL: must be an https:// URL (Telegram only delivers webhooks over "
            "HTTPS), e.g. https://bot.example.org/telegram",
        ),
        (
            "WEBHOOK_URL",
            "https:///telegram",
            "WEBHOOK_URL: must name a host, e.g. https://bot.example.org/telegram",
        ),
        (
            "WEBHOOK_LISTEN",
            "0.0.0.0:8443",
            "WEBHOOK_LISTEN: not an IP address or host name (e.g. 0.0.0.0, ::, 127.0.0.1)",
        ),
        ("REMINDER_DAYS", "0", "REMINDER_DAYS: Input should be greater than or equal to 1"),
        (
            "REMINDER_INTERVAL_MINUTES",
            "0",
            "REMINDER_INTERVAL_MINUTES: Input should be greater than or equal to 1",
        ),
        (
            "TIMEZONE",
            "Mars/Olympus",
            "TIMEZONE: unknown time zone 'Mars/Olympus' (an IANA name, e.g. Europe/Paris)",
        ),
        (
            "TELEGRAM_API_BASE_URL",
            "localhost:8081",
            "TELEGRAM_API_BASE_URL: must be an http:// or https:// URL, e.g. http://127.0.0.1:8081",
        ),
    ],
    ids=[
        "port-too-big",
        "port-zero",
        "url-not-a-url",
        "url-http",
        "url-no-host",
        "listen-with-port",
        "reminder-days-0",
        "reminder-interval-0",
        "timezone",
        "api-base-no-scheme",
    ],
)
def test_a_setting_that_cannot_work_is_refused_in_one_line(
    name: str,
    value: str,
    expected: str,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    assert main([]) == 1
    assert one_line(capsys.readouterr().err) == f"screenbot: error: {expected}"
    assert not (env / "data").exists()  # refused before anything was created


@pytest.mark.parametrize(
    ("value", "listen"),
    [("::", "::"), ("127.0.0.1", "127.0.0.1"), ("localhost", "localhost"), (" ::1 ", "::1")],
)
def test_webhook_listen_takes_addresses_and_host_names(value: str, listen: str) -> None:
    assert Settings(webhook_listen=value).webhook_listen == listen


def test_an_empty_webhook_url_means_polling() -> None:
    assert Settings(webhook_url="").webhook_url is None


# -- TELEGRAM_API_BASE_URL: with or without the /bot a Bot API server's docs show --------


class UrlRecordingRequest(OfflineRequest):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        self.urls.append(url)
        return await super().do_request(url, method, request_data)


@pytest.mark.parametrize(
    "base",
    [
        "http://api.local:8081",
        "http://api.local:8081/",
        "http://api.local:8081/bot",
        "http://api.local:8081/bot/",
    ],
)
async def test_a_local_bot_api_server_is_called_at_bot_token(base: str, tmp_path: Path) -> None:
    settings = Settings(
        telegram_token=TOKEN, telegram_api_base_url=base, data_dir=tmp_path / "data"
    )
    services = build_services(settings)
    request = UrlRecordingRequest()
    try:
        app = build_application(settings, services, request=request, get_updates_request=request)
        await app.bot.get_me()
    finally:
        services.close()
    assert request.urls == [f"http://api.local:8081/bot{TOKEN}/getMe"]
    assert app.bot.base_file_url == f"http://api.local:8081/file/bot{TOKEN}"
