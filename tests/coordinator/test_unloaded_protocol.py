"""A screening whose protocol file is no longer loaded (edited without a new version):
reopening it is refused with a reason, nothing recorded; the investigator's /list still
lists the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.coordinator import outbox_job
from dialogs.engine import Engine
from dialogs.registry import ProtocolRegistry
from storage import Store
from storage.coordination import reviews
from tests.coordinator.conftest import (
    COORDINATOR,
    complete,
    edited_mini,
)


async def test_reopen_of_a_screening_on_an_unloaded_protocol_says_why(
    store: Store, engine: Engine, make_bot: Callable[..., Any], tmp_path: Path
) -> None:
    """It raised LookupError: « something went wrong… your last answer may not have been
    saved » and « This button is not valid for you », with the review rolled back."""
    sid = complete(store, engine, "P-020")
    bot = await make_bot(registry=ProtocolRegistry.from_directory(edited_mini(tmp_path)))
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    summary = [m for m in bot.request.messages_to(COORDINATOR) if "reply_markup" in m][-1]
    await coordinator.press_data(f"c|reopen|{sid}|1", summary)
    answered = bot.request.of("answerCallbackQuery")[-1]
    assert answered.params["text"].startswith(
        "This screening's protocol file is not loaded on this server"
    )
    assert reviews(store, sid) == []  # nothing recorded
    assert store.get_screening(sid).status == "completed"
