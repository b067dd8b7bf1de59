"""Running a command's coroutine: signals end it as Ctrl+C does, errors become exit statuses."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

from groupchat.app.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    fail,
)

__all__ = ["ENDING_SIGNALS", "run_async"]

ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that end a command the way Ctrl+C does: the chat winds down and records its end, a
shared chat's socket is removed, and the exit status is 128 + the signal's number."""


async def _interruptible(main: Coroutine[Any, Any, int], received: list[int]) -> int:
    """Run ``main``; the first of :data:`ENDING_SIGNALS` cancels it (its number goes into
    ``received``), so that the chat winds down and records its end, and any further one
    meanwhile is ignored: raised into the event loop, it would stop it under the store and leave
    the process hanging at exit. A closed terminal (SIGHUP) or ``kill`` (SIGTERM) then leaves as
    tidy a transcript as Ctrl+C."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if task is not None and not task.cancelling():
            received.append(signum)
            task.cancel()

    installed = []
    try:
        for signum in ENDING_SIGNALS:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        for signum in installed:
            loop.remove_signal_handler(signum)
        return await main
    try:
        return await main
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine to its exit status."""
    from groupchat.transcripts.schema import StoreError

    received: list[int] = []
    try:
        code = asyncio.run(_interruptible(main, received))
    except (KeyboardInterrupt, asyncio.CancelledError):
        code = EXIT_INTERRUPTED
    except CommandError as exc:
        return fail(str(exc), EXIT_USAGE)
    except StoreError as exc:  # the database cannot be written or read (disk full, locked)
        return fail(str(exc), EXIT_FAILURE)
    if received and code in (EXIT_OK, EXIT_INTERRUPTED):  # the front-end may end it as stopped
        return 128 + received[0]  # 130 for Ctrl+C, 143 for SIGTERM, 129 for SIGHUP
    return code
