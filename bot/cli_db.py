"""``screenbot db upgrade`` and ``screenbot users …``: schema and access management.

Users are managed from the command line, not from Telegram, so granting access to
clinical data needs shell access to the server.  Exit codes: 0 done (or nothing to do:
deactivating a user who already is), 1 refused (no database, unknown user, duplicate,
schema out of date), 2 bad usage (argparse).

Only ``db upgrade`` and ``users add`` may create the database: every other command
needs one to be there already, so a mistyped ``DATA_DIR`` is reported instead of
answered from a new, empty database.

Every change of access records who made it (``--by``, else the login running the
command) so ``users history`` can tell an inspector who granted or revoked access.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage import DuplicateUser, Role, StorageError, Store, User, UserNotFound
from storage.engine import (
    READ_ONLY_COPY,
    MissingDatabase,
    ReadOnlyDatabase,
    is_read_only,
    is_sqlite,
    normalise_url,
    require_existing_sqlite,
    sqlite_file,
)
from storage.errors import SchemaOutOfDate
from storage.models import AccessAction, AccessEvent
from storage.schema import current_revision

_LANGUAGES = ("en", "fr")
# `users set --lang auto`: no language of their own, the Telegram client's is used.
_AUTO_LANGUAGE = "auto"

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


def display_name(text: str) -> str:
    """A display name with its spaces tidied; a blank one is refused: summaries and the
    audit trail would name the person by a blank ("Dr  " or nothing at all)."""
    return _tidied(text, "a display name")


def actor_name(text: str) -> str:
    """``--by``: tidied like a display name, as a blank would answer "who granted it?"
    with nothing, and a tab or newline would break the columns of ``users history``."""
    return _tidied(text, "--by")


def _tidied(text: str, what: str) -> str:
    tidy = " ".join(text.split())
    if not tidy:
        raise argparse.ArgumentTypeError(f"{what} must not be blank")
    return tidy


def _add_by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by",
        type=actor_name,
        default=None,
        metavar="NAME",
        help="who makes this change, for `users history` (default: cli:LOGIN)",
    )


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
        description="Authorise, list, deactivate and reactivate the bot's users, and "
        "show who changed their access.",
    )
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = users_sub.add_parser(
        "add", help="authorise a Telegram user", description="Authorise a Telegram user."
    )
    add.add_argument("telegram_id", type=telegram_id, metavar="TELEGRAM_ID")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", type=display_name, default=None, help="display name")
    add.add_argument(
        "--lang", choices=_LANGUAGES, default=None, help="default: the Telegram client's"
    )
    _add_by(add)
    add.set_defaults(func=_users_add)

    change = users_sub.add_parser(
        "set",
        help="change a user's role, display name or language",
        description="Change a registered user's role, display name or language; the "
        "options not given are kept. `--lang auto` goes back to the Telegram client's "
        "language.",
    )
    change.add_argument("telegram_id", type=telegram_id, metavar="TELEGRAM_ID")
    change.add_argument("--role", choices=[r.value for r in Role], default=None)
    change.add_argument("--name", type=display_name, default=None, help="display name")
    change.add_argument("--lang", choices=[*_LANGUAGES, _AUTO_LANGUAGE], default=None)
    _add_by(change)
    change.set_defaults(func=_users_set, parser=change)

    listing = users_sub.add_parser("list", help="list users", description="List users.")
    listing.add_argument("--role", choices=[r.value for r in Role], default=None)
    listing.set_defaults(func=_users_list)

    for name, active, text in (
        ("deactivate", False, "revoke a user's access (their history is kept)"),
        ("activate", True, "restore a deactivated user's access"),
    ):
        action = users_sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        action.add_argument("telegram_id", type=telegram_id, metavar="TELEGRAM_ID")
        _add_by(action)
        action.set_defaults(func=_set_active(active))

    history = users_sub.add_parser(
        "history",
        help="who was granted, changed or revoked access, when, by whom",
        description="List the changes of access (added, role changed, renamed, "
        "deactivated, activated) oldest first, with who made each (`--by`, else "
        "cli:LOGIN). Times are UTC. Language changes are the user's preference and are "
        "not listed. The history starts with the screenbot upgrade that introduced it: "
        "users added before have no rows, and their current access is in `users list`.",
    )
    history.add_argument(
        "telegram_id",
        type=telegram_id,
        nargs="?",
        default=None,
        metavar="TELEGRAM_ID",
        help="only this user's changes",
    )
    history.set_defaults(func=_users_history)


def _database_url() -> str:
    from bot.settings import Settings

    return Settings().effective_database_url


def _open_store(*, migrate: bool, create: bool = False, writes: bool = False) -> Store:
    """The configured store, its schema current.

    ``create``: the command may create the database (``db upgrade``, ``users add``, like
    the bot on start).  Without it a SQLite file that is missing, empty or holds no
    screenbot schema is refused with :class:`MissingDatabase`, before anything is
    created or migrated: those commands read, or change what must already exist.

    ``writes``: the command changes what exists (``users set``…).  Commands that only
    read (lists, exports, the log) open a SQLite database on a read-only location (a
    snapshot, a backup mount) read-only instead of refusing it.
    """
    url = _database_url()
    parsed = normalise_url(url)
    if not create:
        parsed = require_existing_sqlite(parsed, read_only=not (migrate or writes))
    store = Store(parsed)
    try:
        if migrate:
            store.upgrade()
        elif store.needs_upgrade():
            # The embedded default migrates itself like the app does on start; a shared
            # PostgreSQL database is migrated on purpose, by `screenbot db upgrade`.
            if is_read_only(parsed):
                raise ReadOnlyDatabase(
                    sqlite_file(parsed) or "", f"its schema is out of date; {READ_ONLY_COPY}"
                )
            if not is_sqlite(parsed):
                raise SchemaOutOfDate(
                    "the database schema is out of date: run `screenbot db upgrade`"
                )
            if not create and current_revision(store.engine) is None:
                # A SQLite file that is not (yet) screenbot's: never migrate it into one.
                raise MissingDatabase(Path(parsed.database or "").absolute())
            store.upgrade()
    except BaseException:
        store.close()
        raise
    return store


def _run(
    action: Callable[[Store], str],
    *,
    migrate: bool = False,
    create: bool = False,
    writes: bool = False,
) -> int:
    try:
        store = _open_store(migrate=migrate, create=create, writes=writes)
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

    return _run(done, migrate=True, create=True)


def _users_add(args: argparse.Namespace) -> int:
    def add(store: Store) -> str:
        try:
            user = store.add_user(
                args.telegram_id, args.role, args.name or "", language=args.lang, actor=_actor(args)
            )
        except DuplicateUser as exc:
            # `add` again is what people try first to change a user: say what does it.
            raise StorageError(
                f"{exc}: change it with `screenbot users set {args.telegram_id} "
                f"--role {args.role}` (or --name, --lang)"
            ) from None
        return f"added {user.role} {user.telegram_id} {user.display_name}".rstrip()

    return _run(add, create=True)


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
            # Read first: "deactivated 100" for a user who already was would let an admin
            # believe they had just revoked an access that someone else had revoked.
            user = _existing_user(store, args.telegram_id)
            if user.active == active:
                state = "active" if active else "deactivated"
                return f"{user.telegram_id} is already {state}; nothing changed"
            user = store.set_active(args.telegram_id, active, actor=_actor(args))
            return f"{'activated' if active else 'deactivated'} {user.telegram_id}"

        return _run(apply, writes=True)

    return handler


def _existing_user(store: Store, telegram_id: int) -> User:
    user = store.get_user(telegram_id)
    if user is None:
        raise UserNotFound(telegram_id)
    return user


def _users_set(args: argparse.Namespace) -> int:
    if args.role is None and args.name is None and args.lang is None:
        # argparse's own usage error (exit 2): the command needs something to change.
        args.parser.error("nothing to change: give --role, --name or --lang")
    language = None if args.lang == _AUTO_LANGUAGE else args.lang

    def change(store: Store) -> str:
        before = _existing_user(store, args.telegram_id)
        user = before
        changes: list[str] = []
        if args.role is not None and args.role != before.role:
            user = store.set_role(args.telegram_id, args.role, actor=_actor(args))
            changes.append(_role_change(before.role, user.role))
        if args.name is not None and args.name != before.display_name:
            user = store.set_display_name(args.telegram_id, args.name, actor=_actor(args))
            changes.append(_name_change(before.display_name, user.display_name))
        if args.lang is not None and language != before.language:
            user = store.set_language(args.telegram_id, language)
            changes.append(f"language {_shown_language(before)} -> {_shown_language(user)}")
        if not changes:
            return f"{user.telegram_id} already has these settings; nothing changed"
        return f"updated {user.telegram_id}: " + ", ".join(changes)

    return _run(change, writes=True)


def _shown_language(user: User) -> str:
    return user.language or _AUTO_LANGUAGE


def _role_change(before: str, after: str) -> str:
    return f"role {before} -> {after}"


def _name_change(before: str, after: str) -> str:
    return f"name {before!r} -> {after!r}"


def _actor(args: argparse.Namespace) -> str:
    """Who the access history names for this command: ``--by``, else the login.

    The login is what the server can vouch for; a shared account (root) says little,
    hence ``--by``.  A process without a login name (a container's numeric uid) still
    changes access, recorded as ``cli:unknown`` rather than refused.
    """
    if args.by is not None:
        by: str = args.by
        return by
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # KeyError before Python 3.13, OSError since
        login = "unknown"
    sudo = os.environ.get("SUDO_USER", "").strip()
    if sudo and sudo != login:
        # `sudo screenbot users …` runs as root: the person is the one sudo names.
        return f"cli:{login} (sudo: {sudo})"
    return f"cli:{login}"


def _users_history(args: argparse.Namespace) -> int:
    def history(store: Store) -> str:
        if args.telegram_id is not None:
            # Refused like `users set`: "nothing recorded" for a mistyped id would read as
            # "this person never had access".
            _existing_user(store, args.telegram_id)
        events = store.access_history(args.telegram_id)
        if not events:
            return "no access changes recorded"
        names = {user.telegram_id: user.display_name for user in store.list_users()}
        rows = [
            f"{event.created_at:%Y-%m-%d %H:%M}\t{event.telegram_id}\t"
            f"{names.get(event.telegram_id, '')}\t{event.action}\t{_shown_change(event)}\t"
            f"{event.actor}"
            for event in events
        ]
        return "\n".join(["WHEN (UTC)\tTELEGRAM_ID\tNAME\tACTION\tCHANGE\tBY", *rows])

    return _run(history)


def _shown_change(event: AccessEvent) -> str:
    """The CHANGE column, in the words `users set` prints for the same change."""
    detail = event.detail or {}
    if event.action == AccessAction.ADDED:
        parts = [f"role {detail.get('role')}"]
        if detail.get("name"):
            parts.append(f"name {detail['name']!r}")
        if detail.get("active") is False:
            parts.append("inactive")
        return ", ".join(parts)
    if event.action == AccessAction.ROLE_CHANGED:
        return _role_change(detail.get("from", "?"), detail.get("to", "?"))
    if event.action == AccessAction.RENAMED:
        return _name_change(detail.get("from", "?"), detail.get("to", "?"))
    return "-"
