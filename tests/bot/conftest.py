from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services, build_application, build_services
from bot.settings import Settings
from dialogs.machine import COMPLETE
from dialogs.protocol import AnswerType
from tests.bot.transcript import OfflineRequest, TelegramChat
from tests.fixtures import typed_on

TODAY = dt.date(2025, 6, 2)
INVESTIGATOR = 111
OTHER_INVESTIGATOR = 222
STRANGER = 999


def ago(days: int, today: dt.date = TODAY) -> str:
    return (today - dt.timedelta(days=days)).strftime("%d/%m/%Y")


def eligible_on(today: dt.date) -> dict[str, str]:
    """The shared eligible record, typed on ``today`` (keys in the order they are asked)."""
    return typed_on(today)


ELIGIBLE: dict[str, str] = eligible_on(TODAY)


class Bot:
    """One bot process: services + Application on a shared database, with its offline request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: Services = build_services(settings, clock=lambda: TODAY)
        self.request = OfflineRequest()
        self.app = build_application(
            settings, self.services, request=self.request, get_updates_request=self.request
        )

    @property
    def store(self) -> Any:
        return self.services.store

    def chat(self, user_id: int = INVESTIGATOR, language_code: str = "en") -> TelegramChat:
        return TelegramChat(self.app, self.request, user_id, language_code)

    async def start(self) -> None:
        await self.app.initialize()

    async def stop(self) -> None:
        await self.app.shutdown()
        self.services.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token="123456:TEST-TOKEN",
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        data_dir=tmp_path,
    )


@pytest.fixture
async def make_bot(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    # The investigator flow alone: coordinator extensions have their own tests.
    monkeypatch.setattr("bot.app.EXTENSION_MODULES", ())
    bots: list[Bot] = []

    async def make(**overrides: Any) -> Bot:
        bot = Bot(settings.model_copy(update=overrides))
        await bot.start()
        if not bots:
            bot.store.add_user(INVESTIGATOR, "investigator", "Dr A", actor="test")
            bot.store.add_user(OTHER_INVESTIGATOR, "investigator", "Dr B", actor="test")
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        await bot.stop()


@pytest.fixture
async def bot(make_bot: Callable[..., Any]) -> Bot:
    made: Bot = await make_bot()
    return made


async def answer_until_done(
    bot: Bot, chat: TelegramChat, record: dict[str, str], *, limit: int = 200
) -> list[str]:
    """Answer the current screening from ``record`` (buttons for choices) until it closes."""
    asked: list[str] = []
    for _ in range(limit):
        screening = bot.store.find_open_screening(chat.user_id)
        if screening is None or screening.current_state == COMPLETE:
            return asked
        qid = screening.current_state
        asked.append(qid)
        value = record[qid]
        engine = bot.services.registry.latest()
        if engine.question(qid).type in (AnswerType.yesno, AnswerType.choice):
            await chat.press_value(qid, value)
        else:
            await chat.send(value)
    raise AssertionError(f"no verdict after {limit} answers")


@pytest.fixture
def eligible() -> Iterator[dict[str, str]]:
    yield dict(ELIGIBLE)
