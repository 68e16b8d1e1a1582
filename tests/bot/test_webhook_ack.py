"""Webhook mode acknowledges an update only once it has been processed, and processes
different chats at once, one chat in order.

Telegram never delivers an update again once it got a 200 for it: a worker must not say
200 before the answer is committed and the reply sent.  When it dies or is stopped before
that, Telegram gets no 200 and delivers the update again (to any worker), and the
processed-updates claim makes that second delivery change nothing.

The workers are the real composition on loopback against PostgreSQL (see
``test_webhook``); the Bot API is answered offline by a fake that can hold a reply
(``sendMessage``) in flight, as a slow Telegram does.  One test kills a real worker
process (``screenbot`` as deployed) with SIGKILL while it sends its reply.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.request import BaseRequest, RequestData

from tests.bot.conftest import INVESTIGATOR, OTHER_INVESTIGATOR, TODAY, eligible_on
from tests.bot.test_webhook import (
    CODE,
    PUBLIC_URL,
    SECRET,
    SECRET_HEADER,
    Telegram,
    Worker,
    WorkerRequest,
    current,
    free_loopback_port,
    history,
    new_screening,
    pg_url,  # noqa: F401  (a fixture)
    settings_for,
    telegram,  # noqa: F401  (a fixture)
)
from tests.bot.transcript import OfflineRequest

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
WAIT = 5.0


class SlowTelegram(WorkerRequest):
    """The offline Bot API, where a reply (``sendMessage``) can take its time.

    * ``hold``: while set to an unset event, every sendMessage waits for it (at most
      ``WAIT`` seconds);
    * ``meet``: a sendMessage waits up to this long for another one to be in flight
      (what a 1 s Telegram does to two replies sent at the same moment, made exact);

    ``sending`` is set when a sendMessage starts; ``log`` has each one's start and end.
    """

    def __init__(self, first_message_id: int = 1) -> None:
        super().__init__(first_message_id)
        self.hold: asyncio.Event | None = None
        self.meet = 0.0
        self.sending = asyncio.Event()
        self.log: list[tuple[str, int, str]] = []  # "start" | "end", chat, text
        self.in_flight: Counter[int] = Counter()
        self.most_in_flight = 0
        self.most_in_flight_per_chat: Counter[int] = Counter()
        self._two = asyncio.Event()

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
        if url.endswith("/sendMessage") and request_data is not None:
            chat, text = (
                int(request_data.parameters["chat_id"]),
                str(request_data.parameters["text"]),
            )
            self.log.append(("start", chat, text))
            self.in_flight[chat] += 1
            self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
            self.most_in_flight_per_chat[chat] = max(
                self.most_in_flight_per_chat[chat], self.in_flight[chat]
            )
            if sum(self.in_flight.values()) >= 2:
                self._two.set()
            self.sending.set()
            try:
                if self.hold is not None:  # bounded: a test that fails must still end
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self.hold.wait(), WAIT)
                if self.meet:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._two.wait(), self.meet)
            finally:
                self.in_flight[chat] -= 1
            result = await super().do_request(url, method, request_data)
            self.log.append(("end", chat, text))
            return result
        return await super().do_request(url, method, request_data)

    def replies(self, chat: int) -> list[tuple[str, str]]:
        return [(what, text) for what, to, text in self.log if to == chat]


@pytest.fixture
async def make_worker(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[..., Awaitable[Worker]]]:
    monkeypatch.setattr("bot.app.EXTENSION_MODULES", ())
    started: list[Worker] = []
    first_ids = itertools.count(1, 100_000)

    async def make(name: str, request: OfflineRequest | None = None) -> Worker:
        settings = settings_for(pg_url, tmp_path)
        worker = Worker(name, settings, next(first_ids), request=request)
        started.append(worker)
        if len(started) == 1:
            worker.services.store.add_user(INVESTIGATOR, "investigator", "Dr A", actor="test")
            worker.services.store.add_user(OTHER_INVESTIGATOR, "investigator", "Dr B", actor="test")
        await worker.start()
        return worker

    try:
        yield make
    finally:
        for worker in started:
            await worker.stop()


async def no_response(post: Awaitable[httpx.Response]) -> str:
    """What the poster got instead of a 200: a status, or the connection closed."""
    try:
        response = await post
    except httpx.TransportError as exc:  # the worker went away without answering
        return type(exc).__name__
    assert response.status_code != 200, "acknowledged an update it did not finish"
    return str(response.status_code)


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


# -- acknowledged after processing -------------------------------------------------------------


async def test_the_200_comes_only_after_the_reply_was_sent(
    make_worker: Callable[..., Awaitable[Worker]],
    telegram: Telegram,  # noqa: F811
) -> None:
    slow = SlowTelegram()
    a = await make_worker("A", slow)
    slow.hold = asyncio.Event()

    post = asyncio.create_task(telegram.post(a, telegram.message("/new")))
    await asyncio.wait_for(slow.sending.wait(), WAIT)  # the worker is sending its reply
    await asyncio.sleep(0.3)
    assert not post.done(), "Telegram was told the update is done before the reply went out"
    slow.hold.set()
    response = await asyncio.wait_for(post, WAIT)
    assert response.status_code == 200
    assert slow.replies(INVESTIGATOR)[-1][0] == "end"  # the reply was sent, then the 200
    assert a.request.texts_to(INVESTIGATOR)[-1].startswith("Patient code?")


async def test_an_update_cut_off_midway_gets_no_200_and_its_redelivery_applies_once(
    make_worker: Callable[..., Awaitable[Worker]],
    telegram: Telegram,  # noqa: F811
) -> None:
    """A worker stopped (redeploy, scale-in) while it sends a reply, and its grace period
    runs out: the update in progress is cancelled, Telegram gets no 200 and delivers it
    again, here to the other worker."""
    slow = SlowTelegram()
    a = await make_worker("A", slow)
    b = await make_worker("B")
    sid = await new_screening(telegram, a, b)
    first = current(a, sid).current_state
    update = telegram.message(eligible_on(TODAY)[first])

    slow.hold = asyncio.Event()  # Telegram does not answer A's reply in time
    slow.sending.clear()
    post = asyncio.create_task(telegram.post(a, update))
    await asyncio.wait_for(slow.sending.wait(), WAIT)
    assert current(b, sid).answer_count == 1  # committed before the reply, as always
    a.server.drain_seconds = 0.2
    await a.server.stop()
    got = await no_response(post)
    assert got == "500", got

    [*_, shown] = await telegram.deliver(b, update)  # Telegram delivers it again
    after = current(b, sid)
    assert after.answer_count == 1 and after.current_state != first
    assert [(r.question_id, r.raw) for r in history(b, sid)] == [(first, update["message"]["text"])]
    assert not shown["text"].startswith("Sorry"), shown["text"]
    # A stopped worker's open connections are refused, not processed (Telegram retries).
    assert a.server.in_progress == 0


# -- a worker killed with SIGKILL (OOM kill, container kill) -------------------------------


class _HeldBotApi(BaseHTTPRequestHandler):
    """A Bot API over HTTP for a worker process; its sendMessage never answers (it
    holds the connection until the test is done)."""

    api: OfflineRequest
    calls: list[str]
    sending: threading.Event
    done: threading.Event

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(body))
        if self.headers.get("Content-Type", "").startswith("application/json") and body:
            params = json.loads(body)
        endpoint = self.path.rsplit("/", 1)[-1]
        self.calls.append(endpoint)
        if endpoint == "sendMessage":
            self.sending.set()  # Telegram slow to take the reply: the worker dies meanwhile
            self.done.wait(WAIT)
            return  # to nobody
        result = self.api._result(endpoint, params)
        payload = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def held_bot_api() -> Iterator[tuple[str, type[_HeldBotApi]]]:
    handler = type(
        "Api",
        (_HeldBotApi,),
        {
            "api": OfflineRequest(),
            "calls": [],
            "sending": threading.Event(),
            "done": threading.Event(),
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        handler.done.set()
        server.shutdown()
        server.server_close()


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
async def test_a_worker_killed_while_replying_leaves_the_update_to_telegram(
    make_worker: Callable[..., Awaitable[Worker]],
    telegram: Telegram,  # noqa: F811
    held_bot_api: tuple[str, type[_HeldBotApi]],
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """QA's finding: SIGKILL right after the 200 lost every acknowledged update."""
    a = await make_worker("A")
    b = await make_worker("B")
    [prompt] = await telegram.deliver(a, telegram.message("/new"))
    api_url, api = held_bot_api
    port = free_loopback_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(tmp_path / "killed"),
        "DATABASE_URL": pg_url,
        "TELEGRAM_TOKEN": "123456:TEST-TOKEN",
        "TELEGRAM_API_BASE_URL": api_url,
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await until(lambda: "setWebhook" in api.calls and _accepts(port), "the worker to start")
        url = f"http://127.0.0.1:{port}/telegram/updates"
        update = telegram.message(CODE, reply_to=prompt)  # the patient code: starts it
        post = asyncio.create_task(
            telegram.client.post(url, json=update, headers={SECRET_HEADER: SECRET})
        )
        await asyncio.to_thread(api.sending.wait, WAIT)  # committed, now replying
        worker.kill()
        worker.wait(WAIT)
        got = await no_response(post)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(WAIT)
    assert got in ("RemoteProtocolError", "ReadError"), got
    started = a.services.store.list_screenings(INVESTIGATOR)
    assert [s.patient_code for s in started] == [CODE]  # the killed worker committed it

    # Telegram delivers it again, to B: nothing new is started, the screen is shown again.
    sent = await telegram.deliver(b, update)
    assert [s.patient_code for s in a.services.store.list_screenings(INVESTIGATOR)] == [CODE]
    screening = current(b, started[0].id or 0)
    assert (screening.answer_count, screening.status) == (0, "in_progress")
    assert sent and not any(m["text"].startswith("Sorry") for m in sent), sent


# -- concurrency ---------------------------------------------------------------------------


async def test_two_chats_run_at_once_and_one_chats_updates_stay_in_order(
    make_worker: Callable[..., Awaitable[Worker]],
    telegram: Telegram,  # noqa: F811
) -> None:
    """/new then the patient code typed straight after (no reply to the prompt yet), and
    another investigator's /help at the same moment, all on one worker, with Telegram
    taking up to a second per reply."""
    slow = SlowTelegram()
    a = await make_worker("A", slow)
    slow.meet = 1.0
    other = Telegram(telegram.client)
    other.user = {"id": OTHER_INVESTIGATOR, "is_bot": False, "first_name": "Dr B"}

    def message(who: Telegram, chat: int, text: str) -> dict[str, Any]:
        update = who.message(text)
        update["message"]["chat"]["id"] = chat
        return update

    new = asyncio.create_task(telegram.post(a, telegram.message("/new")))
    await until(lambda: a.server.in_progress == 1, "/new to be in progress")
    code = asyncio.create_task(telegram.post(a, telegram.message(CODE)))
    await until(lambda: a.server.in_progress == 2, "the code to be received")
    began = time.monotonic()
    help_ = asyncio.create_task(telegram.post(a, message(other, OTHER_INVESTIGATOR, "/help")))
    responses = await asyncio.wait_for(asyncio.gather(new, code, help_), 3 * WAIT)
    assert [r.status_code for r in responses] == [200, 200, 200]

    # The other investigator's reply went out while the first one's was in flight.
    assert slow.most_in_flight == 2
    assert time.monotonic() - began < 1.5 * slow.meet
    # One chat: the reply to /new was sent before the code was even looked at.
    assert slow.most_in_flight_per_chat[INVESTIGATOR] == 1
    replies = slow.replies(INVESTIGATOR)
    assert [what for what, _ in replies] == ["start", "end"] * (len(replies) // 2), replies
    texts = [text for what, text in replies if what == "start"]
    assert texts[0].startswith("Patient code?"), texts
    assert texts[1].startswith(f"Screening {CODE} started"), texts
    opened = a.services.store.find_open_screening(INVESTIGATOR)
    assert opened is not None and opened.patient_code == CODE
    assert len(a.server.locks) == 0  # no lock kept for a chat with nothing in progress


# -- what is refused -----------------------------------------------------------------------


async def test_another_path_is_not_found_and_nothing_is_processed(
    make_worker: Callable[..., Awaitable[Worker]],
    telegram: Telegram,  # noqa: F811
) -> None:
    a = await make_worker("A")
    update = telegram.message("/new")
    base = a.url.rsplit("/telegram/updates", 1)[0]
    headers = {SECRET_HEADER: SECRET}
    for path in ("/", "/telegram", "/telegram/updates/x", "/other/updates"):
        response = await telegram.client.post(base + path, json=update, headers=headers)
        assert response.status_code == 404, (path, response.status_code)
    response = await telegram.client.get(a.url, headers=headers)
    assert response.status_code == 405
    response = await telegram.client.post(a.url, content=b"not json", headers=headers)
    assert response.status_code == 400
    assert not a.request.of("sendMessage")
    # The path itself, with or without a trailing slash, with the secret: processed.
    response = await telegram.client.post(a.url + "/", json=update, headers=headers)
    assert response.status_code == 200
    assert a.request.texts_to(INVESTIGATOR)[-1].startswith("Patient code?")
