"""How a command ends: its exit status, and the errors a user can fix.

Exit status: 0 when a chat ends normally, 1 on a runtime failure, 2 on bad input or usage,
128 + the signal's number when ended by one (130 for Ctrl+C, 143 for SIGTERM, 129 for SIGHUP).
"""

from __future__ import annotations

import sys

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "fail",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """Bad input or a chat that cannot be found: printed, exit status 2."""


def fail(message: str, code: int) -> int:
    """Say ``message`` on standard error as the command's error; return ``code``."""
    sys.stderr.write(f"groupchat: error: {message}\n")
    return code
