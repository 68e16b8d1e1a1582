"""Webhook mode as deployed: several workers behind a load balancer, one PostgreSQL database.

Each worker is the real composition (``build_services`` + ``build_application``) serving
the real webhook (``bot.webhook.WebhookServer``, started with ``bot.app.webhook_options``)
on loopback, with the Bot API answered offline.  The test plays Telegram and the balancer: it POSTs
Update JSON, with the secret token header, to whichever worker it picks.  Nothing in a
worker's memory may matter: only the shared database decides what an update does.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Services, build_application, build_services, webhook_options
from bot.errors import ConfigurationError
from bot.handlers import AnyApplication
from bot.settings import Settings
from bot.webhook import WebhookServer
from dialogs.machine import COMPLETE
from dialogs.protocol import AnswerType
from storage.models import AnswerRecord, Screening
from tests.bot.conftest import INVESTIGATOR, TODAY, eligible_on
from tests.bot.transcript import OfflineRequest
from tests.storage.conftest import postgres_database

PUBLIC_URL = "https://screenbot.example.org/telegram/updates"
SECRET = "balancer-and-telegram-share-this"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CODE = "P-0001"
PROCESSING_TIMEOUT = 5.0

_update_ids = itertools.count(50_000)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WorkerRequest(OfflineRequest):
    """OfflineRequest whose message ids start at ``first``.

    Telegram numbers a chat's messages once for all workers; without disjoint ranges a
    button on worker A's message 3 would look like worker B's message 3.
    """

    def __init__(self, first: int) -> None:
        super().__init__()
        self._message_ids = itertools.count(first)


class Worker:
    """One bot process: its own engine, Application and webhook server; the shared DB."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        first_message_id: int,
        request: OfflineRequest | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.services: Services = build_services(settings, clock=lambda: TODAY)
        self.request = request or WorkerRequest(first_message_id)
        self.app: AnyApplication = build_application(
            settings, self.services, request=self.request, get_updates_request=self.request
        )
        options = webhook_options(settings)
        self.server = WebhookServer(self.app, options, drain_seconds=PROCESSING_TIMEOUT)
        self.url = f"http://127.0.0.1:{options['port']}/{options['url_path']}"

    async def start(self) -> None:
        """What ``bot.webhook.serve`` does, minus its own event loop and signal handling."""
        await self.app.initialize()
        await self.server.start()
        await self.app.start()

    async def stop(self) -> None:
        """Each step only if needed, so a worker that failed half-way still closes."""
        try:
            await self.server.stop()
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
        finally:
            self.services.close()

    async def idle(self) -> None:
        """Nothing in progress: the webhook answers only after the update was processed."""
        assert self.server.in_progress == 0
        assert self.app.update_queue.empty()  # nothing is queued to be handled later

    def sent_since(self, mark: int) -> list[dict[str, Any]]:
        return [m for m in self.request.messages_to(INVESTIGATOR) if m["message_id"] >= mark]

    def next_message_id(self) -> int:
        """The id of the next message this worker will send (messages only grow)."""
        sent = self.request.messages_to(INVESTIGATOR)
        return sent[-1]["message_id"] + 1 if sent else 0


class Telegram:
    """Telegram and the load balancer: Update JSON for one investigator, POSTed to a worker."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.user = {"id": INVESTIGATOR, "is_bot": False, "first_name": "Dr A"}
        self._message_ids = itertools.count(1)
        self.last_bot_message: dict[str, Any] | None = None
        self.delivered: list[tuple[str, dict[str, Any]]] = []  # worker name, update

    def message(self, text: str, reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": INVESTIGATOR, "type": "private"},
            "from": self.user,
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return {"update_id": next(_update_ids), "message": message}

    def press(self, question_id: str, value: str) -> dict[str, Any]:
        """The callback query of the answer button for ``value`` on the bot's last message."""
        keyboard = self.last_bot_message
        assert keyboard is not None and "reply_markup" in keyboard, keyboard
        for row in keyboard["reply_markup"]["inline_keyboard"]:
            for button in row:
                parts = button["callback_data"].split("|", 3)
                if parts[0] == "a" and parts[2] == question_id and parts[3] == value:
                    query = {
                        "id": str(next(_update_ids)),
                        "from": self.user,
                        "chat_instance": f"ci{INVESTIGATOR}",
                        "data": button["callback_data"],
                        "message": keyboard,
                    }
                    return {"update_id": next(_update_ids), "callback_query": query}
        raise AssertionError(f"no button {question_id}={value} on {keyboard['text']!r}")

    async def post(
        self, worker: Worker, update: dict[str, Any], secret: str | None = SECRET
    ) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return await self.client.post(worker.url, json=update, headers=headers)

    async def deliver(self, worker: Worker, update: dict[str, Any]) -> list[dict[str, Any]]:
        """POST as Telegram would, wait for the worker, return the messages it sent."""
        mark = worker.next_message_id()
        response = await self.post(worker, update)
        assert response.status_code == 200, response.text
        await worker.idle()
        self.delivered.append((worker.name, update))
        sent = worker.sent_since(mark)
        if sent:
            self.last_bot_message = sent[-1]
        return sent


# -- fixtures ------------------------------------------------------------------------------


def settings_for(database_url: str, tmp_path: Path) -> Settings:
    """A worker's settings: its own loopback port, the shared public URL and secret."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token="123456:TEST-TOKEN",
        database_url=database_url,
        data_dir=tmp_path,
        webhook_url=PUBLIC_URL,
        webhook_listen="127.0.0.1",
        webhook_port=free_loopback_port(),
        webhook_secret=SECRET,
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    for database in postgres_database():
        yield database.url


@pytest.fixture
async def workers(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Worker, Worker]]:
    # The investigator flow alone: the coordinator's jobs (outbox, reminders) would send
    # messages of their own, and they have their own PostgreSQL tests.
    monkeypatch.setattr("bot.app.EXTENSION_MODULES", ())
    settings_a = settings_for(pg_url, tmp_path)
    settings_b = settings_a.model_copy(update={"webhook_port": free_loopback_port()})
    started: list[Worker] = []
    try:
        a = Worker("A", settings_a, first_message_id=1)
        started.append(a)
        b = Worker("B", settings_b, first_message_id=100_000)
        started.append(b)
        a.services.store.add_user(INVESTIGATOR, "investigator", "Dr A", actor="test")
        await a.start()
        await b.start()
        yield a, b
    finally:
        for worker in started:
            await worker.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[Telegram]:
    # trust_env=False: no proxy from the environment between the test and loopback.
    async with httpx.AsyncClient(timeout=PROCESSING_TIMEOUT, trust_env=False) as client:
        yield Telegram(client)


# -- helpers -------------------------------------------------------------------------------


async def new_screening(telegram: Telegram, first: Worker, second: Worker) -> int:
    """/new on one worker, the patient code (a reply to its prompt) on the other: its id."""
    [prompt] = await telegram.deliver(first, telegram.message("/new"))
    assert prompt["chat"]["id"] == INVESTIGATOR
    sent = await telegram.deliver(second, telegram.message(CODE, reply_to=prompt))
    assert any(f"Screening {CODE} started" in m["text"] for m in sent), sent
    screening = first.services.store.find_open_screening(INVESTIGATOR)
    assert screening is not None and screening.id is not None
    assert screening.patient_code == CODE
    return screening.id


def is_button(worker: Worker, question_id: str) -> bool:
    engine = worker.services.registry.latest()
    return engine.question(question_id).type in (AnswerType.yesno, AnswerType.choice)


def answer_update(telegram: Telegram, worker: Worker, question_id: str, value: str) -> Any:
    if is_button(worker, question_id):
        return telegram.press(question_id, value)
    return telegram.message(value)


def is_press(update: dict[str, Any]) -> bool:
    return "callback_query" in update


def current(worker: Worker, screening_id: int) -> Screening:
    return worker.services.store.get_screening(screening_id)


def history(worker: Worker, screening_id: int) -> list[AnswerRecord]:
    return worker.services.store.answer_history(screening_id)


# -- tests ---------------------------------------------------------------------------------


def test_webhook_options_come_from_settings() -> None:
    """What run_bot serves and registers; without tornado, the server cannot start."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_url=PUBLIC_URL,
        webhook_listen="127.0.0.1",
        webhook_port=8443,
        webhook_secret=SECRET,
    )
    assert webhook_options(settings) == {
        "listen": "127.0.0.1",
        "port": 8443,
        "url_path": "telegram/updates",
        "webhook_url": PUBLIC_URL,
        "secret_token": SECRET,
        "allowed_updates": ["message", "callback_query"],
    }
    unsigned = settings.model_copy(update={"webhook_secret": None})
    assert webhook_options(unsigned)["secret_token"] is None
    with pytest.raises(ConfigurationError):
        webhook_options(settings.model_copy(update={"webhook_url": None}))
    assert importlib.util.find_spec("tornado") is not None, "python-telegram-bot[webhooks]"


@pytest.mark.postgres
async def test_a_screening_alternating_between_two_workers(
    workers: tuple[Worker, Worker], telegram: Telegram
) -> None:
    a, b = workers
    for worker in (a, b):
        [registered] = worker.request.of("setWebhook")
        assert registered.params["url"] == PUBLIC_URL
        assert registered.params["secret_token"] == SECRET
        assert registered.params["allowed_updates"] == ["message", "callback_query"]

    sid = await new_screening(telegram, a, b)
    record = eligible_on(TODAY)
    given: list[tuple[str, str]] = []  # question, value, in the order sent
    kinds: set[tuple[str, str]] = set()  # worker, "button" | "typed"
    for turn in range(200):
        state = current(a, sid).current_state
        if state == COMPLETE:
            break
        worker = (a, b)[turn % 2]
        update = answer_update(telegram, worker, state, record[state])
        sent = await telegram.deliver(worker, update)
        assert sent, f"worker {worker.name} did not reply to {state}"
        given.append((state, record[state]))
        kinds.add((worker.name, "button" if is_press(update) else "typed"))
    else:
        raise AssertionError("no verdict after 200 answers")

    assert kinds == {(w, k) for w in "AB" for k in ("button", "typed")}, kinds
    done = current(b, sid)
    assert (done.status, done.verdict) == ("completed", "eligible")
    assert done.answer_count == len(given)
    recorded = history(a, sid)
    assert [(r.question_id, r.raw) for r in recorded] == given
    assert [r.seq for r in recorded] == sorted({r.seq for r in recorded})
    assert all(r.supersedes_id is None for r in recorded)
    assert telegram.last_bot_message is not None
    assert "verdict: ELIGIBLE" in telegram.last_bot_message["text"]
    # Each press was acknowledged by the worker that received it (a spinner otherwise).
    for worker in (a, b):
        presses = [u for name, u in telegram.delivered if name == worker.name and is_press(u)]
        assert len(worker.request.of("answerCallbackQuery")) == len(presses), worker.name
        assert not worker.request.of("deleteWebhook")  # one worker must not unhook all


@pytest.mark.postgres
async def test_an_update_delivered_to_both_workers_is_applied_once(
    workers: tuple[Worker, Worker], telegram: Telegram
) -> None:
    a, b = workers
    sid = await new_screening(telegram, a, b)
    record = eligible_on(TODAY)
    first = current(a, sid).current_state

    # A retry after a timeout: A applied it, then the balancer sends it to B.  A typed
    # answer names no question: only the claimed update id stops B from taking it as the
    # answer to the next question.
    assert not is_button(a, first), first
    update = answer_update(telegram, a, first, record[first])
    [*_, prompt] = await telegram.deliver(a, update)
    second = current(a, sid).current_state
    assert second != first
    [*_, resent] = await telegram.deliver(b, update)
    # The question again (without the read-back of the answer typed the first time).
    question = (
        prompt["text"].split("\n", 1)[1] if prompt["text"].startswith("→") else prompt["text"]
    )
    assert (resent["text"], resent.get("reply_markup")) == (
        question,
        prompt.get("reply_markup"),
    ), "the redelivered update should show the question the screening is at"
    assert current(b, sid).current_state == second
    assert [r.question_id for r in history(a, sid)] == [first]

    # Overlapping attempts: both workers get the same update at the same moment.
    update = answer_update(telegram, b, second, record[second])
    marks = [(w, w.next_message_id()) for w in (a, b)]
    responses = await asyncio.gather(telegram.post(a, update), telegram.post(b, update))
    assert [r.status_code for r in responses] == [200, 200]
    await asyncio.gather(a.idle(), b.idle())
    after = current(a, sid)
    assert after.answer_count == 2
    assert after.current_state not in (first, second)
    assert [(r.question_id, r.raw) for r in history(b, sid)] == [
        (first, record[first]),
        (second, record[second]),
    ]
    replies = [m["text"] for w, mark in marks for m in w.sent_since(mark)]
    assert not [t for t in replies if t.startswith("Sorry")], replies  # no error handler


@pytest.mark.postgres
@pytest.mark.parametrize("secret", [None, "", "not-the-secret"])
async def test_a_post_without_the_secret_token_is_refused(
    workers: tuple[Worker, Worker], telegram: Telegram, secret: str | None
) -> None:
    a, b = workers
    sid = await new_screening(telegram, a, b)
    question = current(a, sid).current_state
    update = answer_update(telegram, a, question, eligible_on(TODAY)[question])
    calls = (len(a.request.calls), len(b.request.calls))

    for worker in (a, b):
        response = await telegram.post(worker, update, secret=secret)
        assert response.status_code == 403, response.text
        await worker.idle()

    assert (len(a.request.calls), len(b.request.calls)) == calls
    unchanged = current(a, sid)
    assert (unchanged.current_state, unchanged.answer_count) == (question, 0)
    assert history(a, sid) == []
    # The same update with the secret is a valid answer: the refusal is what stopped it.
    await telegram.deliver(b, update)
    assert current(a, sid).answer_count == 1
