"""Exports (CSV columns, JSON history, FHIR validated by fhir.resources) and the log's counts."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlmodel import SQLModel

from bot import cli_export
from bot.cli_export import criterion_columns, export_to
from dialogs.engine import Engine
from dialogs.registry import ProtocolRegistry
from storage import Store
from storage.exports import (
    CSV_FIXED_COLUMNS,
    CSV_REVIEW_COLUMNS,
    ProtocolKey,
    count_screenings,
    iter_screenings,
)
from storage.fhir import enable_when, questionnaire
from storage.models import utcnow
from storage.screening_log import compute_log, render_png
from tests.coordinator.conftest import (
    COORDINATOR,
    ELIGIBLE,
    INVESTIGATOR,
    MINI,
    OTHER_INVESTIGATOR,
    answer,
    complete,
    edited_mini,
    start_screening,
)


@pytest.fixture
def seeded(store: Store, engine: Engine) -> dict[str, int]:
    """Five patients: eligible, two not eligible (I01), incomplete, in progress; one abandoned."""
    ids = {
        "eligible": complete(store, engine, "P-100"),
        "young": complete(store, engine, "P-101", age="16"),
        "young_beta": complete(store, engine, "P-102", age="15", cohort="beta", subtype="yes"),
        "incomplete": complete(store, engine, "P-103", anc="unknown"),
    }
    ids["open"] = start_screening(store, engine, "P-104", investigator=OTHER_INVESTIGATOR)
    answer(store, engine, ids["open"], {**ELIGIBLE, "age": "12"}, limit=3)
    ids["abandoned"] = start_screening(store, engine, "P-105")
    with store.screening_tx(ids["abandoned"]) as tx:
        tx.abandon()
    # A changed answer, for the history.
    with store.screening_tx(ids["eligible"]) as tx:
        tx.reopen("age", user_id=None, reason="typo")
    answer(store, engine, ids["eligible"], {"age": "55"})
    return ids


def _export(store: Store, registry: ProtocolRegistry, fmt: cli_export.Format) -> str:
    out = io.StringIO()
    export_to(store, registry, fmt, out)
    return out.getvalue()


def test_csv_has_one_row_per_screening_with_each_criterion(
    store: Store, registry: ProtocolRegistry, seeded: dict[str, int]
) -> None:
    rows = list(csv.DictReader(io.StringIO(_export(store, registry, "csv"))))
    assert list(rows[0]) == [*CSV_FIXED_COLUMNS, "I01", "I02", "I03", "N01", *CSV_REVIEW_COLUMNS]
    assert len(rows) == 6
    by_code = {r["patient_code"]: r for r in rows}
    young = by_code["P-101"]
    assert (young["status"], young["verdict"], young["I01"], young["I02"]) == (
        "completed",
        "not_eligible",
        "fail",
        "pass",
    )
    assert young["cohort"] == "alpha" and young["investigator"] == "Dr A"
    assert by_code["P-102"]["N01"] == "fail"
    assert by_code["P-103"]["I03"] == "unknown"
    # An open screening's statuses are the engine's, from its current answers.
    assert by_code["P-104"]["I01"] == "fail" and by_code["P-104"]["verdict"] == ""
    assert by_code["P-105"]["status"] == "abandoned"


def test_acse_csv_columns_are_i01_to_i18_then_n01_to_n19() -> None:
    columns = criterion_columns(ProtocolRegistry.from_directory())
    assert columns == [f"I{i:02d}" for i in range(1, 19)] + [f"N{i:02d}" for i in range(1, 20)]


def test_json_has_the_full_answer_history(
    store: Store, registry: ProtocolRegistry, seeded: dict[str, int]
) -> None:
    data = json.loads(_export(store, registry, "json"))
    by_code = {s["patient_code"]: s for s in data["screenings"]}
    history = [a for a in by_code["P-100"]["answers"] if a["question_id"] == "age"]
    assert [a["raw"] for a in history] == ["54", "55"]
    assert history[1]["supersedes_id"] == history[0]["id"]
    kinds = [e["kind"] for e in by_code["P-100"]["events"]]
    assert kinds.count("completed") == 2 and "reopened" in kinds
    assert by_code["P-101"]["criteria"]["I01"]["status"] == "fail"


def test_fhir_bundle_parses_as_r4_questionnaire_responses(
    store: Store, registry: ProtocolRegistry, seeded: dict[str, int]
) -> None:
    bundle = Bundle.model_validate(json.loads(_export(store, registry, "fhir")))
    assert bundle.type == "collection" and len(bundle.entry) == 6
    parsed = [QuestionnaireResponse.model_validate(e.resource.model_dump()) for e in bundle.entry]
    responses = {r.identifier.value: r for r in parsed}
    young = responses["P-101"]
    assert young.status == "completed"
    assert young.questionnaire == "urn:screenbot:questionnaire:mini|1"
    # Who screened, as the delegation log names them (the response had no author).
    assert young.author.identifier.value == str(INVESTIGATOR)
    assert young.author.display == "Dr A"
    assert responses["P-104"].author.display == "Dr B"
    items = {i.linkId: i.answer[0] for i in young.item}
    assert items["age"].valueInteger == 16
    assert items["cohort"].valueCoding.code == "alpha"
    assert str(items["planned_start_date"].valueDate) == "2025-06-02"
    anc = items["anc"].valueQuantity
    assert float(anc.value) == 2.0 and anc.code == "g_l"
    assert items["last_dose_date"].valueCoding.code == "none"
    assert responses["P-104"].status == "in-progress"
    assert responses["P-105"].status == "stopped"
    unknown = {i.linkId: i.answer[0] for i in responses["P-103"].item}["anc"]
    assert unknown.valueCoding.code == "asked-unknown"


def test_protocol_questionnaire_is_valid_r4_with_enable_when() -> None:
    protocol = ProtocolRegistry.from_directory().latest().protocol
    q = Questionnaire.model_validate(questionnaire(protocol))
    items = {i.linkId: i for i in q.item}
    assert [i.linkId for i in q.item] == list(protocol.order)
    assert items["age"].type == "integer" and items["anc"].type == "quantity"
    assert items["consent_signed"].type == "boolean" and items["lab_date"].type == "date"
    cohorts = [o.valueCoding.code for o in items["cohort"].answerOption]
    assert "sarcoma" in cohorts and "germ_cell" in cohorts
    [when] = items["thyroid_subtype"].enableWhen
    assert (when.question, when.operator, when.answerCoding.code) == ("cohort", "=", "thyroid")
    sexually_active = items["sexually_active"]
    assert sexually_active.enableBehavior == "any" and len(sexually_active.enableWhen) == 2
    # gap(...) cannot be said with enableWhen: kept as an expression extension.
    site = items["radiotherapy_site"]
    assert site.enableWhen is None
    assert site.extension[0].valueExpression.expression.startswith("is_date(")


def test_enable_when_shapes(registry: ProtocolRegistry) -> None:
    p = registry.latest("mini").protocol
    assert enable_when(p, "anc < 1.0") == (
        [
            {
                "question": "anc",
                "operator": "<",
                "answerQuantity": {
                    "value": 1.0,
                    "unit": "×10⁹/L",
                    "system": "urn:screenbot:unit",
                    "code": "g_l",
                },
            }
        ],
        None,
    )
    ors, behavior = enable_when(p, "cohort in ('alpha', 'beta')") or ([], "")
    assert behavior == "any" and [o["answerCoding"]["code"] for o in ors] == ["alpha", "beta"]
    assert enable_when(p, "cohort == 'alpha' and (age > 3 or age < 1)") is None
    assert enable_when(p, "double_age > 3") is None  # a computed value, not a question


def test_log_counts_latest_screening_per_patient(
    store: Store, engine: Engine, seeded: dict[str, int]
) -> None:
    # A second screening of P-105 (the first was abandoned): the patient counts once.
    complete(store, engine, "P-105", age="17")
    log = compute_log(store)
    assert log.screened == 6
    assert dict(log.totals) == {
        "eligible": 1,
        "not_eligible": 3,
        "incomplete": 1,
        "in_progress": 1,
    }
    assert dict(log.by_cohort["beta"]) == {"not_eligible": 1}
    assert log.by_cohort["alpha"]["not_eligible"] == 2
    assert log.top_failing(2) == [("I01", 3), ("N01", 1)]
    assert render_png(log).startswith(b"\x89PNG")


async def test_export_in_telegram_gzips_large_files_and_points_past_the_limit_to_the_cli(
    store: Store,
    seeded: dict[str, int],
    make_bot: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = await make_bot()
    coordinator = bot.chat(COORDINATOR)
    csv_size = len(_export(store, bot.services.registry, "csv").encode())
    monkeypatch.setattr("bot.coordinator.COMPRESS_ABOVE", csv_size - 1)

    await coordinator.send("/export csv")

    [(_, _, name, data)] = bot.request.uploads
    assert name.endswith(".csv.gz")
    # A document for a spreadsheet: the byte-order mark that makes Excel read UTF-8.
    assert gzip.decompress(data).startswith("\ufeffscreening_id,patient_code".encode())

    monkeypatch.setattr("bot.coordinator.UPLOAD_LIMIT", 100)
    await coordinator.send("/export json 2025-01-01")

    assert len(bot.request.uploads) == 1  # nothing sent that Telegram would refuse
    assert "over Telegram's 50 MB limit" in coordinator.last_text
    assert "screenbot export --format json --since 2025-01-01" in coordinator.last_text


def test_streaming_reads_in_batches(store: Store, seeded: dict[str, int]) -> None:
    items = list(iter_screenings(store, batch=2))
    assert [i.id for i in items] == sorted(seeded.values())
    assert count_screenings(store) == 6


def test_cli_export_and_log(
    store: Store,
    seeded: dict[str, int],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    protocols = tmp_path / "protocols"
    protocols.mkdir()
    shutil.copy(MINI, protocols / MINI.name)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PROTOCOL_DIR", str(protocols))
    parser = argparse.ArgumentParser()
    cli_export.register(parser.add_subparsers())

    target = tmp_path / "out.csv"
    args = parser.parse_args(["export", "--format", "csv", "--output", str(target)])
    assert args.func(args) == 0
    assert len(target.read_text().splitlines()) == 7
    assert "6 screening(s) exported as csv" in capsys.readouterr().err
    # A file is for a spreadsheet (UTF-8 byte-order mark); standard output is for a
    # program, and starts with the header itself.
    assert target.read_bytes().startswith(b"\xef\xbb\xbfscreening_id,")
    args = parser.parse_args(["export", "--format", "csv"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.startswith("screening_id,")

    args = parser.parse_args(["export", "--format", "json", "--since", "2999-01-01"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["screenings"] == []

    png = tmp_path / "log.png"
    args = parser.parse_args(["log", "--png", str(png)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "Screening log" in out and "Total" in out and "I01" in out
    assert png.read_bytes().startswith(b"\x89PNG")

    with pytest.raises(SystemExit):
        parser.parse_args(["export", "--format", "csv", "--since", "yesterday"])


# -- a screening's protocol file is not loaded (edited without a new version) -----------------


def _answers(response: QuestionnaireResponse) -> dict[str, Any]:
    return {i.linkId: i.answer[0] for i in response.item or []}


def test_fhir_keeps_the_answers_of_a_protocol_edited_without_a_new_version(
    store: Store, seeded: dict[str, int], tmp_path: Path
) -> None:
    edited = ProtocolRegistry.from_directory(edited_mini(tmp_path))
    unloaded: Counter[ProtocolKey] = Counter()
    out = io.StringIO()
    assert export_to(store, edited, "fhir", out, unloaded=unloaded) == 6

    bundle = Bundle.model_validate(json.loads(out.getvalue()))
    parsed = [QuestionnaireResponse.model_validate(e.resource.model_dump()) for e in bundle.entry]
    responses = {r.identifier.value: r for r in parsed}
    young = _answers(responses["P-101"])
    # Typed by the loaded file of the same id and version (the stored values decide).
    assert young["age"].valueInteger == 16
    assert young["cohort"].valueCoding.code == "alpha"
    assert float(young["anc"].valueQuantity.value) == 2.0
    assert young["last_dose_date"].valueCoding.code == "none"
    assert {i.linkId: i.text for i in responses["P-101"].item}["cohort"] is None  # no label
    assert "age" in _answers(responses["P-104"])  # the open screening too
    assert responses["P-101"].questionnaire == "urn:screenbot:questionnaire:mini|1"
    [(key, count)] = unloaded.items()
    assert key[:2] == ("mini", "1") and count == 6


def test_fhir_types_the_answers_from_the_stored_values_without_any_such_protocol(
    store: Store, seeded: dict[str, int], tmp_path: Path
) -> None:
    other = ProtocolRegistry.from_directory(edited_mini(tmp_path, protocol_id="other"))
    out = io.StringIO()
    export_to(store, other, "fhir", out)

    bundle = Bundle.model_validate(json.loads(out.getvalue()))
    by_code = {
        e.resource.identifier.value: QuestionnaireResponse.model_validate(e.resource.model_dump())
        for e in bundle.entry
    }
    beta = _answers(by_code["P-102"])
    assert beta["age"].valueInteger == 15
    assert beta["subtype"].valueBoolean is True
    assert beta["cohort"].valueString == "beta"  # a choice's code looks like any text
    assert str(beta["lab_date"].valueDate) == "2025-06-01"
    assert beta["anc"].valueQuantity.code == "g_l"
    assert _answers(by_code["P-103"])["anc"].valueCoding.code == "asked-unknown"


def test_cli_warns_about_screenings_exported_without_their_protocol_file(
    store: Store,
    seeded: dict[str, int],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sha = store.get_screening(seeded["young"]).protocol_sha256
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PROTOCOL_DIR", str(edited_mini(tmp_path)))
    parser = argparse.ArgumentParser()
    cli_export.register(parser.add_subparsers())

    target = tmp_path / "out.fhir.json"
    args = parser.parse_args(["export", "--format", "fhir", "--output", str(target)])
    assert args.func(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        f"warning: 6 screening(s) exported without their protocol file (mini v1, sha256 "
        f"{sha[:12]}…), which is not loaded (changed without a new version, or removed from "
        "PROTOCOL_DIR): their answers are typed from the stored values and carry no question "
        "text"
    )
    assert sum(len(e["resource"].get("item", [])) for e in json.loads(target.read_text())["entry"])

    # CSV: completed screenings keep their stored statuses; the open and the abandoned
    # one have none to show, and the warning counts them.
    args = parser.parse_args(["export", "--format", "csv"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    rows = {r["patient_code"]: r for r in csv.DictReader(io.StringIO(captured.out))}
    assert rows["P-101"]["I01"] == "fail" and rows["P-104"]["I01"] == ""
    assert captured.err.splitlines()[-1].startswith(
        "warning: 2 screening(s) exported without their protocol file (mini v1"
    )
    assert captured.err.splitlines()[-1].endswith(
        "their criterion columns are empty (screenings not completed)"
    )

    # With the file the screenings ran on, nothing to warn about.
    monkeypatch.setenv("PROTOCOL_DIR", str(MINI.parent))
    args = parser.parse_args(["export", "--format", "fhir", "--output", str(target)])
    assert args.func(args) == 0
    assert "warning" not in capsys.readouterr().err


# -- --since: an export carries what changed, the log counts who was screened -----------------


def _set_times(store: Store, sid: int, created: str, updated: str) -> None:
    """Back-date a screening (the row is mutable; its answers and events are not)."""
    table = SQLModel.metadata.tables["screenings"]
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.id == sid)
            .values(
                created_at=dt.datetime.fromisoformat(created),
                updated_at=dt.datetime.fromisoformat(updated),
            )
        )


def _csv_codes(text: str) -> list[str]:
    return [r["patient_code"] for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]


@pytest.fixture
def dated(store: Store, engine: Engine) -> dict[str, int]:
    """Started in 2020, completed in 2100; untouched since 2020; all in 2100.

    The cut-offs are in 2100 so that every event (stamped now, append-only) is older.
    """
    ids = {
        "late": complete(store, engine, "P-200"),
        "old": complete(store, engine, "P-201"),
        "new": complete(store, engine, "P-202"),
    }
    _set_times(store, ids["late"], "2020-03-01T10:00:00+00:00", "2100-03-01T10:00:00+00:00")
    _set_times(store, ids["old"], "2020-03-01T10:00:00+00:00", "2020-03-02T10:00:00+00:00")
    _set_times(store, ids["new"], "2100-03-01T10:00:00+00:00", "2100-03-01T10:00:00+00:00")
    return ids


def test_since_selects_screenings_changed_after_the_cutoff(
    store: Store, registry: ProtocolRegistry, dated: dict[str, int]
) -> None:
    since = cli_export.parse_since("2100-01-01")
    out = io.StringIO()
    export_to(store, registry, "csv", out, since)
    # Started before the cut-off, completed after it: an incremental export needs it.
    assert _csv_codes(out.getvalue()) == ["P-200", "P-202"]
    assert count_screenings(store, since) == 2

    # A review or a query only adds an event (the row keeps its 2020 updated_at): the
    # screening changed all the same.
    since = utcnow()
    assert count_screenings(store, since) == 2
    with store.screening_tx(dated["old"]) as tx:
        tx.log_event("confirmed", COORDINATOR)
    assert store.get_screening(dated["old"]).updated_at.year == 2020
    assert [i.screening.patient_code for i in iter_screenings(store, since)] == [
        "P-200",
        "P-201",
        "P-202",
    ]
    assert count_screenings(store, since) == 3


def test_log_since_counts_the_patients_screened_since_the_cutoff(
    store: Store, dated: dict[str, int]
) -> None:
    log = compute_log(store, cli_export.parse_since("2100-01-01"))
    assert log.screened == 1  # P-202 only: P-200 was screened in 2020


async def test_export_in_telegram_selects_changes_since_the_date(
    store: Store, dated: dict[str, int], make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    await bot.chat(COORDINATOR).send("/export csv 2100-01-01")
    [(_, _, name, data)] = bot.request.uploads
    assert name.endswith(".csv")
    assert _csv_codes(data.decode("utf-8")) == ["P-200", "P-202"]


def test_cli_states_the_cutoff_each_command_applied(
    store: Store,
    dated: dict[str, int],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PROTOCOL_DIR", str(MINI.parent))
    monkeypatch.setenv("COLUMNS", "200")
    parser = argparse.ArgumentParser()
    cli_export.register(parser.add_subparsers())

    args = parser.parse_args(["export", "--format", "csv", "--since", "2100-03-01T10:00:00"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert _csv_codes(captured.out) == ["P-200", "P-202"]
    assert captured.err.splitlines()[-1] == (
        "2 screening(s) changed since 2100-03-01 10:00:00 UTC exported as csv"
    )

    args = parser.parse_args(["log", "--since", "2100-01-01"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "Screening log: patients screened since 2100-01-01 (UTC)" in out
    total = next(line for line in out.splitlines() if "Total" in line)
    cells = [c for c in total.replace("│", " ").split() if c != "Total"]
    assert cells[:2] == ["1", "1"]  # one screened, eligible

    args = parser.parse_args(["log", "--since", "2100-03-01T10:00:00.5+02:00"])
    assert args.func(args) == 0
    assert "patients screened since 2100-03-01 08:00:00.500000 UTC" in capsys.readouterr().out


@pytest.mark.postgres
def test_since_selects_changes_on_postgres_too(engine: Engine) -> None:
    from tests.storage.conftest import postgres_database

    for database in postgres_database():
        with Store(database.url) as store:
            store.upgrade()
            store.add_user(INVESTIGATOR, "investigator", "Dr A", language="en", actor="test")
            store.add_user(COORDINATOR, "coordinator", "Coord C", language="en", actor="test")
            late, old = complete(store, engine, "P-200"), complete(store, engine, "P-201")
            _set_times(store, late, "2020-03-01T10:00:00+00:00", "2100-03-01T10:00:00+00:00")
            _set_times(store, old, "2020-03-01T10:00:00+00:00", "2020-03-02T10:00:00+00:00")
            since = cli_export.parse_since("2100-01-01")
            assert [i.id for i in iter_screenings(store, since)] == [late]
            since = utcnow()
            with store.screening_tx(old) as tx:
                tx.log_event("confirmed", COORDINATOR)
            assert count_screenings(store, since) == 2


async def test_export_in_telegram_warns_about_screenings_without_their_protocol_file(
    store: Store, seeded: dict[str, int], make_bot: Callable[..., Any], tmp_path: Path
) -> None:
    """Only the CLI warned: a coordinator got a FHIR file without question text, or a CSV
    with empty criterion columns, and no word about it."""
    bot = await make_bot(registry=ProtocolRegistry.from_directory(edited_mini(tmp_path)))
    coordinator = bot.chat(COORDINATOR)
    await coordinator.send("/export fhir")
    assert len(bot.request.uploads) == 1  # the file still goes
    assert coordinator.last_text.startswith(
        "⚠️ 6 screening(s) in this export were begun on protocol mini v1 (sha256 "
    )
    assert "their answers are typed from the stored values" in coordinator.last_text
