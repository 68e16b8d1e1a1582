"""The benchmarks still run (small): they are scripts, so nothing else would notice."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_storage_bench_quick_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench("bench_storage").main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "ratio p50" in out
    assert "live per-screening locks: 0" in out


@pytest.mark.slow
def test_bot_bench_quick_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert asyncio.run(bench("bench_bot").main(quick=True)) == 0
    out = capsys.readouterr().out
    assert "ratio to floor: p50" in out
    assert "bot presses / press floor: p50" in out
    assert "dialog floor / floor: p50" in out
    assert "work floor / floor: p50" in out
    assert "button press, Bot API 20 ms away" in out
    assert "resident memory per in-flight screening" in out
