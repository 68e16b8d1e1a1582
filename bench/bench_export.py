"""Export benchmark (a script, not a test): ``uv run python bench/bench_export.py [--quick]``.

Seeds N completed AcSé screenings (default 10,000, each with the ~50 answers of a real
run through the engine, bulk-inserted) into a fresh SQLite file, then times each export
format end to end (read, render, write to a file) and the screening log.
Target: every format exports 10,000 screenings in under 10 s ("in seconds").
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cli_export import FORMATS, export_to
from bot.screening_flow import criteria_json
from dialogs.registry import ProtocolRegistry
from dialogs.values import to_json, unit_of
from storage import Store, sqlite_url
from storage.models import AnswerRecord, EventRecord, Screening, table
from storage.screening_log import compute_log, render_png
from tests.fixtures import typed_on

TARGET_SECONDS = 10.0
INVESTIGATOR = 1
TODAY = dt.date(2025, 6, 2)
COHORTS = ("sarcoma", "ovarian", "pcnsl", "thyroid", "neuroendocrine", "germ_cell")
# The shared eligible AcSé patient (tests/fixtures/records), dated from TODAY.
RECORD = typed_on(TODAY)


def seed(store: Store, registry: ProtocolRegistry, n: int) -> None:
    """One real engine run, copied n times with varied cohorts and verdicts (bulk insert)."""
    engine = registry.latest()
    p = engine.protocol
    conv = engine.start("en", skip_chat_only=True)
    answers = []
    while (prompt := engine.prompt(conv)) is not None:
        step = engine.answer(conv, RECORD[prompt.question_id])
        assert step.accepted and step.answer is not None, step.error
        answers.append(step.answer)
    evaluation = engine.evaluate(conv)
    engine.release(conv)
    criteria = criteria_json(evaluation)
    failing = {**criteria, "I04": {**criteria["I04"], "status": "fail"}}
    now = dt.datetime.now(dt.UTC)
    store.add_user(INVESTIGATOR, "investigator", "Dr Bench", actor="bench")
    screenings: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        eligible = i % 3 != 0
        screenings.append(
            {
                "id": i,
                "patient_code": f"B-{i:06d}",
                "protocol_id": p.id,
                "protocol_version": str(p.version),
                "protocol_sha256": p.sha256,
                "investigator_id": INVESTIGATOR,
                "status": "completed",
                "current_state": "complete",
                "language": "en",
                "verdict": "eligible" if eligible else "not_eligible",
                "criteria_json": criteria if eligible else failing,
                "answer_count": len(answers),
                "created_at": now,
                "updated_at": now,
                "completed_at": now,
            }
        )
        for seq, a in enumerate(answers, 1):
            value = COHORTS[i % len(COHORTS)] if a.question_id == "cohort" else a.value
            rows.append(
                {
                    "screening_id": i,
                    "seq": seq,
                    "question_id": a.question_id,
                    "raw": a.raw,
                    "value_json": to_json(value),
                    "unit": unit_of(value),
                    "user_id": INVESTIGATOR,
                    "created_at": now,
                    "supersedes_id": None,
                    "reason": None,
                }
            )
        events.append(
            {
                "screening_id": i,
                "kind": "completed",
                "user_id": INVESTIGATOR,
                "detail": {"verdict": screenings[-1]["verdict"]},
                "created_at": now,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(sa.insert(table(Screening)), screenings)
        conn.execute(sa.insert(table(AnswerRecord)), rows)
        conn.execute(sa.insert(table(EventRecord)), events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 screenings")
    parser.add_argument("-n", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.n or (1_000 if args.quick else 10_000)
    registry = ProtocolRegistry.from_directory(clock=lambda: TODAY)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(sqlite_url(Path(tmp) / "data"))
        store.upgrade()
        start = time.perf_counter()
        seed(store, registry, n)
        print(f"seeded {n} screenings in {time.perf_counter() - start:.1f} s")
        for fmt in FORMATS:
            target = Path(tmp) / f"export.{fmt}"
            start = time.perf_counter()
            with target.open("w", encoding="utf-8", newline="") as out:
                count = export_to(store, registry, fmt, out)
            seconds = time.perf_counter() - start
            size = target.stat().st_size / 1e6
            verdict = "ok" if seconds < TARGET_SECONDS else "SLOW"
            ok &= seconds < TARGET_SECONDS
            print(
                f"export {fmt:4}: {count} screenings in {seconds:5.2f} s "
                f"({count / seconds:,.0f}/s, {size:.1f} MB) {verdict}"
            )
        start = time.perf_counter()
        log = compute_log(store)
        png = render_png(log)
        print(
            f"log + chart: {log.screened} patients in {time.perf_counter() - start:.2f} s "
            f"({len(png) // 1024} KiB PNG)"
        )
        store.close()
    print(f"target: each format < {TARGET_SECONDS:.0f} s for {n}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
