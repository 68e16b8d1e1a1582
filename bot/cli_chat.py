"""``screenbot chat [--lang en|fr] [--user-id N]``: screen a patient from a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from bot.cli_db import telegram_id


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="screen a patient in the terminal (same commands as the Telegram bot)",
        description="The screening conversation in a terminal, on the configured database "
        "(the embedded SQLite file in DATA_DIR by default).",
    )
    _arguments(parser)
    parser.set_defaults(func=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=("en", "fr"), default=None, help="conversation language")
    parser.add_argument(
        "--user-id",
        type=telegram_id,
        default=None,
        metavar="TELEGRAM_ID",
        help="screen as this registered, active user (default: a local investigator, "
        "created on first use)",
    )


def run(args: argparse.Namespace) -> int:
    from bot.chat import run_terminal
    from bot.settings import Settings

    return run_terminal(Settings(), lang=args.lang, user_id=args.user_id)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="screenbot chat")
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
