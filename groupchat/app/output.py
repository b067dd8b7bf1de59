"""Standard output of the transcript commands: a rich console that lets a closed pipe reach
the CLI's entry, which ends the command quietly (see :func:`groupchat.app.cli.main`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["stdout_console"]


def stdout_console(**options: Any) -> Console:
    """A :class:`rich.console.Console` on standard output (``options`` as for rich's) that
    raises :class:`BrokenPipeError` when the reader goes away (``groupchat show ID | head``),
    instead of rich's own ``SystemExit(1)``: the CLI handles that error once, for every
    command, with the same exit status."""
    from rich.console import Console

    class _PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more is written to the closed pipe
            raise BrokenPipeError

    return _PipeConsole(**options)
