"""Keeping the garbage collector's long pauses out of the way of the person at the keyboard.

A Textual app keeps hundreds of thousands of objects alive (widgets, styles, cached lines), and
CPython's full collections walk all of them: on a small machine, a pause of a few hundred
milliseconds, twice a second while text streams fast (a third of the app's time).
:class:`QuietCollector` moves what is alive after loading (the app, a long chat's history) out
of those walks (``gc.freeze``), makes full collections ten times rarer while the app runs, and
runs them itself when nothing has happened for a moment. Young collections, which are short, go
on as usual.

It changes the whole process's collector, so only a process that runs one app uses it (the
CLI's); :meth:`QuietCollector.stop` puts everything back.
"""

from __future__ import annotations

import gc
import time

__all__ = ["IDLE_S", "QuietCollector"]

IDLE_S = 1.0
"""Seconds without an event or a key after which a pending full collection runs."""

RARE = 100
"""Middle-generation collections between two automatic full collections (CPython: 10): under
a stream of 2,000 tokens a second, one every few seconds instead of several a second, so that
the garbage a long stream makes is still collected while it runs."""


class QuietCollector:
    """Full garbage collections when the app is idle rather than whenever they fall due."""

    def __init__(self, *, idle: float = IDLE_S) -> None:
        self.idle = idle
        self._saved: tuple[int, int, int] | None = None
        self._last = time.monotonic()

    @property
    def running(self) -> bool:
        return self._saved is not None

    def start(self) -> None:
        """Collect, freeze what is alive, and make automatic full collections rare."""
        if self._saved is not None:
            return
        gc.collect()
        gc.freeze()
        threshold = gc.get_threshold()
        self._saved = threshold
        gc.set_threshold(threshold[0], threshold[1], RARE)

    def active(self) -> None:
        """Something happened (an event, a key): this is no moment for a long pause."""
        self._last = time.monotonic()

    def tick(self) -> bool:
        """Run a full collection if one is due and the app has been idle; whether it ran."""
        if self._saved is None or time.monotonic() - self._last < self.idle:
            return False
        if gc.get_count()[2] < self._saved[2]:
            return False
        gc.collect()
        return True

    def stop(self) -> None:
        """Back to the collector as it was (what was frozen is collectable again)."""
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        self._saved = None
        gc.unfreeze()
