"""`screenbot log` and `screenbot export` as a coordinator runs them on the AcSé protocol.

A unit with five patients, screened today: an eligible sarcoma (confirmed by the
coordinator), a PCNSL patient not eligible until a radiotherapy washout ends, with
asymptomatic untreated CNS metastases flagged for review (N09), a neuroendocrine
patient the coordinator queried, an eligible thyroid patient confirmed, then corrected
and completed again (the confirmation was of the earlier verdict), and a screening
still open before its cohort.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bot.cli import main
from bot.cli_export import BROKEN_PIPE, exclusive_end, parse_since
from bot.coordinator import Period, period_of
from bot.screening_flow import answers_of
from dialogs.engine import Engine
from dialogs.registry import ProtocolRegistry
from dialogs.values import to_json, unit_of
from storage import Store, sqlite_url
from storage.coordination import record_review
from storage.exports import CSV_FIXED_COLUMNS, CSV_REVIEW_COLUMNS
from tests.coordinator.conftest import answer, start_screening
from tests.fixtures import typed_on

ROOT = Path(__file__).resolve().parents[1]
# The unit's cohorts, by the English label the protocol gives each stored code.
COHORT_LABELS = {
    "neuroendocrine": "Neuroendocrine tumour or carcinoma",
    "pcnsl": "Primary CNS lymphoma",
    "sarcoma": "Sarcoma",
    "thyroid": "Thyroid cancer",
}
TODAY = dt.datetime.now(dt.UTC).date()
INVESTIGATOR, COORDINATOR = 111, 555


def _dmy(day: dt.date) -> str:
    return f"{day:%d/%m/%Y}"


def _screen(store: Store, engine: Engine, code: str, **changes: str) -> int:
    sid = start_screening(store, engine, code, investigator=INVESTIGATOR)
    assert answer(store, engine, sid, {**typed_on(TODAY), **changes}, chat_id=None) == "complete"
    return sid


def _review(store: Store, sid: int, action: str, comment: str | None = None) -> None:
    with store.screening_tx(sid) as tx:
        record_review(tx, COORDINATOR, action, comment)


@pytest.fixture
def unit(data_dir: Path) -> dict[str, int]:
    """The unit's database in DATA_DIR (see the module docstring); ids by patient code."""
    engine = ProtocolRegistry.from_directory(clock=lambda: TODAY).latest()
    with Store(sqlite_url(data_dir)) as store:
        store.upgrade()
        store.add_user(INVESTIGATOR, "investigator", "Dr Martin", language="en", actor="test")
        store.add_user(COORDINATOR, "coordinator", "Claire Dupont", language="en", actor="test")
        ids = {"P-1": _screen(store, engine, "P-1")}
        _review(store, ids["P-1"], "confirm")
        ids["P-2"] = _screen(
            store,
            engine,
            "P-2",
            cohort="pcnsl",
            sex="male",
            cns_metastases="asymptomatic_untreated",
            last_radiotherapy_date=_dmy(TODAY - dt.timedelta(days=10)),
            radiotherapy_site="other",
            ipcg_measurable="yes",
        )
        ids["P-3"] = _screen(
            store,
            engine,
            "P-3",
            cohort="neuroendocrine",
            net_subtype="well_differentiated",
            net_prior_lines="3",
        )
        _review(store, ids["P-3"], "query", "is the Ki-67 recent?")
        ids["P-4"] = _screen(store, engine, "P-4", cohort="thyroid", thyroid_subtype="anaplastic")
        _review(store, ids["P-4"], "confirm")
        with store.screening_tx(ids["P-4"]) as tx:
            tx.reopen("age", user_id=INVESTIGATOR, reason="typo")
        record = {**typed_on(TODAY), "cohort": "thyroid", "thyroid_subtype": "anaplastic"}
        assert answer(store, engine, ids["P-4"], {**record, "age": "55"}, chat_id=None) == (
            "complete"
        )
        ids["P-5"] = start_screening(store, engine, "P-5", investigator=INVESTIGATOR)
    return ids


# -- 1. the log, saved to a file --------------------------------------------------------------


def test_a_log_saved_to_a_file_keeps_every_header_and_cohort_whole(
    unit: dict[str, int], data_dir: Path, tmp_path: Path
) -> None:
    # $ screenbot log > log.txt   (stdout is a file, not a terminal: rich used to cut at 80)
    saved = tmp_path / "log.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "DATABASE_URL")}
    with saved.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "log"],
            cwd=ROOT,
            env={**env, "DATA_DIR": str(data_dir), "PYTHONIOENCODING": "utf-8"},
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    text = saved.read_text(encoding="utf-8")
    assert "…" not in text
    header = next(line for line in text.splitlines() if "Cohort" in line)
    for name in ("Screened", "Eligible", "Not eligible", "Incomplete", "In progress", "Abandoned"):
        assert name in header
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    assert {"(no cohort)", *COHORT_LABELS.values(), "Total"} <= set(rows)


# -- 2. dates as the chat writes them, and an end date ---------------------------------------


def _total(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if "Total" in line)
    return [c for c in line.replace("│", " ").split() if c != "Total"]


def test_log_reads_dd_mm_yyyy_and_until_includes_its_day(
    unit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    today, iso = _dmy(TODAY), TODAY.isoformat()
    # $ screenbot log --since DD/MM/YYYY --until DD/MM/YYYY   (today, both)
    assert main(["log", "--since", today, "--until", today]) == 0
    out = capsys.readouterr().out
    assert f"Screening log: patients screened from {iso} (UTC) to {iso} (UTC) included" in out
    assert _total(out)[0] == "5"
    # $ screenbot log --until <yesterday>: nobody was screened before today.
    yesterday = TODAY - dt.timedelta(days=1)
    assert main(["log", "--until", _dmy(yesterday)]) == 0
    out = capsys.readouterr().out
    assert f"patients screened up to {yesterday.isoformat()} (UTC) included" in out
    assert _total(out)[0] == "0"
    # $ screenbot export --since DD/MM/YYYY
    assert main(["export", "--format", "csv", "--since", today]) == 0
    captured = capsys.readouterr()
    assert len(list(csv.DictReader(io.StringIO(captured.out)))) == 5
    assert captured.err.splitlines()[-1] == (
        f"5 screening(s) changed since {iso} (UTC) exported as csv"
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("24/11/2026", "24/11/2026"),
        ("2026-11-24", "30/11/2026"),
        ("24/11/2026", "2026-11-30T12:00:00"),
        ("24.11.2026", "2026-11-30T12:00:00+02:00"),
    ],
)
def test_a_period_means_what_telegram_log_from_to_means(start: str, end: str) -> None:
    period = period_of([start, end])
    assert isinstance(period, Period)
    assert (parse_since(start), exclusive_end(parse_since(end))) == (period.since, period.until)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["log", "--since", "31/02/2026"],
            "screenbot log: error: argument --since: not a date: '31/02/2026' "
            "(expected DD/MM/YYYY, YYYY-MM-DD or an ISO timestamp)",
        ),
        (
            ["log", "--since", "24/11/2026", "--until", "23/11/2026"],
            "screenbot log: error: --until 2026-11-23 (UTC) is before --since 2026-11-24 (UTC): "
            "the period is empty",
        ),
        (
            ["log", "--until", "30-11-26"],
            "screenbot log: error: argument --until: not a date: '30-11-26' "
            "(expected DD/MM/YYYY, YYYY-MM-DD or an ISO timestamp)",
        ),
        (
            ["export", "--format", "csv", "--since", "yesterday"],
            "screenbot export: error: argument --since: not a date: 'yesterday' "
            "(expected DD/MM/YYYY, YYYY-MM-DD or an ISO timestamp)",
        ),
    ],
    ids=["no-such-day", "until-before-since", "two-digit-year", "a-word"],
)
def test_a_bad_date_is_one_clear_line_and_shows_nothing(
    argv: list[str], expected: str, unit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1] == expected


# -- 3. what a review needs, in the CSV and the JSON -------------------------------------------


def test_csv_carries_planned_start_earliest_start_flags_and_review(
    unit: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # $ screenbot export --format csv --output screenings.csv
    target = tmp_path / "screenings.csv"
    assert main(["export", "--format", "csv", "--output", str(target)]) == 0
    capsys.readouterr()
    reader = csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig")))
    rows = {r["patient_code"]: r for r in reader}
    header = list(reader.fieldnames or [])
    criteria = [f"I{i:02d}" for i in range(1, 19)] + [f"N{i:02d}" for i in range(1, 20)]
    # The columns others read keep their places; the new ones come last.
    assert header == [*CSV_FIXED_COLUMNS, *criteria, *CSV_REVIEW_COLUMNS]
    assert list(CSV_REVIEW_COLUMNS) == [
        "planned_start_date",
        "earliest_start",
        "flagged",
        "flag_notes",
        "review_status",
        "reviewed_by",
        "reviewed_at",
    ]

    def review(code: str) -> dict[str, str]:
        return {k: rows[code][k] for k in CSV_REVIEW_COLUMNS}

    planned = (TODAY + dt.timedelta(days=1)).isoformat()
    eligible = review("P-1")
    assert eligible["planned_start_date"] == planned
    assert (eligible["earliest_start"], eligible["flagged"]) == ("", "")
    assert (eligible["review_status"], eligible["reviewed_by"]) == ("confirmed", "Claire Dupont")
    assert dt.datetime.fromisoformat(eligible["reviewed_at"]).date() == TODAY

    washout = review("P-2")
    assert rows["P-2"]["verdict"] == "not_eligible" and rows["P-2"]["N09"] == "pass"
    assert washout["earliest_start"] == (TODAY + dt.timedelta(days=11)).isoformat()
    assert washout["flagged"] == "N09"
    assert washout["flag_notes"] == (
        "N09: Asymptomatic untreated CNS metastases: not excluded by the published text, "
        "review with the coordinator (note 7)"
    )
    assert washout["review_status"] == "none" and washout["reviewed_by"] == ""

    assert review("P-3")["review_status"] == "queried"
    assert review("P-3")["reviewed_by"] == "Claire Dupont"
    # Confirmed, then corrected and completed again: the new verdict awaits its review.
    assert rows["P-4"]["status"] == "completed"
    assert review("P-4")["review_status"] == "none"
    # Open, nothing answered yet.
    assert review("P-5") == {**dict.fromkeys(CSV_REVIEW_COLUMNS, ""), "review_status": "none"}


def test_json_carries_the_same_review_fields(
    unit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    # $ screenbot export --format json
    assert main(["export", "--format", "json"]) == 0
    screenings = {s["patient_code"]: s for s in json.loads(capsys.readouterr().out)["screenings"]}
    washout = screenings["P-2"]
    assert washout["planned_start_date"] == (TODAY + dt.timedelta(days=1)).isoformat()
    assert washout["earliest_start"] == (TODAY + dt.timedelta(days=11)).isoformat()
    assert list(washout["flagged"]) == ["N09"]
    assert washout["review"] == {"status": "none"}
    queried = screenings["P-3"]["review"]
    assert queried["status"] == "queried" and queried["comment"] == "is the Ki-67 recent?"
    assert queried["by"] == {"id": COORDINATOR, "name": "Claire Dupont"}
    # Every decision stays in the history, the one of an earlier verdict too.
    assert [r["status"] for r in screenings["P-4"]["reviews"]] == ["confirmed"]
    assert screenings["P-4"]["review"] == {"status": "none"}


@pytest.mark.postgres
def test_the_review_columns_on_postgres_too() -> None:
    from bot.cli_export import export_to
    from tests.storage.conftest import postgres_database

    registry = ProtocolRegistry.from_directory(clock=lambda: TODAY)
    for database in postgres_database():
        with Store(database.url) as store:
            store.upgrade()
            store.add_user(INVESTIGATOR, "investigator", "Dr Martin", language="en", actor="test")
            store.add_user(COORDINATOR, "coordinator", "Claire Dupont", language="en", actor="t")
            sid = _screen(store, registry.latest(), "P-1")
            _review(store, sid, "confirm")
            out = io.StringIO()
            export_to(store, registry, "csv", out)
            [row] = csv.DictReader(io.StringIO(out.getvalue()))
            assert (row["review_status"], row["reviewed_by"]) == ("confirmed", "Claire Dupont")
            assert row["planned_start_date"] == (TODAY + dt.timedelta(days=1)).isoformat()


# -- 4. the chart's axes count patients -------------------------------------------------------


def test_the_chart_counts_whole_patients(
    unit: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    figures: list[Figure] = []
    savefig = Figure.savefig

    def keep(self: Figure, *args: object, **kwargs: object) -> None:
        figures.append(self)
        savefig(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", keep)
    # $ screenbot log --png log.png
    assert main(["log", "--png", str(tmp_path / "log.png")]) == 0
    [figure] = figures
    bars, failing = figure.axes
    ticks = [*bars.get_yticks(), *failing.get_xticks()]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


# -- 5. cohorts by their label, as /log shows them ---------------------------------------------


def test_the_log_names_cohorts_by_their_label_as_telegram_does(
    unit: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from matplotlib.figure import Figure

    figures: list[Figure] = []
    savefig = Figure.savefig

    def keep(self: Figure, *args: object, **kwargs: object) -> None:
        figures.append(self)
        savefig(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", keep)
    # $ screenbot log --png log.png
    assert main(["log", "--png", str(tmp_path / "log.png")]) == 0
    out = capsys.readouterr().out
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") > 2]
    # In label order (the order /log lists them), the screening without a cohort too.
    cohorts = rows[: rows.index("Total")]
    assert cohorts == sorted(["(no cohort)", *COHORT_LABELS.values()])
    assert not set(COHORT_LABELS) & set(rows)
    # The chart names them the same way.
    [figure] = figures
    bars = figure.axes[0]
    assert sorted(t.get_text() for t in bars.get_xticklabels()) == cohorts


# -- 6. a reader that closes the pipe early (| head) --------------------------------------------


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def many(data_dir: Path) -> Path:
    """1,000 screenings: every export is far larger than a pipe holds (64 KiB), so the
    command is still writing when its reader goes."""
    bench = _bench("bench_export")
    with Store(sqlite_url(data_dir)) as store:
        store.upgrade()
        bench.seed(store, ProtocolRegistry.from_directory(clock=lambda: bench.TODAY), 1_000)
    return data_dir


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--format", "csv"],
        ["export", "--format", "json"],
        ["export", "--format", "fhir"],
        ["export", "--format", "csv", "--output", "/dev/stdout"],
        ["log"],
    ],
    ids=["csv", "json", "fhir", "csv-dev-stdout", "log"],
)
def test_a_reader_closing_the_pipe_early_ends_the_command_quietly(
    argv: list[str], many: Path
) -> None:
    # $ screenbot export --format csv | head -c 5
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "DATABASE_URL")}
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=ROOT,
        env={**env, "DATA_DIR": str(many), "PYTHONIOENCODING": "utf-8"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as command:
        assert command.stdout is not None and command.stderr is not None
        assert len(command.stdout.read(5)) == 5
        command.stdout.close()
        err = command.stderr.read().decode("utf-8")
        code = command.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert "Exception ignored" not in err, err
    # No summary either: the export was not read to its end.
    assert "exported as" not in err, err
    if argv[0] == "log":
        # A log is a few kilobytes: the pipe may take it whole before the reader goes.
        assert code in (0, BROKEN_PIPE), err
    else:
        assert code == BROKEN_PIPE, err


# -- 7. a screening reopened, in progress again -------------------------------------------------


def test_a_reopened_screening_in_progress_shows_its_current_answers_not_its_old_verdict(
    unit: dict[str, int], data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # P-2 completed not eligible until its radiotherapy washout ends (today + 11); then
    # reopened and the radiotherapy dated later (5 days ago, not 10), and not completed
    # again yet: in progress, its new answer recorded.
    engine = ProtocolRegistry.from_directory(clock=lambda: TODAY).latest()
    with Store(sqlite_url(data_dir)) as store, store.screening_tx(unit["P-2"]) as tx:
        tx.reopen("last_radiotherapy_date", user_id=INVESTIGATOR, reason="date")
        answers = answers_of(tx.current_answers())
        with engine.attached(tx.screening.current_state, answers, "en") as conv:
            step = engine.answer(conv, _dmy(TODAY - dt.timedelta(days=5)))
        assert step.accepted and step.answer is not None
        value, raw = step.answer.value, step.answer.raw
        tx.record_answer(step.question_id, raw, to_json(value), unit_of(value), INVESTIGATOR)
    superseded = (TODAY + dt.timedelta(days=11)).isoformat()
    current = (TODAY + dt.timedelta(days=16)).isoformat()
    # CSV: no verdict; the criterion columns, earliest start and flags are the current
    # answers' evaluation, never the superseded one's.
    assert main(["export", "--format", "csv"]) == 0
    rows = {r["patient_code"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    row = rows["P-2"]
    assert (row["status"], row["verdict"]) == ("in_progress", "")
    assert row["N07"] == "fail" and row["N09"] == "pass"
    assert row["earliest_start"] == current != superseded
    assert row["flagged"] == "N09"
    # JSON: the stored evaluation, which the reopening cleared: nothing until completed.
    assert main(["export", "--format", "json"]) == 0
    screenings = {s["patient_code"]: s for s in json.loads(capsys.readouterr().out)["screenings"]}
    reopened = screenings["P-2"]
    assert (reopened["status"], reopened["verdict"], reopened["criteria"]) == (
        "in_progress",
        None,
        None,
    )
    assert (reopened["earliest_start"], reopened["flagged"]) == (None, {})
