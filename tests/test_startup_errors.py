"""What ``screenbot`` says when the bot cannot start: one line, never the token.

The main job runs through the real command line (``bot.cli.main``) with python-telegram-
bot's real ``run_polling`` / ``run_webhook``; only the Bot API transport is an offline
fake (a ``BaseRequest`` answering like Telegram would), and the webhook binds loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from telegram.error import NetworkError, TimedOut

from bot.app import SecretFilter, mask_token
from bot.cli import main
from tests.bot.transcript import OfflineRequest
from tests.conftest import one_line

TOKEN = "123456:AAFakeSecretTokenValue-xyz_0123456789"
SECRET = TOKEN.split(":", 1)[1]
ROOT = Path(__file__).resolve().parents[1]


class RejectingRequest(OfflineRequest):
    """Telegram answering 401 Unauthorized to getMe: a revoked or mistyped token."""

    def scripted(self, endpoint: str) -> tuple[int, bytes] | None:
        if endpoint == "getMe":
            body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return 401, json.dumps(body).encode()
        return None


class TimingOutRequest(OfflineRequest):
    """Telegram (or a local Bot API server) that never answers."""

    def scripted(self, endpoint: str) -> tuple[int, bytes] | None:
        raise TimedOut()


class UnreachableRequest(OfflineRequest):
    """No route to Telegram: what HTTPXRequest raises when the connection is refused."""

    def scripted(self, endpoint: str) -> tuple[int, bytes] | None:
        raise NetworkError("httpx.ConnectError: [Errno 111] Connection refused")


@pytest.fixture
def bot_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A configured bot: token set, SQLite in tmp; a fresh event loop for PTB's runner
    (``run_polling`` closes the loop it used)."""
    monkeypatch.setenv("DATA_DIR", str(clean_env / "data"))
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    for name in ("WEBHOOK_URL", "WEBHOOK_LISTEN", "WEBHOOK_PORT", "TELEGRAM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield clean_env
    if not loop.is_closed():
        loop.close()
    asyncio.set_event_loop(None)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# -- the token ------------------------------------------------------------------------------


def test_a_rejected_token_is_one_line_without_its_secret(
    bot_env: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # even the debug traceback must not show the token
    assert main([], request=RejectingRequest()) == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line == (
        "screenbot: error: Telegram rejected the bot token (123456:***): check TELEGRAM_TOKEN"
    )
    everything = captured.out + captured.err + caplog.text
    assert "was rejected" in caplog.text  # the traceback is there, at DEBUG, masked
    assert SECRET not in everything


def test_at_info_the_log_holds_no_traceback_of_a_rejected_token(
    bot_env: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    assert main([], request=RejectingRequest()) == 1
    one_line(capsys.readouterr().err)
    assert "Traceback" not in caplog.text and SECRET not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_secret_filter_masks_message_arguments_and_exceptions() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", (f"/bot{TOKEN}/",), None)
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.stack_info = f"stack with {SECRET}"
    assert SecretFilter(TOKEN).filter(record)
    text = logging.Formatter().format(record)
    assert SECRET not in text and "url /bot123456:***/" in text and "`123456:***`" in text
    assert mask_token("no token here", TOKEN) == "no token here"


# -- the network and the webhook server -----------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            TimingOutRequest(),
            "Telegram did not answer in time (https://api.telegram.org): "
            "check TELEGRAM_API_BASE_URL and the network",
        ),
        (
            UnreachableRequest(),
            "cannot reach Telegram at https://api.telegram.org (httpx.ConnectError: [Errno 111] "
            "Connection refused): check TELEGRAM_API_BASE_URL and the network",
        ),
    ],
    ids=["timeout", "no-network"],
)
def test_telegram_out_of_reach_is_one_line(
    request_: OfflineRequest,
    expected: str,
    bot_env: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    assert main([], request=request_) == 1
    assert one_line(capsys.readouterr().err) == f"screenbot: error: {expected}"
    assert "Traceback" not in caplog.text


def test_a_webhook_port_in_use_is_one_line(
    bot_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    with _listening_socket() as busy:
        port = busy.getsockname()[1]
        monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/telegram")
        monkeypatch.setenv("WEBHOOK_LISTEN", "127.0.0.1")
        monkeypatch.setenv("WEBHOOK_PORT", str(port))
        assert main([], request=OfflineRequest()) == 1
    assert one_line(capsys.readouterr().err) == (
        f"screenbot: error: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "check WEBHOOK_LISTEN and WEBHOOK_PORT"
    )
    assert "Traceback" not in caplog.text


def test_a_webhook_listen_name_that_does_not_resolve_is_one_line(
    bot_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        socket.getaddrinfo("no-such-host.invalid", 8443)
    except socket.gaierror:
        pass
    else:  # pragma: no cover - a resolver that answers for .invalid
        pytest.skip("this machine's resolver answers for .invalid names")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/telegram")
    monkeypatch.setenv("WEBHOOK_LISTEN", "no-such-host.invalid")
    assert main([], request=OfflineRequest()) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("screenbot: error: cannot listen on no-such-host.invalid:8443 (")
    assert line.endswith("): check WEBHOOK_LISTEN and WEBHOOK_PORT")


# -- the installed command against a local server answering 401 (as QA ran it) -------------


class _Unauthorized(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.mark.slow
def test_the_installed_command_never_prints_the_token(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DATA_DIR": str(tmp_path / "data"),
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}/bot",
        }
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli"],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "screenbot: error: Telegram rejected the bot token (123456:***) at "
        f"http://127.0.0.1:{server.server_address[1]}: "
        "check TELEGRAM_TOKEN and TELEGRAM_API_BASE_URL"
    )


# -- a quiet log ------------------------------------------------------------------------------


def test_scheduler_job_runs_are_not_logged_at_info(
    bot_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """apscheduler logs two INFO lines per job run; the outbox job runs every few
    seconds: tens of thousands of lines a day."""
    from bot.app import build_application, build_services, configure_logging
    from bot.settings import Settings

    caplog.set_level(logging.INFO)  # LOG_LEVEL=INFO, the default
    settings = Settings()
    configure_logging(settings)
    services = build_services(settings)
    try:
        build_application(settings, services, request=OfflineRequest())
    finally:
        services.close()
    for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    assert logging.getLogger("apscheduler").isEnabledFor(logging.WARNING)


def test_a_retry_loop_failing_after_start_up_is_still_an_error() -> None:
    """Only the start-up loops are said in one line by run_bot: a token revoked while
    polling (the "Polling Updates" loop) must stay an ERROR record, not vanish to DEBUG."""
    from bot.app import StartupFailureFilter

    def record(text: str) -> logging.LogRecord:
        return logging.LogRecord("telegram.ext", logging.ERROR, __file__, 1, text, None, None)

    quiet = StartupFailureFilter()
    polling = record("Network Retry Loop (Polling Updates): Invalid token. Aborting retry loop.")
    assert quiet.filter(polling) and polling.levelno == logging.ERROR
    bootstrap = record(
        "Network Retry Loop (Bootstrap Initialize Application): Invalid token. Aborting retry loop."
    )
    quiet.filter(bootstrap)
    assert bootstrap.levelno == logging.DEBUG


# -- webhook mode as run by the command line -------------------------------------------------

WEBHOOK_SECRET = "balancer-shares-this-secret-42"


class HeldReplyRequest(OfflineRequest):
    """The Bot API where a reply (sendMessage) waits until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = threading.Event()
        self.release = threading.Event()

    async def do_request(
        self, url: str, method: str, *args: object, **kwargs: object
    ) -> tuple[int, bytes]:
        if url.endswith("/sendMessage"):
            self.sending.set()
            await asyncio.to_thread(self.release.wait, 10)
        return await super().do_request(url, method, *args, **kwargs)  # type: ignore[arg-type]


def test_sigterm_finishes_the_update_in_progress_and_debug_never_logs_the_webhook_secret(
    bot_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``screenbot`` in webhook mode at LOG_LEVEL=DEBUG: a /help arrives, SIGTERM comes while
    its reply is still being sent; the reply goes out, then the 200, then the bot exits 0.
    python-telegram-bot logs setWebhook's parameters at DEBUG: the secret must be masked."""
    import httpx

    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/telegram")
    monkeypatch.setenv("WEBHOOK_LISTEN", "127.0.0.1")
    monkeypatch.setenv("WEBHOOK_PORT", str(port))
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    request = HeldReplyRequest()
    outcome: dict[str, object] = {}

    def telegram_then_sigterm() -> None:
        try:
            deadline = time.monotonic() + 20
            while not request.of("setWebhook") or not _accepts(port):
                assert time.monotonic() < deadline, "the webhook never started"
                time.sleep(0.02)
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": 777, "type": "private"},
                    "from": {"id": 777, "is_bot": False, "first_name": "X"},
                    "text": "/help",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                },
            }
            with httpx.Client(timeout=20, trust_env=False) as client:
                poster = threading.Thread(
                    target=lambda: outcome.update(
                        response=client.post(
                            f"http://127.0.0.1:{port}/telegram",
                            json=update,
                            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                        )
                    )
                )
                poster.start()
                assert request.sending.wait(10), "no reply was attempted"
                os.kill(os.getpid(), signal.SIGTERM)  # the worker is asked to stop
                time.sleep(0.3)
                outcome["answered_before_release"] = "response" in outcome
                request.release.set()
                poster.join(20)
        except (AssertionError, OSError, httpx.HTTPError) as exc:  # for the main thread
            outcome["error"] = exc
            request.release.set()
            os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=telegram_then_sigterm, daemon=True)
    helper.start()
    assert main([], request=request) == 0
    helper.join(20)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["answered_before_release"] is False
    response = outcome["response"]
    assert isinstance(response, httpx.Response) and response.status_code == 200
    assert [c.params["chat_id"] for c in request.of("sendMessage")] == [777]
    [registered] = request.of("setWebhook")
    assert registered.params["secret_token"] == WEBHOOK_SECRET
    assert "setWebhook" in caplog.text  # the call is logged at DEBUG, its secret masked
    assert WEBHOOK_SECRET not in caplog.text
    assert SECRET not in caplog.text


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_state_machine_does_not_log_each_answer_at_info(
    bot_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """transitions logs three INFO lines per answer: three quarters of a worker's log."""
    from bot.app import configure_logging
    from bot.settings import Settings

    caplog.set_level(logging.INFO)  # LOG_LEVEL=INFO, the default
    configure_logging(Settings())
    assert not logging.getLogger("transitions.core").isEnabledFor(logging.INFO)
    assert logging.getLogger("transitions.core").isEnabledFor(logging.WARNING)
