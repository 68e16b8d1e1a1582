"""Fixtures for the coordinator tests: a mini protocol, a SQLite store, offline Telegram.

Screenings are completed the way the investigator flow does it (engine step → answer →
state → ``tx.complete`` → the completion hook, in one transaction), so the outbox sees
exactly what it will see in production without depending on the flow's wording.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram.error import NetworkError
from telegram.ext import Application, ApplicationBuilder, CallbackContext

from bot.coordinator import CoordinatorServices, enqueue_completion_summary, register
from bot.screening_flow import answers_of, criteria_json
from dialogs.engine import Engine
from dialogs.protocol import load_protocol
from dialogs.registry import ProtocolRegistry
from dialogs.values import to_json, unit_of
from storage import Store, sqlite_url
from storage.models import utcnow
from tests.bot.transcript import OfflineRequest, TelegramChat

MINI = Path(__file__).resolve().parents[1] / "dialogs" / "fixtures" / "mini.yaml"
TODAY = dt.date(2025, 6, 2)
INVESTIGATOR = 111
OTHER_INVESTIGATOR = 222
COORDINATOR = 555
SECOND_COORDINATOR = 556
COORDINATOR_CHAT = -100777

ELIGIBLE = {
    "planned_start_date": "today",
    "cohort": "alpha",
    "age": "54",
    "last_dose_date": "none",
    "lab_date": "01/06/2025",
    "anc": "2 G/L",
}


class FlakyRequest(OfflineRequest):
    """OfflineRequest whose next text sends fail as scripted (network error, 429, 400)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[Exception | tuple[int, dict[str, Any]]] = []

    def scripted(self, endpoint: str) -> tuple[int, bytes] | None:
        if endpoint != "sendMessage" or not self.failures:
            return None
        failure = self.failures.pop(0)
        if isinstance(failure, Exception):
            raise failure
        status, body = failure
        return status, json.dumps(body).encode()

    def fail_network(self, times: int) -> None:
        self.failures += [NetworkError("connection reset") for _ in range(times)]

    def flood(self, seconds: int) -> None:
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        }
        self.failures.append((429, body))

    def refuse(self, description: str = "Bad Request: chat not found") -> None:
        self.failures.append((400, {"ok": False, "error_code": 400, "description": description}))


@dataclass
class Clock:
    """Real time plus an offset: storage stamps rows with the real clock."""

    offset: dt.timedelta = field(default_factory=dt.timedelta)

    def __call__(self) -> dt.datetime:
        return utcnow() + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += dt.timedelta(**kwargs)


@pytest.fixture
def registry() -> ProtocolRegistry:
    return ProtocolRegistry([load_protocol(MINI)], clock=lambda: TODAY)


@pytest.fixture
def engine(registry: ProtocolRegistry) -> Engine:
    return registry.latest("mini")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "data")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    s.add_user(INVESTIGATOR, "investigator", "Dr A", language="en", actor="test")
    s.add_user(OTHER_INVESTIGATOR, "investigator", "Dr B", language="en", actor="test")
    s.add_user(COORDINATOR, "coordinator", "Coord C", language="en", actor="test")
    s.add_user(
        SECOND_COORDINATOR, "coordinator", "Coord D", language="en", active=False, actor="test"
    )
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def start_screening(
    store: Store, engine: Engine, code: str, investigator: int = INVESTIGATOR
) -> int:
    conv = engine.start("en", skip_chat_only=True)
    try:
        state = conv.state
    finally:
        engine.release(conv)
    p = engine.protocol
    screening = store.create_screening(
        code, p.id, str(p.version), p.sha256, investigator, state, language="en"
    )
    assert screening.id is not None
    return screening.id


def answer(
    store: Store,
    engine: Engine,
    sid: int,
    texts: dict[str, str],
    *,
    chat_id: int | None = COORDINATOR_CHAT,
    limit: int | None = None,
) -> str:
    """Answer the current questions from ``texts`` as the flow does; returns the final state.

    On completion, the summary is queued in the same transaction (the hook under test).
    """
    steps = 0
    while limit is None or steps < limit:
        with store.screening_tx(sid) as tx:
            s = tx.screening
            answers = answers_of(tx.current_answers())
            with engine.attached(s.current_state, answers, s.language or "en") as conv:
                if conv.state == "complete" or conv.state not in texts:
                    return conv.state
                step = engine.answer(conv, texts[conv.state])
                assert step.accepted, step.error
                assert step.answer is not None
                value = step.answer.value
                tx.record_answer(
                    step.question_id,
                    step.answer.raw,
                    to_json(value),
                    unit_of(value),
                    s.investigator_id,
                )
                tx.set_state(conv.state)
                if step.complete:
                    evaluation = engine.evaluate(conv)
                    tx.complete(evaluation.verdict, criteria_json(evaluation), s.investigator_id)
                    enqueue_completion_summary(tx, engine, chat_id)
                    return conv.state
        steps += 1
    return store.get_screening(sid).current_state


def complete(store: Store, engine: Engine, code: str, **changes: str) -> int:
    sid = start_screening(store, engine, code)
    state = answer(store, engine, sid, {**ELIGIBLE, **changes})
    assert state == "complete"
    return sid


@dataclass
class BotProcess:
    """One bot process: an Application with the coordinator registered, offline."""

    app: Application  # type: ignore[type-arg]
    request: FlakyRequest
    services: CoordinatorServices

    def chat(self, user_id: int, language_code: str = "en") -> TelegramChat:
        return TelegramChat(self.app, self.request, user_id, language_code)

    def context(self) -> CallbackContext:  # type: ignore[type-arg]
        return CallbackContext(self.app)


@pytest.fixture
async def make_bot(
    store: Store, registry: ProtocolRegistry, clock: Clock
) -> AsyncIterator[Callable[..., Any]]:
    made: list[BotProcess] = []

    async def make(store_: Store | None = None, **overrides: Any) -> BotProcess:
        request = FlakyRequest()
        app = (
            ApplicationBuilder()
            .token("123456:TEST-TOKEN")
            .request(request)
            .get_updates_request(request)
            .build()
        )
        services = CoordinatorServices(
            store=store_ or store,
            registry=overrides.pop("registry", registry),
            coordinator_chat_id=COORDINATOR_CHAT,
            reminder_days=3,
            clock=clock,
            **overrides,
        )
        register(app, services)
        await app.initialize()
        process = BotProcess(app, request, services)
        made.append(process)
        return process

    yield make
    for process in made:
        await process.app.shutdown()


def edited_mini(tmp_path: Path, *, protocol_id: str = "mini") -> Path:
    """mini.yaml with one label changed and still version 1: another sha256."""
    text = MINI.read_text(encoding="utf-8")
    edited = text.replace("{en: Cohort, fr: Cohorte}", "{en: Cohort (edited), fr: Cohorte}")
    edited = edited.replace("id: mini\n", f"id: {protocol_id}\n", 1)
    assert edited != text
    directory = tmp_path / f"edited-{protocol_id}"
    directory.mkdir()
    (directory / "mini.yaml").write_text(edited, encoding="utf-8")
    return directory


def app_settings(tmp_path: Path, **settings: Any) -> Any:
    """Settings of a whole application on a SQLite file in ``tmp_path``."""
    from bot.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token="123456:TEST-TOKEN",
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        data_dir=tmp_path,
        **settings,
    )


@asynccontextmanager
async def running_app(tmp_path: Path, **settings: Any) -> AsyncIterator[Any]:
    """The whole application (investigator flow and coordinator features) on a fresh
    SQLite file, offline; users are the caller's to add."""
    from tests.bot.conftest import Bot

    made = Bot(app_settings(tmp_path, **settings))
    await made.start()
    try:
        yield made
    finally:
        await made.stop()
