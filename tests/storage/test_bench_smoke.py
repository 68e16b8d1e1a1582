"""The storage benchmark still runs (small): it is a script, so nothing else would notice."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_storage.py"


@pytest.mark.slow
def test_bench_quick_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_storage", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "ratio p50" in out
    assert "live per-screening locks: 0" in out
