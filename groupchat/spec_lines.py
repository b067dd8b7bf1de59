"""Where a field of a team spec is written: the line of a path into the parsed data, for YAML,
TOML and JSON text, so that every validation error can name its line.

A path is the tuple of keys and list indexes that leads to a value (``("participants", 1,
"delay")``). Each finder answers with the line of the key that holds the value (or of a list
item's first character); for a path that is not in the text (a required field left out) it
answers with the line of the deepest part that is, where the missing field belongs.

The TOML and JSON finders read text their parser has already accepted, so they do not check
the syntax again; they are built only when there is an error to place, and one that cannot
make sense of the text answers ``None`` rather than a wrong line.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections.abc import Callable
from json import decoder
from typing import Any, Protocol, TypeAlias

__all__ = ["FieldPath", "LineFinder", "json_lines", "toml_lines", "yaml_lines"]

FieldPath: TypeAlias = tuple[str | int, ...]

# json's own string scanner (C or Python): there at run time, but left out of the stubs.
_scanstring: Callable[[str, int], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]


class LineFinder(Protocol):
    def line_of(self, path: FieldPath) -> int | None: ...


class _Lines:
    """The lines of a text's paths, and the answer for a path by its deepest known part."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.lines: dict[FieldPath, int] = {}

    def line(self, pos: int) -> int:
        """The 1-based line of the character at ``pos``."""
        return bisect.bisect_left(self._newlines, pos) + 1

    def line_of(self, path: FieldPath) -> int | None:
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None

    def _space(self, pos: int) -> int:
        """Past the blanks (and comments, where the format has them) at ``pos``."""
        raise NotImplementedError

    def _value(self, pos: int, path: FieldPath) -> int:
        """Record the lines of the value at ``pos`` (under ``path``) and return its end."""
        raise NotImplementedError

    def _array(self, pos: int, path: FieldPath) -> int:
        """An array at ``pos`` (its ``[``): each item's line under ``(*path, index)``."""
        text = self.text
        pos = self._space(pos + 1)
        index = 0
        while text[pos] != "]":
            self.lines[(*path, index)] = self.line(pos)
            pos = self._space(self._value(pos, (*path, index)))
            if text[pos] == ",":
                pos = self._space(pos + 1)
            index += 1
        return pos + 1

    def forget(self, path: FieldPath) -> None:
        """Drop what was found under ``path`` (a key given again replaces the first one)."""
        size = len(path)
        for known in [p for p in self.lines if p[:size] == path]:
            del self.lines[known]


def _built(make: Callable[[], _Lines]) -> _Lines | None:
    try:
        return make()
    except (IndexError, ValueError, KeyError, RecursionError, tomllib.TOMLDecodeError):
        return None


# ------------------------------------------------------------------------------------ YAML


class _YamlLines:
    """The lines of a YAML node tree (``yaml.compose``), which keeps every node's position."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def line_of(self, path: FieldPath) -> int | None:
        import yaml

        node = self.root
        if node is None:
            return None
        line: int = node.start_mark.line + 1
        for part in path:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        node, line = value, key.start_mark.line + 1
                        break
                else:
                    return line  # a missing field: the line of the mapping it belongs in
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
        return line


def yaml_lines(root: Any) -> LineFinder:
    """The finder of a composed YAML document (``yaml.compose(text)``)."""
    return _YamlLines(root)


# ------------------------------------------------------------------------------------ JSON

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_ATOM = re.compile(r"[^,\]}\s]+")


class _JsonLines(_Lines):
    """One pass over JSON text that notes where each key and list item starts."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        start = self._space(0)
        self.lines[()] = self.line(start)
        self._value(start, ())

    def _space(self, pos: int) -> int:
        match = _JSON_SPACE.match(self.text, pos)
        assert match is not None  # it matches the empty string
        return match.end()

    def _value(self, pos: int, path: FieldPath) -> int:
        """Note the lines inside the value at ``pos``; return where it ends."""
        text = self.text
        char = text[pos]
        if char == "{":
            pos = self._space(pos + 1)
            while text[pos] != "}":
                key, after = _scanstring(text, pos + 1)
                inner = (*path, key)
                if inner in self.lines:
                    self.forget(inner)  # json.loads keeps the last of repeated keys
                self.lines[inner] = self.line(pos)
                pos = self._space(after)
                pos = self._value(self._space(pos + 1), inner)  # past the ':'
                pos = self._space(pos)
                if text[pos] == ",":
                    pos = self._space(pos + 1)
            return pos + 1
        if char == "[":
            return self._array(pos, path)
        if char == '"':
            return _scanstring(text, pos + 1)[1]
        match = _JSON_ATOM.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected {char!r}")
        return match.end()


def json_lines(text: str) -> LineFinder | None:
    """The finder of JSON text that ``json.loads`` accepted (``None`` if it cannot tell)."""
    return _built(lambda: _JsonLines(text))


# ------------------------------------------------------------------------------------ TOML

_TOML_BLANK = re.compile(r"[ \t]*")
_TOML_SPACE = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ATOM = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?"
    r"|[^,\]}\s#]+"
)


class _TomlLines(_Lines):
    """One pass over TOML text that notes where each key, table header and array item is.

    ``[a.b]`` headers are followed to the latest table of every array of tables on their way,
    as TOML does, so ``[[participants]]`` blocks count as ``participants[0]``, ``[1]``, ...
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._arrays: dict[FieldPath, int] = {}  # arrays of tables: how many tables each has
        pos = self._space(0)
        table: FieldPath = ()
        while pos < len(text):
            line = self.line(pos)
            self.lines.setdefault((), line)
            if text[pos] == "[":
                table, pos = self._header(pos, line)
            else:
                pos = self._pair(pos, table)
            pos = self._space(pos)

    def _space(self, pos: int) -> int:
        match = _TOML_SPACE.match(self.text, pos)
        assert match is not None
        return match.end()

    def _blank(self, pos: int) -> int:
        match = _TOML_BLANK.match(self.text, pos)
        assert match is not None
        return match.end()

    def _resolve(self, keys: list[str]) -> FieldPath:
        """The concrete path of a header's keys: into the latest table of each array of tables."""
        path: FieldPath = ()
        for key in keys:
            path = (*path, key)
            count = self._arrays.get(path)
            if count is not None:
                path = (*path, count - 1)
        return path

    def _header(self, pos: int, line: int) -> tuple[FieldPath, int]:
        text = self.text
        array = text.startswith("[[", pos)
        keys, pos = self._keys(self._blank(pos + (2 if array else 1)))
        pos = self._blank(pos) + (2 if array else 1)
        if array:
            parent = self._resolve(keys[:-1])
            where = (*parent, keys[-1])
            count = self._arrays.get(where, 0) + 1
            self._arrays[where] = count
            table: FieldPath = (*where, count - 1)
            self.lines.setdefault(where, line)
        else:
            table = self._resolve(keys)
        for end in range(1, len(table) + 1):
            self.lines.setdefault(table[:end], line)
        self.lines[table] = line
        return table, pos

    def _keys(self, pos: int) -> tuple[list[str], int]:
        """A dotted key at ``pos`` (``a."b.c".d``) as its parts, and where it ends."""
        text = self.text
        keys: list[str] = []
        while True:
            pos = self._blank(pos)
            if text[pos] in "\"'":
                end = self._string(pos)
                keys.append(tomllib.loads(f"k = {text[pos:end]}")["k"])
                pos = end
            else:
                match = _TOML_BARE_KEY.match(text, pos)
                if match is None:
                    raise ValueError(f"no key at {pos}")
                keys.append(match.group())
                pos = match.end()
            pos = self._blank(pos)
            if not text.startswith(".", pos):
                return keys, pos
            pos += 1

    def _pair(self, pos: int, table: FieldPath) -> int:
        """``key = value`` at ``pos`` in ``table``: note the key's line; return where it ends."""
        line = self.line(pos)
        keys, pos = self._keys(pos)
        path = (*table, *keys)
        for end in range(len(table) + 1, len(path)):
            self.lines.setdefault(path[:end], line)  # the tables a dotted key makes
        self.lines[path] = line
        if self.text[pos] != "=":
            raise ValueError(f"no '=' at {pos}")
        return self._value(self._blank(pos + 1), path)

    def _value(self, pos: int, path: FieldPath) -> int:
        text = self.text
        char = text[pos]
        if char in "\"'":
            return self._string(pos)
        if char == "[":
            return self._array(pos, path)
        if char == "{":
            pos = self._space(pos + 1)
            while text[pos] != "}":
                pos = self._space(self._pair(pos, path))
                if text[pos] == ",":
                    pos = self._space(pos + 1)
            return pos + 1
        match = _TOML_ATOM.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected {char!r}")
        return match.end()

    def _string(self, pos: int) -> int:
        """Where the string starting at ``pos`` ends (any of TOML's four kinds)."""
        text = self.text
        quote = text[pos]
        if text.startswith(quote * 3, pos):
            pos += 3
            while not text.startswith(quote * 3, pos):
                pos += 2 if quote == '"' and text[pos] == "\\" else 1
            pos += 3
            while pos < len(text) and text[pos] == quote:  # up to two quotes end the content
                pos += 1
            return pos
        pos += 1
        while text[pos] != quote:
            pos += 2 if quote == '"' and text[pos] == "\\" else 1
        return pos + 1


def toml_lines(text: str) -> LineFinder | None:
    """The finder of TOML text that ``tomllib`` accepted (``None`` if it cannot tell)."""
    return _built(lambda: _TomlLines(text))
