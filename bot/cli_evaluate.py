"""``screenbot evaluate``: a patient record (or a ``.jsonl`` batch) through the dialog engine.

A record is fed question by question through the same engine a chat uses
(:func:`dialogs.record.evaluate_record`), so the command line and the bot can never
disagree about a verdict.  Exit status: 0 when every record was evaluated (whatever the
verdicts), 2 when a file or a record could not be read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

from dialogs.engine import Engine
from dialogs.errors import ProtocolError, RecordError
from dialogs.protocol import load_protocol
from dialogs.record import RecordResult, evaluate_record, parse_record
from dialogs.registry import ProtocolRegistry
from dialogs.values import UNKNOWN

EXIT_OK = 0
EXIT_INPUT = 2

_STATUS_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "unknown": "yellow",
    "not_applicable": "dim",
}
_VERDICT_STYLE = {"eligible": "bold green", "not_eligible": "bold red", "incomplete": "yellow"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a patient record (JSON) or a batch (.jsonl) against the protocol",
        description=(
            "Feed a record {question_id: answer} through the dialog engine in full mode and "
            "print the verdict, each criterion's status and reason, computed values, unused "
            "answers and the protocol's id, version and sha256. A .jsonl file is a batch: "
            "one JSON line out per record."
        ),
    )
    parser.add_argument("record", metavar="RECORD", help="a .json record or a .jsonl batch")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse a key that is no question of the protocol (default: warn, list as unused)",
    )
    parser.add_argument(
        "--protocol", metavar="FILE", help="protocol file (default: newest bundled version)"
    )
    parser.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        type=_iso_date,
        help="the day to evaluate on ('today' in answers, dates after it) — for replaying",
    )
    parser.set_defaults(func=run)


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def _err(text: str) -> None:
    print(f"screenbot evaluate: {text}", file=sys.stderr)


def load_engine(protocol_file: str | None, today: dt.date | None) -> Engine:
    """The engine to evaluate with; raises ProtocolError naming the file and the problem."""
    day = today
    clock = (lambda: day) if day is not None else dt.date.today
    if protocol_file:
        return Engine(load_protocol(protocol_file), clock=clock)
    return ProtocolRegistry.from_directory(clock=clock).latest()


def run(args: argparse.Namespace) -> int:
    path = Path(args.record)
    if not path.is_file():
        _err(f"{path}: no such file")
        return EXIT_INPUT
    try:
        engine = load_engine(args.protocol, args.today)
    except ProtocolError as exc:
        _err(f"cannot load the protocol: {exc}")
        return EXIT_INPUT
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"{path}: cannot read the file: {exc}")
        return EXIT_INPUT
    if path.suffix == ".jsonl":
        return _run_batch(engine, path, text, strict=args.strict)
    return _run_single(engine, path, text, as_json=args.json, strict=args.strict)


def _warn_strangers(where: str, result: RecordResult) -> None:
    """On stderr, so a pipeline's log shows it; the verdict stays on stdout."""
    for stranger in result.strangers:
        _err(f"{where}: warning: {stranger}: ignored, listed as unused")


def _run_single(engine: Engine, path: Path, text: str, *, as_json: bool, strict: bool) -> int:
    try:
        record = parse_record(text)
    except json.JSONDecodeError as exc:
        _err(f"{path}: not valid JSON: {exc}")
        return EXIT_INPUT
    except RecordError as exc:
        _err(f"{path}: {_record_problem(exc)}")
        return EXIT_INPUT
    try:
        result = evaluate_record(engine, record, strict=strict)
    except RecordError as exc:
        _err(f"{path}: {_record_problem(exc)}")
        return EXIT_INPUT
    _warn_strangers(str(path), result)
    if as_json:
        print(json.dumps(result_json(engine, result), ensure_ascii=False))
    else:
        _print_human(engine, result, path)
    return EXIT_OK


def _record_problem(exc: RecordError) -> str:
    if exc.question_id == "-":
        return exc.message
    return f"question '{exc.question_id}': {exc.message}"


def _run_batch(engine: Engine, path: Path, text: str, *, strict: bool) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        # Exit 0 with no output read as "all evaluated" to a pipeline fed an empty export.
        _err(f"{path}: no records: the file is empty (one JSON object a line is expected)")
        return EXIT_INPUT
    failed = 0
    progress = Progress(
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("records", total=len(lines))
        for number, line in enumerate(lines, 1):
            progress.advance(task)
            if not line.strip():
                continue
            try:
                record = parse_record(line)
                result = evaluate_record(engine, record, strict=strict)
            except (json.JSONDecodeError, RecordError) as exc:
                failed += 1
                problem = (
                    _record_problem(exc)
                    if isinstance(exc, RecordError)
                    else f"not valid JSON: {exc}"
                )
                progress.console.print(
                    f"{path}:{number}: {problem}", markup=False, highlight=False, soft_wrap=True
                )
                continue
            for stranger in result.strangers:
                progress.console.print(
                    f"{path}:{number}: warning: {stranger}: ignored, listed as unused",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            out = {"line": number, **result_json(engine, result)}
            # Plain print, not the console: stdout stays pure JSON lines for a pipe.
            print(json.dumps(out, ensure_ascii=False), flush=True)
    if failed:
        _err(f"{failed} of {sum(1 for x in lines if x.strip())} records could not be evaluated")
        return EXIT_INPUT
    return EXIT_OK


def _plain(value: Any) -> Any:
    """A computed value as JSON: a number, a date string, text, or null when unknown."""
    if value is None or value is UNKNOWN:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return None
        return int(number) if number.is_integer() else round(number, 4)
    return str(value)


def result_json(engine: Engine, result: RecordResult) -> dict[str, Any]:
    ev = result.evaluation
    p = engine.protocol
    return {
        "verdict": ev.verdict,
        "criteria": {cid: r.status for cid, r in ev.results.items()},
        "reasons": {cid: r.reason for cid, r in ev.results.items()},
        # What an unknown criterion still lacks, by question ID (the reason names them by
        # label, for people), and what a passing criterion flags for review.
        "open_questions": {
            cid: list(r.open_questions) for cid, r in ev.results.items() if r.open_questions
        },
        "flagged": {cid: r.flagged for cid, r in ev.results.items() if r.flagged},
        "earliest_start": ev.earliest_start.isoformat() if ev.earliest_start else None,
        "unused": list(result.unused),
        # Of those, the keys that are no question at all, with the question likely meant.
        "not_questions": {s.key: s.meant for s in result.strangers},
        "computed": {
            cid: {"value": _plain(c.value), "text": c.text} for cid, c in ev.computed.items()
        },
        "protocol": {"id": p.id, "version": p.version, "sha256": p.sha256},
    }


def _print_human(engine: Engine, result: RecordResult, path: Path) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    ev = result.evaluation
    p = engine.protocol
    table = Table(title=f"{path.name}: criteria", show_lines=False)
    table.add_column("criterion", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("reason")
    for cid, r in ev.results.items():
        style = _STATUS_STYLE.get(r.status, "")
        reason = r.reason + (f" [flagged: {r.flagged}]" if r.flagged else "")
        # Text cells: a reason may contain brackets that rich would read as markup.
        table.add_row(cid, Text(r.status, style=style), Text(reason))
    console.print(table)
    verdict_style = _VERDICT_STYLE.get(ev.verdict, "")
    console.print(f"verdict: [{verdict_style}]{ev.verdict}[/]")
    if ev.earliest_start:
        console.print(f"earliest start: {ev.earliest_start.isoformat()}", highlight=False)
    computed = [(cid, c) for cid, c in ev.computed.items() if _plain(c.value) is not None]
    if computed:
        console.print("computed:")
        for cid, c in computed:
            console.print(f"  {cid}: {c.text}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        "unused answers: " + (", ".join(result.unused) if result.unused else "none"),
        markup=False,
        highlight=False,
    )
    for stranger in result.strangers:
        console.print(f"  ⚠ {stranger}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"protocol: {p.id} v{p.version} sha256 {p.sha256}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
