"""The quiet collector: full garbage collections when the app is idle, and everything put back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from groupchat.tui import memory
from groupchat.tui.memory import QuietCollector


@pytest.fixture
def collector() -> Iterator[QuietCollector]:
    quiet = QuietCollector(idle=0.0)
    yield quiet
    quiet.stop()


def test_start_freezes_and_makes_full_collections_rare(collector: QuietCollector) -> None:
    before = gc.get_threshold()
    collector.start()
    assert collector.running
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (before[0], before[1], memory.RARE)
    collector.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    collector.stop()  # twice is fine


def test_a_due_collection_waits_for_a_quiet_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: now[0])
    ran: list[int] = []

    def collect(generation: int = 2) -> int:
        ran.append(generation)
        return 0

    monkeypatch.setattr(memory.gc, "collect", collect)
    monkeypatch.setattr(memory.gc, "freeze", lambda: None)
    monkeypatch.setattr(memory.gc, "get_count", lambda: (0, 0, 50))
    quiet = QuietCollector(idle=1.0)
    assert not quiet.tick()  # not started
    quiet.start()
    ran.clear()
    try:
        quiet.active()
        now[0] += 0.5
        assert not quiet.tick()  # something happened half a second ago
        now[0] += 1.0
        assert quiet.tick() and ran == [2]
        monkeypatch.setattr(memory.gc, "get_count", lambda: (0, 0, 1))
        assert not quiet.tick()  # nothing due
    finally:
        quiet.stop()
