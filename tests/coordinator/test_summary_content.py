"""What a coordinator's summary says, against what the investigator was told (QA round 3).

- The investigator read "Earliest possible start date: 13/06/2025" and, under it, "On that
  date, also: I09…I12: labs older than 14 days"; the coordinator, who books the first
  dose, read the date alone.
- A screening ended at its first failed criterion listed 33 unknown criteria, each "not
  answered yet: <label>", in two messages; /review of one in progress did the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import CallbackContext

from bot.coordinator import outbox_job
from tests.bot.conftest import ELIGIBLE, TODAY, Bot, answer_until_done
from tests.coordinator.conftest import INVESTIGATOR, running_app

FRENCH_COORDINATOR = 7001


def _dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


async def _app(tmp_path: Path, **settings: Any) -> AsyncIterator[Bot]:
    async with running_app(tmp_path, **settings) as made:
        made.store.add_user(INVESTIGATOR, "investigator", "Dr Martin", language="en", actor="t")
        made.store.add_user(FRENCH_COORDINATOR, "coordinator", "Claire", language="fr", actor="t")
        yield made


@pytest.fixture
async def documenting(tmp_path: Path) -> AsyncIterator[Bot]:
    async for made in _app(tmp_path, stop_at_first_fail=False):
        yield made


@pytest.fixture
async def stopping(tmp_path: Path) -> AsyncIterator[Bot]:
    async for made in _app(tmp_path):
        yield made


def _summaries(bot: Bot, chat_id: int) -> list[str]:
    return [str(m["text"]) for m in bot.request.messages_to(chat_id) if "📋" in m["text"]]


async def test_the_summary_says_what_would_no_longer_hold_on_the_earliest_start(
    documenting: Bot,
) -> None:
    bot = documenting
    investigator = bot.chat(INVESTIGATOR)
    washout = {
        **ELIGIBLE,
        "last_systemic_therapy_date": _dmy(TODAY - dt.timedelta(days=10)),  # I07: 21 days
    }
    await investigator.send("/new P-0601")
    await answer_until_done(bot, investigator, washout)
    earliest = _dmy(TODAY + dt.timedelta(days=11))
    assert f"Earliest possible start date: {earliest}" in investigator.last_text
    assert "  On that date, also: I09, I10, I11, I12" in investigator.last_text
    await outbox_job(CallbackContext(bot.app))

    [summary] = _summaries(bot, FRENCH_COORDINATOR)
    assert f"Date de début la plus précoce possible : {earliest}" in summary
    assert "  À cette date, aussi : I09, I10, I11, I12 : bilan biologique" in summary, summary
    assert "  À cette date, aussi : I16 : " in summary


async def test_a_screening_ended_at_its_first_fail_folds_what_was_never_asked(
    stopping: Bot,
) -> None:
    bot = stopping
    investigator = bot.chat(INVESTIGATOR)
    await investigator.send("/new P-0602")
    await investigator.send("today")
    for qid, value in (
        ("cohort", "sarcoma"),
        ("histology_confirmed", "yes"),
        ("advanced_refractory", "yes"),
        ("prior_anti_pd1", "yes"),  # N01 fails: the offer to end
    ):
        await investigator.press_value(qid, value)
    await investigator.press("End screening")
    assert "NOT ELIGIBLE" in investigator.last_text
    await outbox_job(CallbackContext(bot.app))

    summaries = _summaries(bot, FRENCH_COORDINATOR)
    assert len(summaries) == 1  # one phone message, not two
    [summary] = summaries
    assert "N01" in summary
    assert "Critères inconnus" not in summary
    assert (
        "autres critères non documentés (screening arrêté au premier critère en échec) : I01"
        in (summary)
    )
    assert "pas encore renseigné" not in summary

    # /review says the same.
    coordinator = bot.chat(FRENCH_COORDINATOR, "fr")
    await coordinator.send("/review P-0602")
    assert "pas encore renseigné" not in coordinator.texts[-1]
    assert "autres critères non documentés" in coordinator.texts[-1]


async def test_review_of_a_screening_in_progress_names_what_is_still_to_document(
    stopping: Bot,
) -> None:
    bot = stopping
    investigator = bot.chat(INVESTIGATOR)
    await investigator.send("/new P-0603")
    await investigator.send("today")
    coordinator = bot.chat(FRENCH_COORDINATOR, "fr")
    await coordinator.send("/review P-0603")
    review = coordinator.texts[-1]
    assert "critères encore à documenter (screening en cours) : I01" in review, review
    assert "pas encore renseigné" not in review
    assert len(coordinator.texts) == 1  # not three messages of unknowns


async def test_review_history_shows_a_change_as_the_chat_shows_values_in_the_reader_s_words(
    stopping: Bot,
) -> None:
    """/review in French showed a changed answer's old value as typed (« 2026-11-14 »), then
    the English audit reason, and nothing on the old line said it had been replaced."""
    bot = stopping
    investigator = bot.chat(INVESTIGATOR)
    await investigator.send("/new P-0604")
    await investigator.send("2025-06-03")
    await investigator.send("/back")
    await investigator.send("04/06/2025")  # the start moved a day
    coordinator = bot.chat(FRENCH_COORDINATOR, "fr")
    await coordinator.send("/review P-0604")
    history = coordinator.texts[-1]
    first, second = (line for line in history.splitlines() if "Date prévue" in line)
    assert first.startswith("<b>#1</b> ") and first.endswith(" : 03/06/2025 → remplacée par #2"), (
        first
    )
    assert second.startswith("<b>#2</b> ") and second.endswith(
        " : 04/06/2025 (modifiée ; avant « 03/06/2025 », après /back)"
    ), second
