"""The ``groupchat`` command.

Exit status: 0 when a chat ends normally, 1 on a runtime failure, 2 on bad input or usage,
128 + the signal's number when ended by one (130 for Ctrl+C, 143 for SIGTERM, 129 for SIGHUP).
A reader of the output that goes away (``groupchat show ID | head``) ends the command quietly
with 0, as a headless chat whose output is closed ends: the reader had what it wanted, and a
``set -o pipefail`` script does not fail for it.

Each command's module, and the front-ends, are imported only by the command that uses them.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import sys
from collections.abc import Callable, Sequence

from groupchat.app.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError, fail
from groupchat.app.parser import build_parser

__all__ = ["main"]

_OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
"""Why writing standard output can fail that no change to the command would fix."""


def _tolerant_stdout() -> None:
    """Where standard output cannot encode every character (a locale that is not UTF-8), show
    ``?`` for what it cannot encode rather than fail; ``export -o FILE`` always writes UTF-8."""
    encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower().replace("-", "")
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if encoding != "utf8" and reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="replace")


_TRACED = frozenset({"demo", "run", "resume", "fork", "worker"})
"""The commands that run chats, traced when the environment asks (see :mod:`groupchat.tracing`)."""


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs ``command``, from the module of its group."""
    if command in ("demo", "run", "check", "resume", "fork"):
        from groupchat.app import run

        return {
            "demo": run.cmd_demo,
            "run": run.cmd_run,
            "check": run.cmd_check,
            "resume": run.cmd_continue,
            "fork": run.cmd_continue,
        }[command]
    if command == "worker":
        from groupchat.app.worker import cmd_worker

        return cmd_worker
    if command == "list":
        from groupchat.app.bus_list import cmd_list

        return cmd_list
    if command == "join":
        from groupchat.app.join import cmd_join

        return cmd_join
    from groupchat.app.transcripts import cmd_transcripts

    return cmd_transcripts


def _output_closed() -> int:
    """The reader of standard output went away: point it at /dev/null, so that what is still
    buffered and the interpreter's final flush go nowhere instead of raising again (``Exception
    ignored ... BrokenPipeError``), and end with :data:`EXIT_OK`."""
    from groupchat.app.session import discard_stdout

    discard_stdout()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _tolerant_stdout()
    try:
        if args.command in _TRACED:
            from groupchat.tracing import cli_tracing

            with cli_tracing():
                return _handler(args.command)(args)
        return _handler(args.command)(args)
    except CommandError as exc:
        return fail(str(exc), EXIT_USAGE)
    except BrokenPipeError:
        return _output_closed()
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS:
            raise
        from groupchat.app.session import discard_stdout

        discard_stdout()  # what is still buffered cannot be written either
        return fail(f"cannot write the output: {exc.strerror}", EXIT_FAILURE)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
