"""``screenbot export`` and ``screenbot log``: the coordinator's files, from the command line.

The same functions build the documents /export and /log send in Telegram, so a file
from the shell and a file from the bot never differ.  Exit codes: 0 done, 1 refused
(database problem), 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bot.reminders import engine_of, protocol_of
from bot.screening_flow import answers_of
from dialogs.errors import ProtocolError
from dialogs.protocol import Protocol
from dialogs.registry import ProtocolRegistry
from storage import StorageError, Store
from storage.exports import (
    ScreeningExport,
    count_screenings,
    iter_screenings,
    stored_statuses,
    write_csv,
    write_json,
)
from storage.fhir import write_bundle
from storage.screening_log import OUTCOME_LABELS, OUTCOMES, ScreeningLog, compute_log

Format = Literal["csv", "json", "fhir"]
UTF8_BOM = "\ufeff"
FORMATS: tuple[Format, ...] = ("csv", "json", "fhir")
SUFFIX = {"csv": "csv", "json": "json", "fhir": "fhir.json"}


def register(subparsers: Any) -> None:
    export = subparsers.add_parser(
        "export",
        help="export screenings as CSV, JSON (full history) or FHIR R4",
        description="Export screenings from the configured database: CSV (one row per "
        "screening, one column per criterion), JSON (every answer and event, the full "
        "audit trail) or a FHIR R4 Bundle. The same files /export sends in Telegram.",
    )
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument(
        "--since",
        type=parse_since,
        default=None,
        metavar="DATE",
        help="only screenings created on or after DATE (YYYY-MM-DD)",
    )
    export.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="write to FILE (default: standard output)",
    )
    export.set_defaults(func=_export_command)

    screening_log = subparsers.add_parser(
        "log",
        help="the screening log: outcomes by cohort and the criteria that fail most",
        description="Print the screening log: outcomes by cohort and the criteria that "
        "fail most, optionally drawn as a PNG chart. The same log /log sends in Telegram.",
    )
    screening_log.add_argument("--since", type=parse_since, default=None, metavar="DATE")
    screening_log.add_argument(
        "--png", type=Path, default=None, metavar="FILE", help="also draw the log as a PNG chart"
    )
    screening_log.set_defaults(func=_log_command)


def parse_since(text: str) -> dt.datetime:
    """A calendar date (midnight UTC) or an ISO timestamp; argparse reports a bad one."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            return dt.datetime.combine(dt.date.fromisoformat(text.strip()), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- building the files (shared with /export) -----------------------------------------------------


def criterion_columns(registry: ProtocolRegistry) -> list[str]:
    """Every loaded protocol's criterion ids: inclusion (I..) first, then non-inclusion (N..)."""
    ids = {c.id for engine in registry.engines() for c in engine.protocol.criteria}
    return sorted(ids, key=lambda cid: (cid[0] != "I", cid))


def live_statuses(
    store: Store, registry: ProtocolRegistry
) -> Callable[[ScreeningExport], Mapping[str, str]]:
    """Stored statuses of completed screenings; the engine's current ones for the others.

    Only screenings without stored statuses (in progress, abandoned) read their answers
    here, one query each: they are few next to the completed ones.
    """

    def statuses(item: ScreeningExport) -> Mapping[str, str]:
        stored = stored_statuses(item)
        if stored:
            return stored
        engine = engine_of(registry, item.screening)
        if engine is None:
            return {}
        answers = answers_of(store.current_answers(item.id))
        return engine.evaluate_answers(answers).statuses() if answers else {}

    return statuses


def export_to(
    store: Store,
    registry: ProtocolRegistry,
    fmt: Format,
    out: TextIO,
    since: dt.datetime | None = None,
    on_row: Callable[[], None] | None = None,
    *,
    for_spreadsheet: bool = False,
) -> int:
    """Write one export format to ``out``, streaming; returns the number of screenings.

    ``for_spreadsheet``: a CSV file someone will open, not a stream a program reads.  It
    starts with a UTF-8 byte-order mark, without which Excel reads the file as the
    local code page and an investigator named Hélène comes out as "HÃ©lÃ¨ne".
    """
    if fmt == "csv":
        if for_spreadsheet:
            out.write(UTF8_BOM)
        rows = iter_screenings(store, since, question_ids=("cohort",))
        return write_csv(
            rows, out, criterion_columns(registry), live_statuses(store, registry), on_row
        )
    if fmt == "json":
        return write_json(
            iter_screenings(store, since, with_events=True, raw_values=True), out, on_row
        )

    def protocol_for(item: ScreeningExport) -> Protocol | None:
        return protocol_of(registry, item.screening)

    return write_bundle(iter_screenings(store, since), out, protocol_for, on_row)


def log_rows(log: ScreeningLog) -> list[list[str]]:
    """The log as rows (header first): one per cohort, then the total."""
    header = ["Cohort", "Screened", *(OUTCOME_LABELS[k] for k in OUTCOMES)]
    rows = [header]
    for cohort in sorted(log.by_cohort):
        counts = log.by_cohort[cohort]
        rows.append([cohort, str(sum(counts.values())), *(str(counts[k]) for k in OUTCOMES)])
    rows.append(["Total", str(log.screened), *(str(log.totals[k]) for k in OUTCOMES)])
    return rows


# -- commands ---------------------------------------------------------------------------------


def _open() -> tuple[Store, ProtocolRegistry]:
    from bot.cli_db import _open_store
    from bot.settings import Settings

    registry = ProtocolRegistry.from_directory(Settings().protocol_dir)
    return _open_store(migrate=False), registry


class OutputError(Exception):
    """The output file cannot be written; the message names it and the reason."""


def _error(console: Console, message: object) -> None:
    """One line on stderr, never wrapped at the terminal's width nor read as rich markup."""
    console.print(Text.assemble(("error:", "red"), " ", str(message)), soft_wrap=True)


def cannot_write(path: Path, exc: OSError) -> str:
    """The reason alone: str(OSError) would repeat the path after a raw ``[Errno N]``."""
    return f"cannot write {path}: {exc.strerror or exc}"


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or ``path`` replaced only once the whole export is written.

    The export goes to a temporary file beside ``path``: an export that fails half-way
    (database error, full disk) leaves a previous file of that name intact.
    """
    if path is None:
        yield sys.stdout
        return
    if path.exists() and not path.is_file():
        # /dev/stdout, a named pipe: written in place, never renamed over.
        try:
            direct = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise OutputError(cannot_write(path, exc)) from None
        with direct:
            yield direct
        return
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(cannot_write(path, exc)) from None
    temporary = Path(name)
    handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
    try:
        with handle:
            yield handle
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(cannot_write(path, exc)) from None
    finally:
        temporary.unlink(missing_ok=True)


def _export_command(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    try:
        store, registry = _open()
    except (StorageError, ProtocolError) as exc:
        _error(err, exc)
        return 1
    try:
        total = count_screenings(store, args.since)
        progress = Progress(
            TextColumn(f"export {args.format}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        # The output first: a file that cannot be written is refused before a progress
        # bar is drawn (it would leave a stray line above the error).
        # A CSV written to a file is for a spreadsheet; on standard output or into a pipe
        # it is for a program, which a byte-order mark would only trip up.
        to_file = args.output is not None and (not args.output.exists() or args.output.is_file())
        with _output(args.output) as out, progress:
            task = progress.add_task("export", total=total)
            written = export_to(
                store,
                registry,
                args.format,
                out,
                args.since,
                on_row=lambda: progress.advance(task),
                for_spreadsheet=to_file,
            )
    except (StorageError, OutputError) as exc:
        _error(err, exc)
        return 1
    finally:
        store.close()
    where = f" to {args.output}" if args.output else ""
    err.print(f"{written} screening(s) exported as {args.format}{where}")
    return 0


def _log_command(args: argparse.Namespace) -> int:
    from storage.screening_log import render_png

    console = Console()
    try:
        store, _registry = _open()
    except (StorageError, ProtocolError) as exc:
        _error(Console(stderr=True), exc)
        return 1
    try:
        log = compute_log(store, args.since)
    finally:
        store.close()
    rows = log_rows(log)
    since = f" since {args.since.date().isoformat()}" if args.since else ""
    table = Table(title=f"Screening log{since}")
    for i, name in enumerate(rows[0]):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows[1:-1]:
        table.add_row(*row)
    table.add_row(*rows[-1], style="bold")
    console.print(table)
    failing = Table(title="Criteria that fail most")
    failing.add_column("Criterion")
    failing.add_column("Not-eligible patients", justify="right")
    for cid, count in log.top_failing(10):
        failing.add_row(cid, str(count))
    console.print(failing)
    if args.png is not None:
        try:
            args.png.write_bytes(render_png(log))
        except OSError as exc:
            _error(Console(stderr=True), cannot_write(args.png, exc))
            return 1
        console.print(f"chart written to {args.png}")
    return 0
