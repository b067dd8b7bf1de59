"""Reading a team spec from YAML, TOML or JSON text, and saying what is wrong with it.

A bad file raises :class:`SpecError`, whose message names the file, the field path, the line
where it can be found (:mod:`groupchat.spec_lines`), and what is wrong.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from groupchat.spec_lines import FieldPath, LineFinder, json_lines, toml_lines, yaml_lines
from groupchat.spec_team import TeamSpec

__all__ = ["SpecError", "load_spec", "parse_spec"]


class SpecError(ValueError):
    """A team spec that cannot be used; the message names file, field and problem."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


def load_spec(path: str | Path) -> TeamSpec:
    """Read and validate a team spec from a ``.yaml``/``.yml``, ``.toml`` or ``.json`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read: {exc}", source=str(path)) from None
    return parse_spec(text, source=str(path), format=_format_of(path))


def _format_of(path: Path) -> Literal["yaml", "toml", "json"]:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise SpecError(
        f"{path}: unknown spec format {suffix or '(no suffix)'!r}; use .yaml, .yml, .toml or .json",
        source=str(path),
    )


def parse_spec(
    text: str, *, source: str = "<spec>", format: Literal["yaml", "toml", "json"] = "yaml"
) -> TeamSpec:
    """Validate spec text; ``source`` names it in errors."""
    if not text.strip():
        raise SpecError(
            f"{source}: the spec is empty; a team spec needs at least its participants",
            source=source,
        )
    yaml_finder: LineFinder | None = None
    try:
        if format == "toml":
            data: Any = tomllib.loads(text)
        elif format == "json":
            data = json.loads(text)
        else:
            data, yaml_finder = _load_yaml(text)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: {_toml_syntax_error(exc, text)}", source=source) from None
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}",
            source=source,
        ) from None
    except RecursionError:  # the parsers recurse once per level of nesting
        raise SpecError(f"{source}: nested too deeply to be a team spec", source=source) from None
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: a team spec must be a mapping at the top level", source=source)
    try:
        return TeamSpec.model_validate(data)
    except ValidationError as exc:
        # Where TOML and JSON put a field is looked for only when there is an error to place.
        lines = {"toml": toml_lines, "json": json_lines}.get(format)
        finder = lines(text) if lines is not None else yaml_finder
        raise SpecError(_format_errors(source, exc, data, finder), source=source) from None


_TOML_WHERE = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")


def _toml_syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """``line 3, column 5: invalid TOML: Invalid value``, like a YAML or JSON syntax error."""
    message = str(exc)
    match = _TOML_WHERE.search(message)
    if match is None:
        return f"invalid TOML: {message}"
    problem = message[: match.start()]
    if match.group(1) is None:
        last = text.count("\n") + 1
        return f"line {last}: invalid TOML: {problem} at the end of the file"
    return f"line {match.group(1)}, column {match.group(2)}: invalid TOML: {problem}"


def _format_errors(source: str, exc: ValidationError, data: Any, lines: LineFinder | None) -> str:
    by_path: dict[FieldPath, list[str]] = {}
    for err in exc.errors(include_url=False):
        path = _real_path(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        ctx = err.get("ctx", {})
        if err["type"] == "union_tag_invalid":
            msg = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        elif err["type"] == "union_tag_not_found":
            msg = f"missing 'kind' ({_KINDS.get(path[-1] if path else '', 'see the docs')})"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        messages = by_path.setdefault(path, [])
        if msg not in messages:
            messages.append(msg)
    out: list[str] = []
    for path, messages in by_path.items():
        line = lines.line_of(path) if lines is not None else None
        where = f" (line {line})" if line else ""
        out.append(f"{source}: {_dotted(path) or '(top level)'}{where}: {'; or '.join(messages)}")
    return "\n".join(out)


_POLICY_KINDS = (
    "one of round_robin, random, manual, mention, graph, function, llm_selector, handoff"
)
# The kinds a field may hold, by the field's name (an index of a list has none).
_KINDS: dict[str | int, str] = {
    "policy": _POLICY_KINDS,
    "fallback": _POLICY_KINDS,
    "then": _POLICY_KINDS,
}


def _real_path(loc: tuple[Any, ...], data: Any) -> FieldPath:
    """The error's location as keys and indexes of the input, without pydantic's union labels.

    Walks the input along the location: a label that is the ``kind`` of the mapping at hand,
    or that does not exist in the input (a type name, a union branch), is skipped; a missing
    key at the end of the location (a required field) is kept.
    """
    path: list[str | int] = []
    current = data
    tag_skipped = False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
            tag_skipped = False
        elif isinstance(current, Mapping) and isinstance(part, str):
            if current.get("kind") == part and not tag_skipped:
                tag_skipped = True
                continue  # the branch of a tagged union
            if part in current:
                path.append(part)
                current = current[part]
                tag_skipped = False
            elif last and part != "[key]":
                path.append(part)  # a missing field
        elif isinstance(current, Mapping) and isinstance(part, int) and part in current:
            path.append(part)  # a key that is not a string (YAML's ``7:``)
            current = current[part]
            tag_skipped = False
        # anything else is a label pydantic adds (a type name): not part of the input
    return tuple(path)


_PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]*")


def _dotted(path: FieldPath) -> str:
    """``participants[1].delay``; a key that is not a plain name is quoted:
    ``prices["openai:gpt-4.1-mini"].input``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
        else:
            out += f".{part}" if out else part
    return out


def _load_yaml(text: str) -> tuple[Any, LineFinder]:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpecError(f"{where}invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}") from None
    return data, yaml_lines(root)
