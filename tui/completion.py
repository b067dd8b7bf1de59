"""Completion of what a person types: slash commands, their arguments, and @mentions.

One function, :func:`suggest`, serves both front-ends: the TUI's composer shows its suggestions
in a list, and :class:`PromptCompleter` hands them to prompt-toolkit for the plain console.
Commands and their help come from :data:`~groupchat.tui.commands.COMMANDS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from groupchat.safe_text import one_line
from groupchat.tui.commands import COMMANDS, Command

__all__ = ["PromptCompleter", "Suggestion", "command_hint", "suggest"]

EXPORT_FORMATS = ("md", "html", "jsonl")

_WORD = re.compile(r"\S*$")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Replace the last ``replace`` characters before the cursor with ``text``."""

    text: str
    replace: int
    label: str
    help: str = ""


def _commands(frontend: str, table: Mapping[str, Command]) -> list[Command]:
    return [c for c in table.values() if frontend in c.where]


def suggest(
    before_cursor: str,
    names: Sequence[str],
    *,
    frontend: str = "tui",
    values: Mapping[str, Iterable[str]] | None = None,
    commands: Mapping[str, Command] = COMMANDS,
    descriptions: Mapping[str, str] | None = None,
) -> list[Suggestion]:
    """What the word before the cursor may become.

    ``names`` are the participants (for ``@`` and ``NAME`` arguments); ``values`` gives the
    choices of other argument placeholders (``THEME``: theme names). A line starting with ``/``
    completes a command name and then its arguments; elsewhere a word starting with ``@``
    completes a participant's name (shown with its entry in ``descriptions``). ``commands`` is
    the table of commands (a replay has its own).
    """
    about = descriptions or {}
    word = _WORD.search(before_cursor)
    current = word.group(0) if word else ""
    stripped = before_cursor.lstrip()
    if stripped.startswith("/") and not stripped.startswith("//"):
        head, *rest = stripped.split(" ")
        if not rest:  # still typing the command's name
            typed = head[1:].lower()
            return [
                Suggestion(
                    f"/{c.name} " if c.args else f"/{c.name}", len(head), f"/{c.name}", c.help
                )
                for c in _commands(frontend, commands)
                if c.name.startswith(typed)
            ]
        command = commands.get(head[1:].lower())
        position = len(rest) - 1  # the argument being typed
        if command is None or position >= len(command.placeholders):
            return []
        choices = _choices(command.placeholders[position], names, values or {})
        typed = current.lstrip("@").lower()
        return [
            Suggestion(choice, len(current), choice, command.placeholders[position].lower())
            for choice in choices
            if choice.lower().startswith(typed) and choice != current
        ]
    if current.startswith("@"):
        typed = current[1:].lower()
        return [
            Suggestion(f"@{name} ", len(current), f"@{name}", _first_line(about.get(name, "")))
            for name in names
            if name.lower().startswith(typed)
        ]
    return []


def _first_line(text: str, limit: int = 60) -> str:
    line = one_line(text.strip().split("\n", 1)[0])
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _choices(
    placeholder: str, names: Sequence[str], values: Mapping[str, Iterable[str]]
) -> list[str]:
    if placeholder in values:
        return list(values[placeholder])
    if placeholder == "NAME":
        return list(names)
    if placeholder == "FORMAT":
        return list(EXPORT_FORMATS)
    return []


def command_hint(
    text: str, *, frontend: str = "tui", commands: Mapping[str, Command] = COMMANDS
) -> str | None:
    """Usage and help of the command being typed (``/next NAME — make NAME the next speaker``),
    or what is wrong with it; ``None`` for a message."""
    stripped = text.lstrip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return None
    name = stripped[1:].split(" ", 1)[0].lower()
    command = commands.get(name)
    if command is None or frontend not in command.where:
        matches = [c for c in _commands(frontend, commands) if c.name.startswith(name)]
        if len(matches) > 1:
            return "commands: " + "  ".join(f"/{c.name}" for c in matches)
        if not matches:
            return f"unknown command /{name}; /help lists the commands"
        command = matches[0]
    usage = f"/{command.name} {command.args}".rstrip()
    return f"{usage} — {command.help}"


class PromptCompleter(Completer):
    """prompt-toolkit completion of commands and @mentions for the plain console."""

    def __init__(
        self,
        names: Callable[[], Sequence[str]],
        descriptions: Callable[[], Mapping[str, str]] = dict,
        *,
        values: Callable[[], Mapping[str, Iterable[str]]] = dict,
    ) -> None:
        self._names = names
        self._descriptions = descriptions
        self._values = values

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        found = suggest(
            document.text_before_cursor,
            self._names(),
            frontend="console",
            values=self._values(),
            descriptions=self._descriptions(),
        )
        for item in found:
            yield Completion(
                item.text,
                start_position=-item.replace,
                display=item.label,
                display_meta=item.help,
            )
