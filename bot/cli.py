"""The ``screenbot`` command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function; this
module only assembles them.  With no subcommand, ``screenbot`` runs the main job: the
Telegram bot when a token is configured, otherwise the terminal chat on SQLite.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import BotError
from dialogs.errors import DialogError
from storage.errors import StorageError

if TYPE_CHECKING:
    from telegram.request import BaseRequest

Handler = Callable[[argparse.Namespace], int]

# Modules that contribute subcommands.  Each must define register(subparsers).
_COMMAND_MODULES = (
    "bot.cli_evaluate",
    "bot.cli_protocol",
    "bot.cli_chat",
    "bot.cli_db",
    "bot.cli_export",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="screenbot",
        description="Eligibility screening assistant (AcSé Pembrolizumab).",
    )
    parser.set_defaults(func=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, request: BaseRequest | None = None) -> int:
    """Run one command; a set-up problem is one ``screenbot: error: …`` line, exit 1.

    ``request``: the Bot API transport for the main job (tests pass an offline one, so
    that start-up failures are exercised through this very function).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = args.func
    try:
        if func is None:
            from bot.main_job import run_main_job

            return run_main_job(args, request=request)
        return func(args)
    except (BotError, DialogError, StorageError) as exc:
        # A broken protocol file, an unusable database or a refused setting: the message
        # names it, in argparse's "prog: error: …" form.
        print(f"screenbot: error: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        # A setting from the environment or .env that does not parse (only Settings is
        # validated here): name the variable, never its value, which may be a secret.
        print(f"screenbot: error: {_setting_problem(exc)}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        # The database is unreachable or refused us: say which one, never the password.
        print(
            f"screenbot: database error ({_database_shown()}): {_first_line(exc)}",
            file=sys.stderr,
        )
        return 1


def _setting_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper() or "settings"
    # pydantic prefixes a validator's own message with "Value error, ": noise to a reader.
    message = first["msg"].removeprefix("Value error, ")
    return f"{name}: {message}"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _database_shown() -> str:
    from sqlalchemy.engine import make_url

    from bot.settings import Settings

    url = Settings().effective_database_url
    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
