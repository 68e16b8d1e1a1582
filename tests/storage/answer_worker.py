"""A bot stand-in for the crash and multi-worker tests: applies updates through the Store API.

``crash``: answers q1, q2, … forever, printing ``ack N`` after each commit (that is
when the real bot would reply), until killed.
``race``: applies its share of update ids 0..N-1 (``--share even|odd``) in order, racing
another worker on the same screening, then replays all N ids as Telegram redeliveries.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from storage import Store

INVESTIGATOR = 100
CRASH_UPDATE_BASE = 1_000_000


def crash(store: Store, screening_id: int) -> None:
    while True:
        with store.screening_tx(screening_id) as tx:
            n = tx.screening.answer_count + 1
            if not tx.claim_update(CRASH_UPDATE_BASE + n):
                raise SystemExit(f"update for answer {n} already claimed: state is inconsistent")
            tx.record_answer(f"q{n}", str(n), n, None, INVESTIGATOR)
            tx.set_state(f"q{n + 1}")
        print(f"ack {n}", flush=True)


def race(
    store: Store, screening_id: int, updates: int, share: int, start_file: Path, name: str
) -> None:
    store.get_screening(screening_id)  # connect before the start line, not after
    print("ready", flush=True)
    while not start_file.exists():
        time.sleep(0.005)
    applied = 0
    mine = [u for u in range(updates) if u % 2 == share]
    for update_id in mine + list(range(updates)):
        with store.screening_tx(screening_id) as tx:
            if not tx.claim_update(update_id):
                continue
            time.sleep(random.uniform(0, 0.002))  # widen any window a lost update needs
            tx.record_answer(f"u{update_id}", name, update_id, None, INVESTIGATOR)
            tx.set_state(f"after-{name}{update_id}")
            applied += 1
        time.sleep(random.uniform(0, 0.001))
    print(f"applied {applied}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["crash", "race"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--screening", type=int, required=True)
    parser.add_argument("--updates", type=int, default=0)
    parser.add_argument("--start-file", type=Path)
    parser.add_argument("--name", default="worker")
    parser.add_argument("--share", choices=["even", "odd"], default="even")
    args = parser.parse_args()
    store = Store(args.url)
    if args.mode == "crash":
        crash(store, args.screening)
    else:
        share = 0 if args.share == "even" else 1
        race(store, args.screening, args.updates, share, args.start_file, args.name)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
