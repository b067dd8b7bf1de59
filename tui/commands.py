"""Slash commands a person can type in a front-end, as data: name, arguments, help.

Only lines the local person types are parsed; text inside messages is never a command. A line
starting with ``//`` sends a literal ``/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "COMMANDS",
    "Command",
    "CommandError",
    "ParsedCommand",
    "help_text",
    "parse_command",
    "unescape",
]


@dataclass(frozen=True, slots=True)
class Command:
    """A command: its arguments (``NAME``, ``[FILE]`` for an optional one), help, and the
    front-ends that offer it."""

    name: str
    args: str
    help: str
    min_args: int = 0
    max_args: int = 0
    where: tuple[str, ...] = ("console", "tui")

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The argument names in order, without brackets: ``("FORMAT", "FILE")``."""
        return tuple(part.strip("[]") for part in self.args.split())


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("help", "", "list the commands"),
        Command("pause", "", "hold the chat after the current turn"),
        Command("resume", "", "continue a paused chat"),
        Command("interrupt", "", "cut the current speaker short"),
        Command("next", "NAME", "make NAME the next speaker", 1, 1),
        Command("skip", "", "pass your turn"),
        Command(
            "as",
            "[PERSON]",
            "speak as PERSON when nobody is asked (alone: who you are)",
            0,
            1,
        ),
        Command("who", "", "list the participants"),
        Command("kick", "NAME", "remove NAME from the chat", 1, 1),
        Command("invite", "[NAME]", "bring back NAME, who left (alone: who can come back)", 0, 1),
        Command(
            "export",
            "[FORMAT] [FILE]",
            "save the chat as md, html or jsonl (default md, in this folder)",
            0,
            2,
            where=("tui",),
        ),
        Command("theme", "[THEME]", "switch the colour theme (alone: list them)", 0, 1, ("tui",)),
        Command("stop", "", "end the chat"),
        Command("quit", "", "end the chat and leave"),
    )
}


class CommandError(ValueError):
    """An unknown command or wrong arguments; the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    args: tuple[str, ...]


def parse_command(line: str, commands: Mapping[str, Command] | None = None) -> ParsedCommand | None:
    """``None`` if ``line`` is a message, else the command; raises :class:`CommandError`.

    ``commands`` is the table to read from (default :data:`COMMANDS`; a replay has its own).
    """
    stripped = line.strip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return None
    name, *args = stripped[1:].split() or [""]
    table = COMMANDS if commands is None else commands
    command = table.get(name.lower()) if name else None
    if command is None:
        raise CommandError(f"unknown command /{name}; /help lists the commands")
    if not command.min_args <= len(args) <= command.max_args:
        usage = f"/{command.name} {command.args}".rstrip()
        raise CommandError(f"usage: {usage}")
    return ParsedCommand(command.name, tuple(args))


def unescape(line: str) -> str:
    """The message text of a line: a leading ``//`` becomes ``/``."""
    stripped = line.lstrip()
    return stripped[1:] if stripped.startswith("//") else line


def help_text(frontend: str | None = None) -> str:
    """The command list; with ``frontend`` (``"console"``, ``"tui"``) only the ones it offers."""
    shown = [c for c in COMMANDS.values() if frontend is None or frontend in c.where]
    width = max(len(f"/{c.name} {c.args}") for c in shown)
    rows = [f"  {f'/{c.name} {c.args}'.ljust(width)}  {c.help}" for c in shown]
    return "Commands:\n" + "\n".join(rows) + "\n  (start a message with // to send a literal /)"
