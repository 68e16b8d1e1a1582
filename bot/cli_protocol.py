"""``screenbot protocol …``: commands about protocol files (check, graph).

``register`` creates the ``protocol`` command and its sub-command group; each sub-command
is one entry of ``SUBCOMMANDS``.  To add one (e.g. ``protocol fhir``), write its
``configure(parser)`` and ``handler(args) -> int`` and append a :class:`ProtocolCommand`
to ``SUBCOMMANDS`` — or call :func:`add_protocol_command` on the group ``register``
returns.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogs.errors import ProtocolError
from dialogs.protocol import Protocol, default_protocol_path, load_protocol

Handler = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


@dataclass(frozen=True, slots=True)
class ProtocolCommand:
    name: str
    help: str
    handler: Handler
    configure: Configure | None = None


def add_protocol_command(
    group: Any, name: str, help: str, handler: Handler, configure: Configure | None = None
) -> argparse.ArgumentParser:
    """Add ``screenbot protocol NAME`` to the group :func:`register` returned."""
    parser: argparse.ArgumentParser = group.add_parser(name, help=help, description=help)
    if configure is not None:
        configure(parser)
    parser.set_defaults(func=handler)
    return parser


def register(subparsers: Any) -> Any:
    """Create ``screenbot protocol`` and its sub-commands; returns the sub-command group."""
    parser = subparsers.add_parser(
        "protocol",
        help="check a protocol file or draw its dialog",
        description="Commands about protocol files.",
    )
    group = parser.add_subparsers(dest="protocol_command", metavar="SUBCOMMAND", required=True)
    for cmd in SUBCOMMANDS:
        add_protocol_command(group, cmd.name, cmd.help, cmd.handler, cmd.configure)
    return group


# ---------------------------------------------------------------------------
# protocol check


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        metavar="FILE",
        nargs="*",
        help="protocol file(s) (default: every protocol file the bot loads: those in "
        "PROTOCOL_DIR, else the bundled ones)",
    )


def run_check(args: argparse.Namespace) -> int:
    """Check the files given, else exactly what ``screenbot`` would load.

    Without arguments the folder is the bot's (PROTOCOL_DIR, else the bundled files):
    checking the bundled files while the bot reads another folder would say OK about
    files the bot never loads.
    """
    from dialogs.checker import run_check as check

    folder_mode = not args.files
    if folder_mode:
        from bot.errors import ConfigurationError
        from bot.settings import Settings

        settings = Settings()
        try:
            paths = settings.protocol_files()
        except ConfigurationError as exc:
            print(f"screenbot protocol check: {exc}", file=sys.stderr)
            return EXIT_FINDINGS
        origin = "PROTOCOL_DIR" if settings.protocol_dir else "bundled"
        folder = settings.effective_protocol_dir
        print(f"checking {len(paths)} protocol file(s) in {folder} ({origin})")
    else:
        paths = [Path(f) for f in args.files]
    status = EXIT_OK
    loaded: list[Protocol] = []
    for path in paths:
        try:
            protocol = load_protocol(path)
        except ProtocolError as exc:
            print(f"FAIL: {exc}")
            status = EXIT_FINDINGS
            continue
        loaded.append(protocol)
        report = check(protocol)
        if report.findings:
            status = EXIT_FINDINGS
            print(f"FAIL: {path}: {len(report.findings)} finding(s)")
            for finding in report.findings:
                print(f"  {finding}")
            continue
        print(
            f"OK: {protocol.id} v{protocol.version} sha256 {protocol.sha256} "
            f"({len(protocol.questions)} questions, {len(protocol.criteria)} criteria, "
            f"{report.paths} paths explored in {report.seconds:.1f} s; "
            f"{report.states} dialog states, {report.combinations} criterion combinations)"
        )
    if folder_mode and status == EXIT_OK:
        # What only the set of files can break, as the bot loads them: one id and
        # version in two files.
        from dialogs.registry import ProtocolRegistry

        try:
            ProtocolRegistry(loaded)
        except ProtocolError as exc:
            print(f"FAIL: {exc}")
            status = EXIT_FINDINGS
    return status


# ---------------------------------------------------------------------------
# protocol graph


def _configure_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", metavar="FILE", nargs="?", help="protocol file (default: newest bundled AcSé)"
    )
    parser.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    parser.add_argument("--lang", choices=("en", "fr"), default="en", help="label language")


def _load_one(file: str | None) -> Protocol:
    return load_protocol(file if file else default_protocol_path())


def run_graph(args: argparse.Namespace) -> int:
    from dialogs.graph import to_dot, to_mermaid

    try:
        protocol = _load_one(args.file)
    except ProtocolError as exc:
        print(f"screenbot protocol graph: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    render = to_dot if args.format == "dot" else to_mermaid
    sys.stdout.write(render(protocol, args.lang))
    return EXIT_OK


# ---------------------------------------------------------------------------
# protocol fhir (issue 5; the rendering is storage.fhir.questionnaire)


def _configure_fhir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", metavar="FILE", nargs="?", help="protocol file (default: newest bundled AcSé)"
    )
    parser.add_argument("--lang", choices=("en", "fr"), default="en", help="text language")
    parser.add_argument(
        "--output", type=Path, default=None, metavar="FILE", help="write to FILE (default: stdout)"
    )


def run_fhir(args: argparse.Namespace) -> int:
    import json

    from storage.fhir import questionnaire

    try:
        protocol = _load_one(args.file)
    except ProtocolError as exc:
        print(f"screenbot protocol fhir: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    text = json.dumps(questionnaire(protocol, args.lang), indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        from bot.cli_export import OutputError, refuse_database
        from storage.errors import StorageError

        try:
            refuse_database(args.output)  # one typo would replace every screening
        except OutputError as exc:
            print(f"screenbot protocol fhir: {exc}", file=sys.stderr)
            return EXIT_FINDINGS
        except (StorageError, ValueError):
            # No usable database configured (this command never opens one): there is
            # none this file could overwrite.
            pass
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            # A missing directory or a read-only place: the reason, not a traceback.
            print(
                f"screenbot protocol fhir: cannot write {args.output}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return EXIT_FINDINGS
    return EXIT_OK


SUBCOMMANDS: list[ProtocolCommand] = [
    ProtocolCommand(
        "check",
        "load, validate and check a protocol's dialog graph and rules",
        run_check,
        _configure_check,
    ),
    ProtocolCommand(
        "graph", "print the dialog as a Mermaid or DOT diagram", run_graph, _configure_graph
    ),
    ProtocolCommand(
        "fhir", "render a protocol as a FHIR R4 Questionnaire (JSON)", run_fhir, _configure_fhir
    ),
]
