"""``screenbot export`` and ``screenbot log``: the coordinator's files, from the command line.

The same functions build the documents /export and /log send in Telegram, so a file
from the shell and a file from the bot never differ.  Exit codes: 0 done (warnings, such
as screenings exported without their protocol file, go to stderr), 1 refused (no
database, database problem, an output file that cannot be written or is the database
itself, standard output closed early by its reader, as by ``| head``), 2 bad usage
(argparse).

``--since`` means what each document is for: an export is incremental, so it carries
the screenings *changed* since the date (a screening started earlier and completed
later must reach it); the log counts the patients *screened* (screenings started) since
the date.  Both print the exact cut-off they applied.  Dates read as in the chat
(DD/MM/YYYY) or as YYYY-MM-DD, so that a coordinator types the same date in both; the
log's ``--until`` ends the period as Telegram's ``/log FROM TO`` does (that day included).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
import tempfile
from collections import Counter
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
from storage.engine import SQLITE_COMPANIONS, database_files, overwritten_database_file
from storage.exports import (
    PLANNED_START,
    Criteria,
    ProtocolKey,
    ScreeningExport,
    count_screenings,
    iter_screenings,
    protocol_key,
    stored_criteria,
    write_csv,
    write_json,
)
from storage.fhir import write_bundle
from storage.screening_log import (
    OUTCOME_LABELS,
    OUTCOMES,
    ChartWords,
    ScreeningLog,
    compute_log,
    render_png,
)

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
        help="only screenings changed on or after DATE (DD/MM/YYYY or YYYY-MM-DD, midnight "
        "UTC, or an ISO timestamp): started, answered, completed, reopened, abandoned, "
        "reviewed or queried since then",
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
    screening_log.add_argument(
        "--since",
        type=parse_since,
        default=None,
        metavar="DATE",
        help="only patients screened (screenings started) on or after DATE (DD/MM/YYYY or "
        "YYYY-MM-DD, midnight UTC, or an ISO timestamp)",
    )
    screening_log.add_argument(
        "--until",
        type=parse_since,
        default=None,
        metavar="DATE",
        help="only patients screened up to DATE, that day included (DD/MM/YYYY or "
        "YYYY-MM-DD, UTC), or before an ISO timestamp; as /log FROM TO in Telegram",
    )
    screening_log.add_argument(
        "--png", type=Path, default=None, metavar="FILE", help="also draw the log as a PNG chart"
    )
    screening_log.set_defaults(func=_log_command, parser=screening_log)


# A date as the chat writes it (DD/MM/YYYY, also with "." or "-"): what /log and /export
# take in Telegram, and what a coordinator types after using them.
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_DATE_FORMATS = "DD/MM/YYYY, YYYY-MM-DD or an ISO timestamp"


def parse_since(text: str) -> dt.datetime:
    """A calendar date (midnight UTC), as DD/MM/YYYY like the chat or YYYY-MM-DD, or an
    ISO timestamp (UTC unless it has an offset); argparse reports a bad one."""
    value = text.strip()
    try:
        if (match := _DMY.fullmatch(value)) is not None:
            day = dt.date(int(match[3]), int(match[2]), int(match[1]))
            return dt.datetime.combine(day, dt.time(), dt.UTC)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (expected {_DATE_FORMATS})"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def is_day(moment: dt.datetime) -> bool:
    """Whether a moment is a whole day (midnight UTC): what a date without a time gives."""
    return moment.astimezone(dt.UTC).time() == dt.time()


def exclusive_end(end: dt.datetime) -> dt.datetime:
    """The exclusive bound of ``--until``: a day counts whole (the next midnight), a
    timestamp is the moment itself, as Telegram's ``/log FROM TO`` reads its end."""
    return end + dt.timedelta(days=1) if is_day(end) else end


def describe_cutoff(since: dt.datetime) -> str:
    """The cut-off exactly as applied, in UTC: a date alone when it is midnight UTC (what
    ``--since YYYY-MM-DD`` gives), else the time.  A title that rounds a timestamp down
    to its day promises screenings the filter left out."""
    utc = since.astimezone(dt.UTC)
    if utc.time() == dt.time():
        return f"{utc.date().isoformat()} (UTC)"
    timespec = "microseconds" if utc.microsecond else "seconds"
    return f"{utc.date().isoformat()} {utc.time().isoformat(timespec)} UTC"


def describe_period(since: dt.datetime | None, end: dt.datetime | None) -> str:
    """The log's period as applied: ``since X``, ``from X to Y included`` (a day ``Y``
    counts whole), ``from X to before Y`` (a timestamp ``Y`` is excluded)."""
    if end is None:
        return f"since {describe_cutoff(since)}" if since is not None else ""
    last = f"{describe_cutoff(end)} included" if is_day(end) else f"before {describe_cutoff(end)}"
    if since is None:
        return f"up to {last}"
    return f"from {describe_cutoff(since)} to {last}"


# -- building the files (shared with /export) -----------------------------------------------------


def criterion_columns(registry: ProtocolRegistry) -> list[str]:
    """Every loaded protocol's criterion ids: inclusion (I..) first, then non-inclusion (N..)."""
    ids = {c.id for engine in registry.engines() for c in engine.protocol.criteria}
    return sorted(ids, key=lambda cid: (cid[0] != "I", cid))


def live_criteria(
    store: Store,
    registry: ProtocolRegistry,
    unloaded: Counter[ProtocolKey] | None = None,
) -> Callable[[ScreeningExport], Criteria]:
    """Stored criteria of completed screenings; the engine's current ones for the others.

    Only screenings without stored criteria (in progress, abandoned) read their answers
    here, one query each: they are few next to the completed ones.  They are evaluated
    in the screening's language, as the stored ones were worded (flag notes).  One
    whose exact protocol file is not loaded gets no criteria (another file's rules would
    make up a verdict the screening never had) and is counted in ``unloaded``, for a
    warning.
    """

    def criteria(item: ScreeningExport) -> Criteria:
        stored = stored_criteria(item)
        if stored:
            return stored
        engine = engine_of(registry, item.screening)
        if engine is None:
            if unloaded is not None:
                unloaded[protocol_key(item.screening)] += 1
            return {}
        answers = answers_of(store.current_answers(item.id))
        if not answers:
            return {}
        evaluation = engine.evaluate_answers(answers, item.screening.language or "en")
        return {cid: r.to_json() for cid, r in evaluation.results.items()}

    return criteria


def export_to(
    store: Store,
    registry: ProtocolRegistry,
    fmt: Format,
    out: TextIO,
    since: dt.datetime | None = None,
    on_row: Callable[[], None] | None = None,
    *,
    for_spreadsheet: bool = False,
    unloaded: Counter[ProtocolKey] | None = None,
) -> int:
    """Write one export format to ``out``, streaming; returns the number of screenings.

    ``since``: the screenings changed since then (``storage.exports.changed_since``).
    ``for_spreadsheet``: a CSV file someone will open, not a stream a program reads.  It
    starts with a UTF-8 byte-order mark, without which Excel reads the file as the
    local code page and an investigator named Hélène comes out as "HÃ©lÃ¨ne".
    ``unloaded`` counts, by protocol key, the screenings exported without their exact
    protocol file (see :func:`unloaded_warnings`): CSV rows whose criterion statuses
    could not be computed, FHIR responses typed from the stored values.  JSON copies
    the stored record and needs no protocol.
    """
    if fmt == "csv":
        if for_spreadsheet:
            out.write(UTF8_BOM)
        rows = iter_screenings(
            store, since, question_ids=("cohort", PLANNED_START), with_reviews=True
        )
        return write_csv(
            rows,
            out,
            criterion_columns(registry),
            live_criteria(store, registry, unloaded),
            on_row,
        )
    if fmt == "json":
        items = iter_screenings(store, since, with_events=True, with_reviews=True, raw_values=True)
        return write_json(items, out, on_row)

    def protocol_for(item: ScreeningExport) -> Protocol | None:
        return protocol_of(registry, item.screening)

    def types_for(item: ScreeningExport) -> Protocol | None:
        return same_id_protocol(
            registry, item.screening.protocol_id, item.screening.protocol_version
        )

    return write_bundle(
        iter_screenings(store, since),
        out,
        protocol_for,
        on_row,
        types_of=types_for,
        unloaded=unloaded,
    )


def same_id_protocol(registry: ProtocolRegistry, protocol_id: str, version: str) -> Protocol | None:
    """A loaded protocol with this id, to type the answers of a screening whose own file
    is not loaded: the same version number if loaded (a file edited in place), else the
    latest.  Only question types are taken from it, never labels."""
    same_id = [e.protocol for e in registry.engines() if e.protocol.id == protocol_id]
    same_version = [p for p in same_id if str(p.version) == version]
    candidates = same_version or same_id
    return max(candidates, key=lambda p: p.version) if candidates else None


def unloaded_warnings(fmt: Format, unloaded: Mapping[ProtocolKey, int]) -> list[str]:
    """One line per protocol file an export lacked: which file, how many screenings, what
    that cost.  Silence would pass a file missing data off as complete."""
    consequence = {
        "csv": "their criterion columns are empty (screenings not completed)",
        "fhir": "their answers are typed from the stored values and carry no question text",
        "json": "nothing is missing from a JSON export",
    }[fmt]
    return [
        f"warning: {count} screening(s) exported without their protocol file "
        f"({pid} v{version}, sha256 {sha[:12]}…), which is not loaded (changed without a "
        f"new version, or removed from PROTOCOL_DIR): {consequence}"
        for (pid, version, sha), count in sorted(unloaded.items())
    ]


def log_rows(log: ScreeningLog, names: Mapping[str, str] | None = None) -> list[list[str]]:
    """The log as rows (header first): one per cohort, then the total.

    ``names``: each stored cohort code's label (``bot.coordinator.cohort_names``), as
    /log shows them; rows are in label order, as there.  A code without one stays as
    stored."""
    names = names or {}
    header = ["Cohort", "Screened", *(OUTCOME_LABELS[k] for k in OUTCOMES)]
    rows = [header]
    for cohort in sorted(log.by_cohort, key=lambda code: names.get(code, code)):
        counts = log.by_cohort[cohort]
        label = names.get(cohort, cohort)
        rows.append([label, str(sum(counts.values())), *(str(counts[k]) for k in OUTCOMES)])
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


def _line(console: Console, message: str, style: str = "") -> None:
    """One line, unwrapped and never read as markup (a path may hold brackets)."""
    console.print(Text(message, style=style), soft_wrap=True)


# A reader that stops early (``| head``, a pager quit) closes the pipe, and the next write
# raises BrokenPipeError.  That is normal on the command line: no traceback, and exit 1,
# this command's "output could not be written", as rich exits when a table meets a closed
# pipe (``log``); a script with ``set -o pipefail`` still sees the output was cut short.
# (Not 141, "killed by SIGPIPE": the process was not killed, it stopped.)
BROKEN_PIPE = 1


def quiet_broken_pipe() -> int:
    """After a BrokenPipeError on standard output: point it at /dev/null, so that the
    interpreter's final flush of what is still buffered cannot raise again ("Exception
    ignored … BrokenPipeError", exit 120), as the Python documentation recommends
    (signal module, "Note on SIGPIPE"); returns :data:`BROKEN_PIPE`."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (a test's capture)
        pass
    return BROKEN_PIPE


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


def refuse_database(path: Path) -> None:
    """Raise :class:`OutputError` when writing ``path`` would overwrite the database.

    One typo in ``--output`` or ``--png`` (the database's name, or a symlink or hard
    link to it, or its -wal/-shm/-journal file) would otherwise replace every screening
    and the whole audit trail by a CSV, and report success.
    """
    from bot.settings import Settings

    url = Settings().effective_database_url
    clash = overwritten_database_file(path, url)
    if clash is None:
        return
    files = database_files(url)
    for suffix in SQLITE_COMPANIONS:
        base = clash.with_name(clash.name.removesuffix(suffix))
        if clash.name.endswith(suffix) and base in files:
            raise OutputError(
                f"refusing to write {path}: it is the database's {suffix[1:]} file {clash}"
            )
    raise OutputError(f"refusing to write {path}: it is the database file {clash}")


def _export_command(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    try:
        if args.output is not None:
            refuse_database(args.output)
        store, registry = _open()
    except (StorageError, ProtocolError, OutputError) as exc:
        _error(err, exc)
        return 1
    unloaded: Counter[ProtocolKey] = Counter()
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
                unloaded=unloaded,
            )
            # Flushed here, not at exit: a reader gone by now must reach the handler below.
            out.flush()
    except BrokenPipeError:
        # Nothing more on stderr either: no summary of an export nobody read to its end.
        return quiet_broken_pipe()
    except (StorageError, OutputError) as exc:
        _error(err, exc)
        return 1
    finally:
        store.close()
    where = f" to {args.output}" if args.output else ""
    since = f" changed since {describe_cutoff(args.since)}" if args.since else ""
    _line(err, f"{written} screening(s){since} exported as {args.format}{where}")
    for warning in unloaded_warnings(args.format, unloaded):
        _line(err, warning, "yellow")
    return 0


# The width of the log's console when its output is not a terminal: wide enough for any
# table the log draws, which is only as wide as its content (rich pads nothing).
_FILE_WIDTH = 100_000


def output_console() -> Console:
    """The console for a table on standard output.

    On a terminal, rich fits the terminal's width.  Into a file or a pipe it would cut
    tables at 80 columns (``Incompl…``, ``neuroen…``): a log saved for the study file
    would lose what it is kept for.  There the console is as wide as any table needs.
    """
    console = Console()
    return console if console.is_terminal else Console(width=_FILE_WIDTH)


def _column(table: Table, name: str, justify: Literal["left", "right"] = "left") -> None:
    """A column that folds a long word onto the next line rather than cut it with "…",
    so that even a narrow terminal shows every cohort and header whole."""
    table.add_column(name, justify=justify, overflow="fold")


def _log_command(args: argparse.Namespace) -> int:
    until = exclusive_end(args.until) if args.until is not None else None
    if args.since is not None and until is not None and until <= args.since:
        # argparse's own usage error (exit 2), before any database is opened.
        order = "before" if args.until < args.since else "not after"
        args.parser.error(
            f"--until {describe_cutoff(args.until)} is {order} --since "
            f"{describe_cutoff(args.since)}: the period is empty"
        )
    console = output_console()
    try:
        if args.png is not None:
            refuse_database(args.png)
        store, registry = _open()
    except (StorageError, ProtocolError, OutputError) as exc:
        _error(Console(stderr=True), exc)
        return 1
    try:
        log = compute_log(store, args.since, until=until)
    finally:
        store.close()
    # Cohorts by their label in the protocol, in English, as /log shows them in Telegram
    # ("Sarcoma", not the stored code "sarcoma"); imported here, as bot.coordinator
    # imports this module.
    from bot.coordinator import cohort_names

    names = cohort_names(registry, log.by_cohort, "en")
    try:
        return _print_log(console, args, log, names)
    except BrokenPipeError:
        # rich itself exits 1 quietly when a print meets a closed pipe; this catches
        # what reaches us all the same.
        return quiet_broken_pipe()


def _print_log(
    console: Console, args: argparse.Namespace, log: ScreeningLog, names: Mapping[str, str]
) -> int:
    rows = log_rows(log, names)
    # The log counts patients screened in the period: screenings *started* in it (an
    # export's --since is about changes); the title says so, to the second.
    period = describe_period(args.since, args.until)
    table = Table(title=f"Screening log: patients screened {period}" if period else "Screening log")
    for i, name in enumerate(rows[0]):
        _column(table, name, "left" if i == 0 else "right")
    for row in rows[1:-1]:
        table.add_row(*row)
    table.add_row(*rows[-1], style="bold")
    console.print(table)
    failing = Table(title="Criteria that fail most")
    _column(failing, "Criterion")
    _column(failing, "Not-eligible patients", "right")
    for cid, count in log.top_failing(10):
        failing.add_row(cid, str(count))
    console.print(failing)
    if args.png is not None:
        try:
            args.png.write_bytes(render_png(log, words=ChartWords(cohorts=names)))
        except OSError as exc:
            _error(Console(stderr=True), cannot_write(args.png, exc))
            return 1
        _line(console, f"chart written to {args.png}")
    console.file.flush()
    return 0
