"""Coordinator QA, round 3: what a coordinator met using the bot as a coordinator would.

- A query typed as a reply to the prompt after another coordinator reopened the screening
  (or its investigator abandoned it) went out regardless.
- A double-tapped or redelivered Confirm recorded two sign-offs.
- A queried screening left /pending at once and never came back.
- A question typed without Telegram's Reply got "No screening in progress. /new …".
- /export's errors said only "Usage"; /review #999 spoke of a code.
- Cosmetics: a reopen button cut mid-word, a "?" inside the quotes, "[label]: …" in French.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import CallbackContext

from bot.coordinator import outbox_job
from dialogs.engine import Engine
from storage import Store
from storage.coordination import MessageKind, messages, pending_review, reviews
from tests.bot.conftest import ELIGIBLE as FULL_ELIGIBLE
from tests.bot.conftest import Bot, answer_until_done
from tests.coordinator.conftest import (
    COORDINATOR,
    INVESTIGATOR,
    SECOND_COORDINATOR,
    complete,
    running_app,
)

OTHER_COORDINATOR = 7002  # active, French


def _summary(bot: Any, chat: int) -> dict[str, Any]:
    return [m for m in bot.request.messages_to(chat) if "📋" in m["text"]][-1]


@pytest.fixture
def two_coordinators(store: Store) -> Store:
    store.add_user(OTHER_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    return store


# -- 1. a query replied after the screening was reopened or abandoned ------------------------


async def test_a_query_replied_after_another_coordinator_reopened_sends_nothing(
    two_coordinators: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store = two_coordinators
    bot = await make_bot()
    sid = complete(store, engine, "P-301", age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    prompt = coordinator.sent[-1]
    # Meanwhile the other coordinator reopens it.
    other = bot.chat(OTHER_COORDINATOR, "fr")
    await other.press_data(f"c|reopen|{sid}|1", _summary(bot, OTHER_COORDINATOR))
    assert store.get_screening(sid).status == "in_progress"

    await coordinator.send("#3 is 16 a typo?", reply_to=prompt)

    assert coordinator.last_text == (
        "⚠️ P-301 was reopened since: nothing was sent and nothing recorded. Its new "
        "summary comes when it is completed again (/review P-301 shows where it is).\n\n"
        "Your question, to copy (tap it):\n<code>#3 is 16 a typo?</code>"
    )
    assert [r.action for r in reviews(store, sid)] == ["reopen"]
    assert store.events(sid, "queried") == []
    assert messages(store, sid, MessageKind.QUERY) == []

    # A reply the prompt would ask again (a number that is no answer): refused the same
    # way, not asked again for a query that could not go.
    await coordinator.send("#99 is 16 a typo?", reply_to=prompt)
    assert coordinator.last_text.startswith("⚠️ P-301 was reopened since: nothing was sent")
    assert "reply_markup" not in (bot.request.of("sendMessage")[-1].params)


async def test_a_query_replied_after_the_investigator_abandoned_sends_nothing(
    two_coordinators: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store = two_coordinators
    bot = await make_bot()
    sid = complete(store, engine, "P-302", age="16")
    await outbox_job(bot.context())
    french = bot.chat(OTHER_COORDINATOR, "fr")
    await french.press_data(f"c|query|{sid}|1", _summary(bot, OTHER_COORDINATOR))
    prompt = french.sent[-1]
    # The investigator takes it up again (/resume) and abandons it (/cancel).
    with store.screening_tx(sid) as tx:
        tx.reopen("age", INVESTIGATOR, "resume")
    with store.screening_tx(sid) as tx:
        tx.abandon(INVESTIGATOR)

    await french.send("#3 16 ans, vraiment ?", reply_to=prompt)

    assert french.last_text == (
        "⚠️ P-302 a été abandonné depuis : rien n'a été envoyé ni enregistré "
        "(/review P-302 montre son historique).\n\n"
        "Votre question, à copier (touchez-la) :\n<code>#3 16 ans, vraiment ?</code>"
    )
    assert reviews(store, sid) == []
    assert messages(store, sid, MessageKind.QUERY) == []


# -- 2. one confirmation per completion -----------------------------------------------------


async def test_a_double_tapped_or_redelivered_confirm_is_recorded_once(
    two_coordinators: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store = two_coordinators
    bot = await make_bot()
    sid = complete(store, engine, "P-303")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    summary = _summary(bot, COORDINATOR)

    await coordinator.press_data(f"c|confirm|{sid}|1", summary)
    await coordinator.press_data(f"c|confirm|{sid}|1", summary)  # double tap
    assert coordinator.notices[-1] is not None
    assert coordinator.notices[-1].startswith("You already confirmed P-303 (")
    assert coordinator.notices[-1].endswith(" UTC). Nothing changed.")
    await coordinator.replay()  # Telegram delivers the last press again
    assert coordinator.notices[-1].startswith("You already confirmed P-303 (")

    # Another coordinator's Confirm of the same completion: told whose it is.
    other = bot.chat(OTHER_COORDINATOR, "fr")
    await other.press_data(f"c|confirm|{sid}|1", _summary(bot, OTHER_COORDINATOR))
    assert other.notices[-1] is not None
    assert other.notices[-1].startswith(f"P-303 a déjà été validé par Coord C ({COORDINATOR}) (")
    assert other.notices[-1].endswith(" UTC). Rien n'a changé.")

    assert [(r.action, r.coordinator_id) for r in reviews(store, sid)] == [("confirm", COORDINATOR)]
    assert len(store.events(sid, "confirmed")) == 1
    assert sum("confirmed by" in text for text in coordinator.texts) == 1


async def test_a_redelivered_first_confirm_is_recorded_once(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-304")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|confirm|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.replay()
    assert len(reviews(store, sid)) == 1
    assert len(store.events(sid, "confirmed")) == 1


async def test_the_confirmer_asking_a_query_reads_you_confirmed_it(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-305")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|confirm|{sid}|1", _summary(bot, COORDINATOR))
    await coordinator.press_data(f"c|query|{sid}|1", _summary(bot, COORDINATOR))
    assert coordinator.last_text.startswith("⚠️ You confirmed it (")
    assert "if the investigator changes an answer, the screening is reopened" in (
        coordinator.last_text
    )
    assert "Already confirmed by" not in coordinator.last_text


# -- 3. a query is no sign-off: the screening stays in /pending, marked ---------------------


async def test_a_queried_screening_stays_pending_until_confirmed(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    queried = complete(store, engine, "P-306", age="16")
    complete(store, engine, "P-307")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|query|{queried}|1", _summary(bot, COORDINATOR))
    await coordinator.send("#3 is 16 a typo?", reply_to_last=True)
    assert coordinator.last_text.startswith("❓ Query on P-306 about")

    await coordinator.send("/pending")
    assert "Completed, not yet reviewed (2):" in coordinator.last_text
    lines = coordinator.last_text.splitlines()
    [line] = [line for line in lines if "P-306" in line]
    assert " · ❓ query open · /review P-306" in line
    assert "query" not in next(line for line in lines if "P-307" in line)
    assert [s.id for s in pending_review(store)] == [queried, queried + 1]

    # The investigator answers in words (a reply to the query message).
    await outbox_job(bot.context())
    investigator = bot.chat(INVESTIGATOR)
    await investigator.send("Yes: 61, not 16.", reply_to=investigator.sent[-1])
    await coordinator.send("/pending")
    [line] = [line for line in coordinator.last_text.splitlines() if "P-306" in line]
    assert " · 💬 answered in words · /review P-306" in line

    # Only a confirmation takes it out.
    await coordinator.press_data(f"c|confirm|{queried}|1", _summary(bot, COORDINATOR))
    await coordinator.send("/pending")
    assert "P-306" not in coordinator.last_text and "P-307" in coordinator.last_text


# -- 4. a coordinator's line that replies to nothing --------------------------------------


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_app(tmp_path) as made:
        made.store.add_user(INVESTIGATOR, "investigator", "Dr Martin", language="fr", actor="t")
        made.store.add_user(7001, "coordinator", "Claire", language="fr", actor="test")
        yield made


async def test_a_query_typed_without_replying_is_kept_with_a_hint(app: Bot) -> None:
    coordinator = app.chat(7001, "fr")
    question = "#26 est-ce bien la date de la dernière chimio ?"

    await coordinator.send(question)

    hint = (
        "Ce message n'a été envoyé à personne. Pour poser une question à un investigateur, "
        "appuyez sur ❓ Question sous le résumé du screening (ou sous /review CODE) : le "
        "bot vous demande alors votre question ; envoyez-la en réponse à ce message-là "
        "(Répondre, dans Telegram). /pending liste les screenings à revoir ; /new commence "
        "un screening.\n\n"
        "Votre message, à copier :\n"
    )
    assert coordinator.last_text == f"{hint}{question}"
    # Replying to the hint itself: it has no screening to go to either.
    await coordinator.send("#26 la date ?", reply_to_last=True)
    assert coordinator.last_text == f"{hint}#26 la date ?"
    assert not any(text.startswith("Aucun screening en cours") for text in coordinator.texts)

    # A coordinator screening a patient types answers as anyone: the flow reads them.
    await coordinator.send("/new")
    await coordinator.send("P-0401")  # the patient code asked for
    screening = app.store.find_open_screening(7001)
    assert screening is not None and screening.patient_code == "P-0401"
    asked = screening.current_state
    await coordinator.send(FULL_ELIGIBLE[asked])
    assert [a.question_id for a in app.store.answer_history(screening.id)][-1] == asked
    assert "Ce message n'a été envoyé à personne" not in coordinator.last_text

    # An investigator with nothing open still reads the flow's answer.
    investigator = app.chat(INVESTIGATOR, "fr")
    await investigator.send("bonjour")
    assert investigator.last_text.startswith("Aucun screening en cours")


# -- 5. /export and /review say what was wrong ---------------------------------------------


async def test_export_says_what_was_wrong(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    complete(store, engine, "P-308")
    coordinator = bot.chat(COORDINATOR)
    usage = (
        "Usage: /export [csv|json|fhir] [DD/MM/YYYY]: the screenings changed since that "
        "date (UTC), all by default. Nothing was exported: "
    )
    await coordinator.send("/export 31/02/2030")
    assert coordinator.last_text == usage + "“31/02/2030” is not a date."
    await coordinator.send("/export cvs")
    assert coordinator.last_text == usage + "“cvs” is not an export format (csv, json or fhir)."
    await coordinator.send("/export csv 24/11")
    assert coordinator.last_text == usage + "“24/11” is not a date."
    await coordinator.send("/export csv 01/01/2020 02/02/2020")
    assert coordinator.last_text == usage + "one date at most (the screenings changed since then)."
    await coordinator.send("/export 01/01/2999")
    assert coordinator.last_text == (
        "📭 Nothing changed since 01/01/2999: that date is still to come. No file sent."
    )
    assert bot.request.of("sendDocument") == []


async def test_review_of_a_number_that_is_no_screening_says_so(
    store: Store, make_bot: Callable[..., Any]
) -> None:
    store.add_user(OTHER_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    bot = await make_bot()
    await bot.chat(COORDINATOR).send("/review #999")
    assert bot.chat(COORDINATOR).last_text == "No screening #999."
    await bot.chat(OTHER_COORDINATOR, "fr").send("/review #999")
    assert bot.chat(OTHER_COORDINATOR).last_text == "Aucun screening #999."


# -- 6. cosmetics, with the bundled protocol's long French labels -------------------------


async def test_a_french_query_reads_well(app: Bot) -> None:
    investigator = app.chat(INVESTIGATOR, "fr")
    await investigator.send("/new P-0501")
    await answer_until_done(app, investigator, dict(FULL_ELIGIBLE))
    [screening] = app.store.list_screenings(INVESTIGATOR)
    sid = screening.id
    await outbox_job(CallbackContext(app.app))
    coordinator = app.chat(7001, "fr")
    summary = _summary(app, 7001)

    await coordinator.press_data(f"c|query|{sid}|1", summary)
    await coordinator.send("ecog: vraiment ?", reply_to_last=True)
    await outbox_job(CallbackContext(app.app))
    # The question named in the sentence, its "?" not inside the quotes.
    assert "à propos de « Indice de performance ECOG (0–5) » (réponse actuelle :" in (
        investigator.last_text
    )
    [[button]] = investigator.sent[-1]["reply_markup"]["inline_keyboard"]
    assert button["text"] == "↩️ Rouvrir à « Indice de performance ECOG (0–5) »"

    # A label too long for a button is cut between words, with "…", quotes closed.
    await coordinator.press_data(f"c|query|{sid}|1", summary)
    await coordinator.send("anc: quelle unité ?", reply_to_last=True)
    await outbox_job(CallbackContext(app.app))
    [[button]] = investigator.sent[-1]["reply_markup"]["inline_keyboard"]
    assert button["text"] == "↩️ Rouvrir à « PNN — polynucléaires neutrophiles… »"

    # /review in French: a space before the colon after the question's label.
    await coordinator.send("/review P-0501")
    review = "\n".join(coordinator.texts[-3:])
    assert "[Indice de performance ECOG (0–5)] : vraiment ?" in review


# -- 7. refusals that say why -------------------------------------------------------------


async def test_a_deactivated_coordinator_is_told_access_was_revoked(
    store: Store, make_bot: Callable[..., Any]
) -> None:
    # « Coordinators only. » to a coordinator whose access was revoked read like a bug.
    bot = await make_bot()
    revoked = bot.chat(SECOND_COORDINATOR)
    await revoked.send("/pending")
    assert revoked.last_text == (
        f"Your access was revoked (user id {SECOND_COORDINATOR}): ask the trial unit's admin."
    )


async def test_confirm_on_an_abandoned_screening_says_abandoned(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    # « This screening is not completed any more. » of one its investigator abandoned.
    bot = await make_bot()
    sid = complete(store, engine, "P-307")
    await outbox_job(bot.context())
    summary = _summary(bot, COORDINATOR)
    with store.screening_tx(sid) as tx:
        tx.reopen("age", INVESTIGATOR, "resume")
    with store.screening_tx(sid) as tx:
        tx.abandon(INVESTIGATOR)
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|confirm|{sid}|1", summary)
    assert coordinator.notices[-1] == "P-307 was abandoned by its investigator: nothing to review."
