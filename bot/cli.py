"""The ``screenbot`` command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function; this
module only assembles them.  With no subcommand, ``screenbot`` runs the main job: the
Telegram bot when a token is configured, otherwise the terminal chat on SQLite.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = args.func
    if func is None:
        from bot.main_job import run_main_job

        return run_main_job(args)
    return func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
