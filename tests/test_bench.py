"""The benchmarks still run and pass their own checks (tiny sizes; the figures are not judged).

Each benchmark checks what it measured (every message, in order, every event stored or read
back) and reports a failed check as ``"ok": false`` with exit status 1; this keeps them from
rotting between the runs that are timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

RUNS = {
    "round_robin": ["bench.orchestration", "--messages", "200", "--deltas", "3", "--subscriber"],
    "selector": ["bench.orchestration", "--pattern", "selector", "--messages", "40"],
    "magentic": ["bench.orchestration", "--pattern", "magentic", "--messages", "40"],
    "store": ["bench.store", "--messages", "200", "--append-events", "2000"],
    "replay": ["bench.replay", "--messages", "200"],
    "load": ["bench.load", "--chats", "10", "--messages", "20"],
    "tui": ["bench.tui", "--messages", "100", "--seconds", "0.5"],
}


@pytest.mark.parametrize("name", list(RUNS))
def test_a_benchmark_runs_and_passes_its_checks(name: str) -> None:
    args = [*RUNS[name], "--repeat", "1"] if name != "load" else RUNS[name]
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert reports, done.stderr
    for report in reports:
        assert report.get("ok", True) is True, report
    if name == "replay":
        assert [r["source"] for r in reports] == ["jsonl", "store"]
        assert all(r["events"] == 803 for r in reports)
