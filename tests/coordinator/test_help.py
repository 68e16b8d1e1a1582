"""/help and the command menu for coordinators, through the real application factory.

QA round 4: a coordinator's /help listed only the investigator's commands, and the menu
had none of theirs.  The investigator flow and the coordinator extension are wired by
``bot.app`` exactly as in production; only the Bot API is offline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.ext import CallbackContext, CommandHandler

from bot.coordinator import HANDLER_GROUP, MENU_JOB, MENU_REFRESH, menu_job
from bot.texts import COMMANDS, COORDINATOR_COMMANDS, t
from tests.bot.conftest import INVESTIGATOR, Bot
from tests.coordinator.conftest import running_app

COORDINATOR = 7001
FRENCH_COORDINATOR = 7002
ADMIN = 7003
UNNAMED_COORDINATOR = 7004
FORMER_COORDINATOR = 7005


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_app(tmp_path) as made:
        store = made.store
        store.add_user(INVESTIGATOR, "investigator", "Dr A", actor="test")
        store.add_user(COORDINATOR, "coordinator", "Coord C", language="en", actor="test")
        store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
        store.add_user(ADMIN, "admin", "Admin E", actor="test")
        store.add_user(UNNAMED_COORDINATOR, "coordinator", actor="test")
        store.add_user(FORMER_COORDINATOR, "coordinator", "Coord X", active=False, actor="test")
        yield made


def registered_commands(bot: Bot) -> set[str]:
    """The commands bot/coordinator.py registers, /help aside (the flow has its own)."""
    handlers = bot.app.handlers[HANDLER_GROUP]
    names = {c for h in handlers if isinstance(h, CommandHandler) for c in h.commands}
    return names - {"help"}


def command_lines(text: str, commands: set[str]) -> dict[str, list[str]]:
    lines = text.splitlines()
    return {c: [line for line in lines if line.startswith(f"/{c} ")] for c in commands}


async def test_a_coordinators_help_lists_every_coordinator_command(bot: Bot) -> None:
    commands = registered_commands(bot)
    assert commands == {"pending", "review", "log", "export"}
    for lang in ("en", "fr"):  # the menus list the same commands
        assert [c for c, _ in COORDINATOR_COMMANDS[lang]] == ["pending", "review", "log", "export"]

    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/help")

    [reply] = coordinator.texts
    assert reply.startswith(t("help", "en"))  # what an investigator reads, then theirs
    assert "Coordinator commands:" in reply
    for command, lines in command_lines(reply, commands).items():
        assert len(lines) == 1, (command, reply)
    assert "/review CODE – " in reply and "/export [csv|json|fhir] [DD/MM/YYYY] – " in reply


async def test_in_french_for_a_french_coordinator(bot: Bot) -> None:
    coordinator = bot.chat(FRENCH_COORDINATOR)
    await coordinator.send("/help")

    [reply] = coordinator.texts
    assert reply.startswith(t("help", "fr"))
    assert "Commandes du coordinateur :" in reply
    for command, lines in command_lines(reply, registered_commands(bot)).items():
        assert len(lines) == 1, (command, reply)
    assert "/pending – screenings terminés pas encore revus" in reply


async def test_in_the_telegram_clients_language_when_none_was_chosen(bot: Bot) -> None:
    admin = bot.chat(ADMIN, language_code="fr-FR")
    await admin.send("/help")
    [reply] = admin.texts
    assert "Commandes du coordinateur :" in reply and "/log [JJ/MM/AAAA [JJ/MM/AAAA]]" in reply


async def test_an_investigators_help_is_unchanged(bot: Bot) -> None:
    investigator = bot.chat(INVESTIGATOR)
    await investigator.send("/help")
    assert investigator.texts == [t("help", "en")]
    assert "/pending" not in investigator.texts[0]


async def test_a_deactivated_coordinator_is_refused_as_before(bot: Bot) -> None:
    former = bot.chat(FORMER_COORDINATOR)
    await former.send("/help")
    [reply] = former.texts
    assert reply.startswith("⛔") and str(FORMER_COORDINATOR) in reply


async def test_coordinators_get_a_menu_of_their_own_at_start(bot: Bot) -> None:
    # Scheduled at registration; the JobQueue runs it once the application starts.
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name(MENU_JOB)
    # …and every hour: users are added by the command line, which cannot tell the bot.
    assert job.job.trigger.interval.total_seconds() == MENU_REFRESH
    await menu_job(CallbackContext(bot.app))

    menus: dict[tuple[int, str | None], list[tuple[str, str]]] = {}
    for call in bot.request.of("setMyCommands"):
        scope = call.params["scope"]
        assert scope["type"] == "chat"
        key = (int(scope["chat_id"]), call.params.get("language_code"))
        menus[key] = [(c["command"], c["description"]) for c in call.params["commands"]]

    english = [*COMMANDS["en"], *COORDINATOR_COMMANDS["en"]]
    french = [*COMMANDS["fr"], *COORDINATOR_COMMANDS["fr"]]
    # Every client language gets the language the coordinator chose…
    assert {menus[(COORDINATOR, code)] == english for code in (None, "en", "fr")} == {True}
    assert {menus[(FRENCH_COORDINATOR, code)] == french for code in (None, "en", "fr")} == {True}
    # …or, without a choice, the client's own (the default for other clients).
    assert menus[(ADMIN, "fr")] == french
    assert menus[(ADMIN, None)] == menus[(ADMIN, "en")] == english
    assert {chat for chat, _ in menus} == {
        COORDINATOR,
        FRENCH_COORDINATOR,
        ADMIN,
        UNNAMED_COORDINATOR,
    }
    # A deactivated coordinator's menu goes; investigators keep the default menu.
    deleted = {int(c.params["scope"]["chat_id"]) for c in bot.request.of("deleteMyCommands")}
    assert deleted == {FORMER_COORDINATOR}
