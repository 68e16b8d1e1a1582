"""A screening once completed, then reopened and abandoned by its investigator: the
coordinators, who had its summary (and may have confirmed it), are told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.ext import CallbackContext

from bot.coordinator import outbox_job
from storage.coordination import MessageKind, messages
from tests.bot.conftest import ELIGIBLE, INVESTIGATOR, Bot, answer_until_done
from tests.coordinator.conftest import running_app

COORDINATOR = 7001


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_app(tmp_path) as made:
        made.store.add_user(INVESTIGATOR, "investigator", "Dr Éloïse Müller", actor="test")
        made.store.add_user(COORDINATOR, "coordinator", "Coord C", language="fr", actor="test")
        yield made


async def test_abandoning_a_reopened_completed_screening_tells_the_coordinators(
    bot: Bot,
) -> None:
    """Reopened to document what was unknown, then /cancel: the INCOMPLETE verdict the
    coordinator had in /pending vanished without a word."""
    chat = bot.chat(INVESTIGATOR)
    await chat.send("/new P-0001")
    await answer_until_done(bot, chat, {**ELIGIBLE, "ecog": "unknown"})
    await outbox_job(CallbackContext(bot.app))
    coordinator = bot.chat(COORDINATOR)
    assert "P-0001" in coordinator.last_text
    [screening] = bot.store.list_screenings(INVESTIGATOR)
    assert screening.id is not None and screening.verdict == "incomplete"

    await chat.send("/resume P-0001")  # reopened at what is unknown
    await chat.send("/cancel")
    await chat.press("Abandon P-0001")
    await outbox_job(CallbackContext(bot.app))
    [notice] = messages(bot.store, screening.id, MessageKind.ABANDONED)
    assert notice.recipient == COORDINATOR
    assert coordinator.last_text == (
        "🗑 Dr Éloïse Müller (111) a abandonné le screening <b>P-0001</b>, qui avait été "
        "terminé : son verdict ne compte plus (/review P-0001 montre son historique)."
    )


async def test_abandoning_a_screening_never_completed_tells_no_one(bot: Bot) -> None:
    chat = bot.chat(INVESTIGATOR)
    await chat.send("/new P-0002")
    await chat.send("/cancel")
    await chat.press("Abandon P-0002")
    [screening] = bot.store.list_screenings(INVESTIGATOR)
    assert screening.id is not None and screening.status == "abandoned"
    assert messages(bot.store, screening.id, MessageKind.ABANDONED) == []
