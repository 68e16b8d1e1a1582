"""Storage benchmark (a script, not a test): ``uv run python bench/bench_storage.py [--quick]``.

1. Per-answer cost of the bot's durable unit of work (screening_tx + claim_update +
   record_answer + set_state, one fsynced transaction) against the floor: a raw sqlite3
   INSERT + COMMIT with the same pragmas (WAL, synchronous=FULL), measured in alternating
   blocks in the same run.  Target: ratio <= 3 at p50.
2. Memory: 100,000 stored screenings, answers spread over them; resident memory must not
   grow with the number of screenings touched (nothing cached per screening).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from storage import Store, sqlite_url
from storage.models import Screening, table

INVESTIGATOR = 1


def rss_kib() -> int:
    """Current resident set size (VmRSS), not the peak getrusage reports."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class RawFloor:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, question TEXT, raw TEXT)")
        self.n = 0

    def once(self) -> float:
        self.n += 1
        start = time.perf_counter()
        self.conn.execute("BEGIN")
        self.conn.execute("INSERT INTO t (question, raw) VALUES (?, ?)", (f"q{self.n % 40}", "1"))
        self.conn.execute("COMMIT")
        return time.perf_counter() - start


class StoreAnswers:
    def __init__(self, store: Store, screening_id: int) -> None:
        self.store = store
        self.screening_id = screening_id
        self.update_id = 0

    def once(self, screening_id: int | None = None) -> float:
        self.update_id += 1
        target = self.screening_id if screening_id is None else screening_id
        question = f"q{self.update_id % 40}"
        start = time.perf_counter()
        with self.store.screening_tx(target) as tx:
            if tx.claim_update(self.update_id):
                tx.record_answer(question, "72 kg", {"quantity": 72.0, "unit": "kg"}, "kg", 1)
                tx.set_state(f"after-{question}")
        return time.perf_counter() - start


def bench_latency(store: Store, data_dir: Path, answers: int) -> None:
    screening = store.create_screening("LAT-1", "acse", "1.0", "0" * 64, INVESTIGATOR, "q0")
    assert screening.id is not None
    ours = StoreAnswers(store, screening.id)
    floor = RawFloor(data_dir / "floor.sqlite3")
    for _ in range(50):  # warm caches and statement compilation
        ours.once()
        floor.once()
    store_samples: list[float] = []
    floor_samples: list[float] = []
    block = 50
    for _ in range(max(1, answers // block)):
        floor_samples += [floor.once() for _ in range(block)]
        store_samples += [ours.once() for _ in range(block)]

    def show(name: str, samples: list[float]) -> None:
        print(
            f"  {name:<34} p50 {percentile(samples, 50) * 1e6:8.0f} us"
            f"   p99 {percentile(samples, 99) * 1e6:8.0f} us   (n={len(samples)})"
        )

    print("per-answer durable commit (SQLite, WAL, synchronous=FULL):")
    show("raw sqlite3 INSERT+COMMIT", floor_samples)
    show("Store screening_tx unit of work", store_samples)
    ratio50 = statistics.median(store_samples) / statistics.median(floor_samples)
    ratio99 = percentile(store_samples, 99) / percentile(floor_samples, 99)
    verdict = "OK" if ratio50 <= 3 else "ABOVE TARGET"
    print(f"  ratio p50 {ratio50:.2f}x (target <= 3x: {verdict})   ratio p99 {ratio99:.2f}x")


def bench_memory(store: Store, screenings: int, answers: int) -> None:
    print(f"memory with {screenings:,} stored screenings:")
    start = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "patient_code": f"MEM-{i:06d}",
            "protocol_id": "acse",
            "protocol_version": "1.0",
            "protocol_sha256": "0" * 64,
            "investigator_id": INVESTIGATOR,
            "status": "in_progress",
            "current_state": "q0",
            "language": None,
            "verdict": None,
            "criteria_json": None,
            "answer_count": 0,
            "created_at": now,
            "updated_at": now,
            "completed_at": None,
        }
        for i in range(screenings)
    ]
    screenings_table = table(Screening)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(screenings_table), rows)
        first, last = conn.execute(
            sa.select(sa.func.min(screenings_table.c.id), sa.func.max(screenings_table.c.id))
        ).one()
    del rows
    gc.collect()
    print(f"  bulk insert: {time.perf_counter() - start:.1f} s")

    ours = StoreAnswers(store, first)
    ours.update_id = 10_000_000
    rng = random.Random(7)
    warmup = max(1, answers // 10)
    for _ in range(warmup):
        ours.once(rng.randint(first, last))
    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    for _ in range(answers - warmup):
        ours.once(rng.randint(first, last))
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss_kib()
    print(
        f"  {answers - warmup:,} answers on random screenings in {elapsed:.1f} s "
        f"(after {warmup:,} warm-up answers)"
    )
    print(
        f"  RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB, "
        f"delta {(after - before) / 1024:+.1f} MiB; live per-screening locks: {store.live_locks}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny run, for a smoke test")
    args = parser.parse_args(argv)
    latency_answers = 300 if args.quick else 3000
    screenings = 2_000 if args.quick else 100_000
    memory_answers = 300 if args.quick else 20_000

    with tempfile.TemporaryDirectory(prefix="screenbot-bench-") as tmp:
        data_dir = Path(tmp)
        store = Store(sqlite_url(data_dir))
        try:
            store.upgrade()
            store.add_user(INVESTIGATOR, "investigator", "Bench", actor="bench")
            bench_latency(store, data_dir, latency_answers)
            bench_memory(store, screenings, memory_answers)
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
