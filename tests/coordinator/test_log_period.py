"""/log and /export say which period they cover, read dates as the chat writes them, and
speak the coordinator's language; /pending and /review date times fully, zone included.

A date the bot cannot read used to show the whole log with no warning: a coordinator
reading "May" would have read every month.  Times had no year and no zone, although
they are UTC and the history is compared with source documents years later.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot import coordinator as coordinator_module
from dialogs.engine import Engine
from storage import Store
from storage.models import utcnow
from storage.screening_log import ChartWords, ScreeningLog
from tests.coordinator.conftest import COORDINATOR, complete, start_screening

FRENCH_COORDINATOR = 558
STAMP = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2} UTC")


def _captions(bot: Any, method: str) -> list[str]:
    return [str(c.params.get("caption")) for c in bot.request.of(method)]


async def test_log_refuses_a_date_it_cannot_read_and_shows_nothing(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    complete(store, engine, "P-070")
    coordinator = bot.chat(COORDINATOR)
    for bad in ("2030-13-45", "sarcoma", "31/02/2030"):
        await coordinator.send(f"/log {bad}")
        assert coordinator.texts[-1] == (
            "Usage: /log [DD/MM/YYYY [DD/MM/YYYY]]: the screenings started from the first date "
            "(to the second, included; UTC), all by default. Nothing was shown: "
            f"“{bad}” is not a date."
        )
    # Valid dates in a wrong order, or too many: said as such, not "not a date".
    await coordinator.send("/log 01/06/2030 01/05/2030")
    assert coordinator.texts[-1].endswith(
        "the end date 01/05/2030 is before the start date 01/06/2030."
    )
    await coordinator.send("/log 01/05/2030 01/06/2030 02/06/2030")
    assert coordinator.texts[-1].endswith("at most two dates (from, to).")
    assert bot.request.of("sendPhoto") == []


async def test_log_reads_dates_as_the_chat_writes_them_and_states_the_period(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    complete(store, engine, "P-071")
    coordinator = bot.chat(COORDINATOR)
    today = utcnow().date()
    day = today.strftime("%d/%m/%Y")

    await coordinator.send("/log")
    assert coordinator.texts[-1].startswith(
        "📊 Screening log, all screenings:\n<b>Alpha</b> — screened 1: eligible 1\n"
        "<b>Total</b> — screened 1: eligible 1"
    ), coordinator.texts[-1]
    assert _captions(bot, "sendPhoto")[-1] == ("Screening log: 1 patient screened (all screenings)")

    await coordinator.send("/log 31/12/2030")
    assert coordinator.texts[-1].startswith("📊 Screening log, screenings started from 31/12/2030:")
    assert coordinator.texts[-1].endswith("<b>Total</b> — screened 0")
    assert _captions(bot, "sendPhoto")[-1] == (
        "Screening log: 0 patients screened (screenings started from 31/12/2030)"
    )

    await coordinator.send(f"/log {day} {day}")  # one whole day
    assert coordinator.texts[-1].startswith(
        f"📊 Screening log, screenings started from {day} to {day}:"
    )
    assert coordinator.texts[-1].endswith("<b>Total</b> — screened 1: eligible 1")
    yesterday = (today - dt.timedelta(days=1)).strftime("%d/%m/%Y")
    await coordinator.send(f"/log {yesterday} {yesterday}")
    assert coordinator.texts[-1].endswith("<b>Total</b> — screened 0")
    await coordinator.send(f"/log {today.isoformat()}")  # ISO dates still read
    assert coordinator.texts[-1].endswith("<b>Total</b> — screened 1: eligible 1")


async def test_export_reads_dd_mm_yyyy_and_refuses_an_unreadable_date(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    complete(store, engine, "P-072")
    complete(store, engine, "P-073")
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/export csv 31/12/2020")
    assert _captions(bot, "sendDocument")[-1] == (
        "2 screenings, csv: screenings changed since 31/12/2020"
    )
    await coordinator.send("/export csv")
    assert _captions(bot, "sendDocument")[-1] == "2 screenings, csv: all screenings"
    await coordinator.send("/export csv 2030-13-45")
    assert coordinator.texts[-1].startswith("Usage: /export [csv|json|fhir] [DD/MM/YYYY]")
    assert len(bot.request.of("sendDocument")) == 2


async def test_a_french_coordinator_reads_log_review_and_export_in_french(
    store: Store, engine: Engine, make_bot: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    drawn: list[ChartWords | None] = []
    render_png = coordinator_module.render_png

    def spy(log: ScreeningLog, title: str = "", words: ChartWords | None = None) -> bytes:
        drawn.append(words)
        return render_png(log, words=words)

    monkeypatch.setattr(coordinator_module, "render_png", spy)
    bot = await make_bot()
    complete(store, engine, "P-074", age="16")
    start_screening(store, engine, "P-075")  # no cohort yet: « (sans cohorte) », not English
    french = bot.chat(FRENCH_COORDINATOR)

    await french.send("/log")
    table = french.texts[-1]
    assert "(sans cohorte)" in table and "(no cohort)" not in table
    assert table.startswith("📊 Journal de screening, tous les screenings :")
    # One line a cohort, for a phone (a six-column table wrapped into a grid there).
    assert "<b>Alpha</b> — screenés 1 : non éligibles 1\n" in table, table
    assert "<b>(sans cohorte)</b> — screenés 1 : en cours 1\n" in table
    assert "<b>Total</b> — screenés 2 : non éligibles 1 · en cours 1" in table
    assert "alpha" not in table  # the cohort's label, not its code
    assert _captions(bot, "sendPhoto")[-1] == (
        "Journal de screening : 2 patients (tous les screenings)"
    )
    [words] = drawn
    assert words is not None
    assert words.heading == "Journal de screening : 2 patients"
    assert words.outcomes["not_eligible"] == "Non éligibles"
    assert words.failing == "Critères en échec les plus fréquents"
    assert words.cohorts["alpha"] == "Alpha"

    await french.send("/review P-074")
    text = french.texts[-1]
    assert "Statut : terminé" in text and "completed" not in text

    await french.send("/export json")
    assert _captions(bot, "sendDocument")[-1] == "2 screenings, json : tous les screenings"


async def test_pending_and_review_times_carry_the_year_and_the_zone(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    complete(store, engine, "P-075")
    start_screening(store, engine, "P-076")
    coordinator = bot.chat(COORDINATOR)

    await coordinator.send("/pending")
    [line] = [x for x in coordinator.texts[-1].splitlines() if "P-075" in x]
    assert STAMP.search(line)

    await coordinator.send("/review P-075")
    text = coordinator.texts[-1]
    history = text.split("Answer history:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert history and all(STAMP.search(line) for line in history)
    assert "Status: completed" in text
