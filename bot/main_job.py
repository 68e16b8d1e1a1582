"""``screenbot`` with no subcommand: the bot when a token is configured, else the terminal chat."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from telegram.request import BaseRequest


def run_main_job(args: argparse.Namespace, *, request: BaseRequest | None = None) -> int:
    """Start the bot (or the terminal chat) and run it until stopped.

    ``request`` replaces the Bot API transport (tests: an offline fake).  Logging is
    configured, with the token masked, before anything can log it.
    """
    settings = Settings()
    if settings.telegram_token is None:
        from bot.chat import run_terminal

        return run_terminal(
            settings, lang=getattr(args, "lang", None), user_id=getattr(args, "user_id", None)
        )

    from bot.app import build_application, build_services, configure_logging, run_bot

    configure_logging(settings)
    services = build_services(settings)
    try:
        app = build_application(settings, services, request=request, get_updates_request=request)
        run_bot(app, settings)
    finally:
        services.close()
    return 0
