"""The benchmarks still run, count what they should and pass their checks of correctness.

Each benchmark checks what it measured (every message, in order, every event stored or read
back) and reports a failed check as ``"ok": false`` with exit status 1; this keeps them from
rotting between the runs that are timed. The figures and the speed targets are never judged
here: a loaded machine is slow, not wrong (the targets are judged by ``--strict`` runs).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

RUNS: dict[str, list[str]] = {
    "round_robin": [
        "bench.orchestration",
        *("--messages", "200", "--deltas", "3", "--subscriber", "--repeat", "1"),
    ],
    # Longer than the bus retains, with no subscriber: the deltas can no longer be counted.
    "round_robin_trimmed": ["bench.orchestration", "--messages", "200", "--repeat", "1"],
    "compare": ["bench.compare", "HEAD", "--rounds", "1", "--messages", "200"],
    "selector": [
        "bench.orchestration",
        "--pattern",
        "selector",
        "--messages",
        "40",
        "--repeat",
        "1",
    ],
    "magentic": [
        "bench.orchestration",
        "--pattern",
        "magentic",
        "--messages",
        "40",
        "--repeat",
        "1",
    ],
    "store": [
        "bench.store",
        *("--messages", "200", "--append-events", "2000", "--repeat", "1", "--search-chats", "95"),
    ],
    "replay": ["bench.replay", "--messages", "200", "--repeat", "1"],
    "load": ["bench.load", "--chats", "10", "--messages", "20"],
    "tui": ["bench.tui", "--messages", "100", "--seconds", "0.5", "--repeat", "1"],
    # A redis-server and two `groupchat worker` processes; 60 chats at once in the manager and
    # in each worker (more than a client's default pool of 100 connections allows).
    "distributed": [
        "bench.distributed",
        *("--messages", "20", "--chats", "60", "--chat-messages", "4", "--repeat", "1"),
    ],
}

COUNTED: dict[str, list[dict[str, Any]]] = {
    # 200 messages of 3 deltas: per message a selection, a turn start, 3 deltas and the message,
    # plus the chat's start and end; the subscriber read all 1,202 events.
    "round_robin": [
        {"messages": 200, "counted": {"messages": 200, "events": 1202, "text_deltas": 600}}
    ],
    "round_robin_trimmed": [{"counted": {"messages": 200, "events": 802, "text_deltas": None}}],
    # HEAD against itself: both sides ran and were compared figure by figure.
    "compare": [{"revision": "HEAD", "rounds": 1}],
    # Each agent's reply also records its model call (a model_call event per message).
    "selector": [{"counted": {"messages": 40, "events": 242, "text_deltas": 40}}],
    "magentic": [{"counted": {"messages": 40, "events": 330, "text_deltas": 40}}],
    "store": [
        {"bench": "store_append", "events": 2000},
        {"bench": "store_recorder", "messages": 200},
        {"bench": "store_read", "events": 802, "messages": 200},
        {"bench": "store_search", "backend": "sqlite", "chats": 95},
        {"bench": "store"},
    ],
    "replay": [
        {"source": "jsonl", "messages": 200, "events": 803},
        {"source": "store", "messages": 200, "events": 803},
    ],
    "load": [{"chats": 10, "messages": 200, "stored_messages": 200}],
    # 100 messages and the task, read back in replay; the stream's characters all on screen.
    "tui": [{"messages": 100, "events": 403, "opened_messages": 101}],
    "distributed": [
        {"bench": "one_chat_in_process", "messages": 20},
        {"bench": "one_chat_distributed", "messages": 20},
        {"bench": "chats_in_process", "chats": 60, "messages": 240},
        {"bench": "chats_distributed", "chats": 60, "messages": 240},
        {"bench": "summary", "workers": 2},
    ],
}


@functools.cache
def _run(name: str) -> list[dict[str, Any]]:
    """The JSON lines of benchmark ``name`` at its tiny size (run once per session)."""
    done = subprocess.run(
        [sys.executable, "-m", *RUNS[name]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _subset(report: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {key: report.get(key) for key in expected}


@pytest.mark.parametrize("name", list(RUNS))
def test_a_benchmark_runs_counts_and_passes_its_checks(name: str) -> None:
    reports = _run(name)
    assert [_subset(r, e) for r, e in zip(reports, COUNTED[name], strict=False)] == COUNTED[name]
    assert len(reports) == len(COUNTED[name]), reports
    for report in reports:
        assert "ok" not in report and "problem" not in report, report


def test_compare_puts_both_sides_and_their_ratio_side_by_side() -> None:
    (report,) = _run("compare")
    assert set(report["this"]) == set(report["base"]) >= {"us_per_msg", "peak_rss_mb"}
    assert set(report["ratio"]) == set(report["this"])
    assert all(value > 0 for value in report["ratio"].values())


def test_the_tui_stream_reaches_the_screen_and_every_key_the_input() -> None:
    """The stream's checks count characters and keys; its speed is reported, not judged."""
    (report,) = _run("tui")
    (streamed,) = report["streamed_chars"]
    assert streamed > 0 and report["shown_chars"] == [streamed]
    assert report["keys"] >= 1  # a key every 200 ms of a stream of at least 500 ms
    assert isinstance(report["met_targets"], bool)
    assert ("missed" in report) is not report["met_targets"]


def test_the_store_benchmark_runs_on_postgresql(postgres_url: str) -> None:
    """``--db URL``: the same runs and checks against the PostgreSQL store, each in a schema
    of its own that the benchmark drops at the end."""
    url = postgres_url.partition("?")[0]
    done = subprocess.run(
        [sys.executable, "-m", *RUNS["store"], "--db", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    expected = [{**e, "backend": "postgres"} for e in COUNTED["store"][:-1]] + [{"bench": "store"}]
    assert [_subset(r, e) for r, e in zip(reports, expected, strict=True)] == expected
    for report in reports:
        assert "ok" not in report and "problem" not in report, report


def test_each_side_of_compare_imports_its_own_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package that the tree maps from elsewhere (``agents/`` as ``groupchat.agents``) is the
    tree's own, never the working tree's through this environment's editable install."""
    monkeypatch.syspath_prepend(str(ROOT))  # ``bench`` is not installed: it is the repo's own
    from bench.compare import install_tree, side_process

    source = tmp_path / "src"
    (source / "groupchat").mkdir(parents=True)
    (source / "groupchat" / "__init__.py").write_text("", encoding="utf-8")
    (source / "agents").mkdir()
    (source / "agents" / "__init__.py").write_text("", encoding="utf-8")
    (source / "bench").mkdir()
    (source / "pyproject.toml").write_text(
        '[tool.setuptools.package-dir]\n"groupchat" = "groupchat"\n"groupchat.agents" = "agents"\n',
        encoding="utf-8",
    )
    site = install_tree(source, tmp_path / "side")
    code = "import groupchat.agents as a, os; print(os.path.realpath(a.__file__))"
    done = subprocess.run(
        **side_process(site, ["-c", code]), capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == str((source / "agents" / "__init__.py").resolve())
