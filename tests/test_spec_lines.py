"""Where a field is written: the line finders of JSON and TOML text, checked on generated
documents against what each line really holds (derandomized, so every run sees the same)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groupchat.spec_lines import FieldPath, json_lines, toml_lines

FUZZ = settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
json_docs = st.dictionaries(
    keys,
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=12,
    ),
    max_size=4,
)


def paths(value: Any, path: FieldPath = ()) -> list[tuple[FieldPath, Any]]:
    """Every path into ``value`` (its own first), with what is there."""
    found: list[tuple[FieldPath, Any]] = [(path, value)]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*path, index))
    return found


@FUZZ
@given(doc=json_docs)
def test_json_lines_point_at_the_key_or_the_item(doc: dict[str, Any]) -> None:
    """With one key or item per line (``indent=1``), the line of a key holds that key, and the
    line of a list item starts with it."""
    text = json.dumps(doc, indent=1)
    finder = json_lines(text)
    assert finder is not None
    lines = text.splitlines()
    for path, value in paths(doc)[1:]:
        line = finder.line_of(path)
        assert line is not None
        held = lines[line - 1].lstrip()
        if isinstance(path[-1], str):
            assert held.startswith(json.dumps(path[-1]) + ": "), (path, held)
        else:
            first = json.dumps(value, indent=1).splitlines()[0]
            assert held.startswith(first), (path, held)


def test_json_lines_read_compact_text_and_odd_spacing() -> None:
    text = '{ "a" :\n [ 1 ,\n\n {"b\\"\\n": NaN, "c": -Infinity} ] , "d":{}}'
    finder = json_lines(text)
    assert finder is not None
    assert [finder.line_of(p) for p in [("a",), ("a", 0), ("a", 1), ("a", 1, 'b"\n'), ("d",)]] == [
        1,
        2,
        4,
        4,
        4,
    ]
    assert finder.line_of(("a", 1, "missing")) == 4  # where it belongs
    assert finder.line_of(("nowhere", "at all")) == 1


# ---------------------------------------------------------------------------------------- TOML

toml_keys = st.text(st.sampled_from("abcxyz_-. \"'#[]=é"), min_size=1, max_size=6)
toml_text = st.text(st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\né\t"))
toml_scalars = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.booleans() | toml_text
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(toml_keys, inner, max_size=3),
    max_leaves=10,
)
toml_docs = st.dictionaries(toml_keys, toml_values, max_size=4)


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)  # a basic string: always a valid TOML key


def _inline(value: Any, lines: bool = True) -> str:
    """``value`` as a TOML value: lists one item per line (except inside an inline table, which
    TOML keeps on one line), text with line breaks as a multi-line literal string."""
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_inline(v, False)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        if not lines:
            return "[" + ", ".join(_inline(v, False) for v in value) + "]"
        return "[\n" + "".join(f"  {_inline(v)},\n" for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    plain = all(c == "\n" or (c.isprintable() and c != "'") for c in value)
    if lines and "\n" in value and plain and not value.startswith("\n"):
        return f"'''{value}'''"
    return json.dumps(value, ensure_ascii=False)


def to_toml(doc: dict[str, Any], table: tuple[str, ...] = ()) -> str:
    """``doc`` as TOML: a dict of dicts as ``[tables]``, a list of dicts as ``[[arrays]]``,
    anything else as ``key = value``, with a comment after it."""
    out = ""
    nested = []
    for key, value in doc.items():
        if (isinstance(value, dict) and value) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            nested.append((key, value))
        else:
            out += f"{_key(key)} = {_inline(value)}  # {key!r}\n"
    for key, value in nested:
        name = ".".join(_key(k) for k in (*table, key))
        if isinstance(value, dict):
            out += f"\n[{name}]\n" + to_toml(value, (*table, key))
        else:
            for item in value:
                out += f"\n[[{name}]]\n" + to_toml(item, (*table, key))
    return out


@FUZZ
@given(doc=toml_docs)
def test_toml_lines_point_at_the_key_the_header_or_the_item(doc: dict[str, Any]) -> None:
    text = to_toml(doc)
    assert tomllib.loads(text) == doc
    finder = toml_lines(text)
    assert finder is not None
    lines = text.splitlines()
    for path, value in paths(doc)[1:]:
        line = finder.line_of(path)
        assert line is not None
        held = lines[line - 1].lstrip()
        last = path[-1]
        if isinstance(last, str):  # its key: in a header, a key = value line, an inline table
            assert _key(last) in held, (path, held)
        elif isinstance(value, dict):  # an inline table, or a table of an array of tables
            assert held.startswith(("{", "[[")), (path, held)
        else:
            shown = (_inline(value).splitlines()[0], _inline(value, False).splitlines()[0])
            assert held.startswith(shown[0]) or shown[1] in held, (path, held)
