"""Real processes: SIGKILL mid-stream loses nothing acknowledged; two workers on one
PostgreSQL database apply interleaved updates of one screening exactly once, in order."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage import Store

from .conftest import Database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
INVESTIGATOR = 100


def worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.storage.answer_worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def prepared(database: Database) -> int:
    with Store(database.url) as store:
        store.upgrade()
        store.add_user(INVESTIGATOR, "investigator", actor="test")
        screening = store.create_screening("P-1", "acse", "1.0", "f" * 64, INVESTIGATOR, "q1")
        assert screening.id is not None
        return screening.id


def test_sigkill_loses_no_acknowledged_answer(database: Database) -> None:
    screening_id = prepared(database)
    rng = random.Random(1234)
    acked = 0
    for _round in range(4):
        proc = worker("crash", "--url", database.url, "--screening", str(screening_id))
        assert proc.stdout is not None
        target = acked + rng.randint(3, 25)
        try:
            while acked < target:
                line = proc.stdout.readline()
                assert line, f"worker died: {proc.stderr.read() if proc.stderr else ''}"
                acked = max(acked, int(line.split()[1]))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        # The worker ran on while we read: count every ack it printed before dying.
        for line in proc.stdout.read().splitlines():
            acked = max(acked, int(line.split()[1]))

        # A fresh Store in another process (this one) sees every acknowledged answer.
        with Store(database.url) as store:
            screening = store.get_screening(screening_id)
            history = store.answer_history(screening_id)
            answers = store.current_answers(screening_id)
        n = screening.answer_count
        # At most one commit can have landed between the last printed ack and the kill.
        assert acked <= n <= acked + 1
        assert [a.seq for a in history] == list(range(1, n + 1))
        assert {q: a.value_json for q, a in answers.items()} == {
            f"q{i}": i for i in range(1, n + 1)
        }
        # Answer and state were committed together: the state is the next question.
        assert screening.current_state == f"q{n + 1}"
        acked = n  # the next round resumes from what is stored


@pytest.mark.postgres
def test_two_workers_apply_interleaved_updates_once_and_in_order(
    pg_database: Database, tmp_path: Path
) -> None:
    screening_id = prepared(pg_database)
    updates = 200
    start = tmp_path / "go"
    procs = {
        name: worker(
            "race",
            "--url",
            pg_database.url,
            "--screening",
            str(screening_id),
            "--updates",
            str(updates),
            "--start-file",
            str(start),
            "--name",
            name,
            "--share",
            share,
        )
        for name, share in (("A", "even"), ("B", "odd"))
    }
    for proc in procs.values():  # both connected and waiting: start them together
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    start.touch()
    outputs = {name: proc.communicate(timeout=120) for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, outputs[name][1]
    # Each applied exactly its own share; every redelivery was refused.
    assert {name: out.split() for name, (out, _) in outputs.items()} == {
        "A": ["applied", str(updates // 2)],
        "B": ["applied", str(updates // 2)],
    }

    with Store(pg_database.url) as store:
        history = store.answer_history(screening_id)
        screening = store.get_screening(screening_id)
    # Every update recorded once, none lost, numbered without gaps in commit order.
    assert sorted(a.value_json for a in history) == list(range(updates))
    assert [a.seq for a in history] == list(range(1, updates + 1))
    assert screening.answer_count == updates
    # Each worker's updates kept their order, and the two really interleaved.
    by_worker = {w: [a.value_json for a in history if a.raw == w] for w in ("A", "B")}
    assert by_worker["A"] == list(range(0, updates, 2))
    assert by_worker["B"] == list(range(1, updates, 2))
    switches = sum(1 for x, y in itertools.pairwise(history) if x.raw != y.raw)
    assert switches > 1, "the workers ran one after the other: nothing was tested"
    # The state is the one written with the last committed answer.
    last = history[-1]
    assert screening.current_state == f"after-{last.raw}{last.value_json}"
