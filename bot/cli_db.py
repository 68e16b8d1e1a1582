"""``screenbot db upgrade`` and ``screenbot users …``: schema and access management.

Users are managed from the command line, not from Telegram, so granting access to
clinical data needs shell access to the server.  Exit codes: 0 done, 1 refused (unknown
user, duplicate, schema out of date), 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from storage import Role, StorageError, Store
from storage.engine import is_sqlite, normalise_url
from storage.errors import SchemaOutOfDate

_LANGUAGES = ("en", "fr")

# Telegram user ids are positive and fit a signed 64-bit column (BIGINT in PostgreSQL,
# INTEGER in SQLite): anything else overflows the driver or can never be a real account.
_TELEGRAM_ID_LIMIT = 2**63


def telegram_id(text: str) -> int:
    """argparse ``type=`` for a Telegram user id: refused at parse time (exit 2), not by the DB."""
    digits = text.strip()
    # ASCII digits only: int() would also take "1_000", "+7" or other scripts' digits.
    value = int(digits) if digits.isascii() and digits.isdigit() else 0
    if not 0 < value < _TELEGRAM_ID_LIMIT:
        raise argparse.ArgumentTypeError(
            f"invalid Telegram user id: {text!r} (expected a positive integer below 2^63)"
        )
    return value


def register(subparsers: Any) -> None:
    db = subparsers.add_parser(
        "db", help="database schema", description="Manage the database schema."
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser(
        "upgrade",
        help="apply pending schema migrations",
        description="Apply pending schema migrations to the configured database "
        "(DATABASE_URL, or the embedded SQLite file in DATA_DIR, created if missing). "
        "Needed after each upgrade of screenbot on PostgreSQL; SQLite migrates itself.",
    )
    upgrade.set_defaults(func=_db_upgrade)

    users = subparsers.add_parser(
        "users",
        help="who may use the bot",
        description="Authorise, list, deactivate and reactivate the bot's users.",
    )
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = users_sub.add_parser(
        "add", help="authorise a Telegram user", description="Authorise a Telegram user."
    )
    add.add_argument("telegram_id", type=telegram_id, metavar="TELEGRAM_ID")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", default="", help="display name")
    add.add_argument(
        "--lang", choices=_LANGUAGES, default=None, help="default: the Telegram client's"
    )
    add.set_defaults(func=_users_add)

    listing = users_sub.add_parser("list", help="list users", description="List users.")
    listing.add_argument("--role", choices=[r.value for r in Role], default=None)
    listing.set_defaults(func=_users_list)

    for name, active, text in (
        ("deactivate", False, "revoke a user's access (their history is kept)"),
        ("activate", True, "restore a deactivated user's access"),
    ):
        action = users_sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        action.add_argument("telegram_id", type=telegram_id, metavar="TELEGRAM_ID")
        action.set_defaults(func=_set_active(active))


def _database_url() -> str:
    from bot.settings import Settings

    return Settings().effective_database_url


def _open_store(*, migrate: bool) -> Store:
    url = _database_url()
    store = Store(url)
    if migrate:
        store.upgrade()
    elif store.needs_upgrade():
        # The embedded default migrates itself like the app does on start; a shared
        # PostgreSQL database is migrated on purpose, by `screenbot db upgrade`.
        if is_sqlite(normalise_url(url)):
            store.upgrade()
        else:
            store.close()
            raise SchemaOutOfDate("the database schema is out of date: run `screenbot db upgrade`")
    return store


def _run(action: Callable[[Store], str], *, migrate: bool = False) -> int:
    try:
        store = _open_store(migrate=migrate)
        try:
            message = action(store)
        finally:
            store.close()
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(message)
    return 0


def _db_upgrade(_args: argparse.Namespace) -> int:
    def done(store: Store) -> str:
        return f"database schema is up to date ({store.url.render_as_string(hide_password=True)})"

    return _run(done, migrate=True)


def _users_add(args: argparse.Namespace) -> int:
    def add(store: Store) -> str:
        user = store.add_user(args.telegram_id, args.role, args.name, language=args.lang)
        return f"added {user.role} {user.telegram_id} {user.display_name}".rstrip()

    return _run(add)


def _users_list(args: argparse.Namespace) -> int:
    def listing(store: Store) -> str:
        users = store.list_users(role=args.role)
        if not users:
            return "no users"
        rows = [
            f"{u.telegram_id}\t{u.role}\t{'active' if u.active else 'inactive'}\t"
            f"{u.language or '-'}\t{u.display_name}"
            for u in users
        ]
        return "\n".join(["TELEGRAM_ID\tROLE\tSTATUS\tLANG\tNAME", *rows])

    return _run(listing)


def _set_active(active: bool) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        def apply(store: Store) -> str:
            user = store.set_active(args.telegram_id, active)
            return f"{'activated' if active else 'deactivated'} {user.telegram_id}"

        return _run(apply)

    return handler
