"""``screenbot`` with no subcommand: the bot when a token is configured, else the terminal chat."""

from __future__ import annotations

import argparse

from bot.settings import Settings


def run_main_job(args: argparse.Namespace) -> int:
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
        run_bot(build_application(settings, services), settings)
    finally:
        services.close()
    return 0
