"""Fuzzing the three readers of outside input: team specs, JSONL transcripts and single events.

Whatever the input, the outcome is a typed error that says what is wrong (``SpecError``,
``JsonlError``, pydantic's ``ValidationError``), or exit status 2 with one ``groupchat: error:``
message on the command line: never another exception, never a traceback, never a partial import.
Hypothesis runs derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from transcript_chats import rich_events

from groupchat.app.cli import main
from groupchat.events import Event, dump_event, parse_event
from groupchat.spec import SpecError, TeamSpec, load_spec
from groupchat.transcripts.jsonl import JsonlError, read_transcript, validate_transcript

ROOT = Path(__file__).resolve().parent.parent


def fuzz(examples: int) -> settings:
    """Deterministic (derandomized) settings with ``examples`` examples."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)

DEEP = {
    "json": "[" * 50_000,
    "yaml": "a: " + "[" * 50_000,
    "toml": "a = " + "[" * 50_000,
}


@contextlib.contextmanager
def captured() -> Any:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def run_cli(*args: str) -> tuple[int, str, str]:
    """``groupchat ARGS`` in this process: exit status, stdout, stderr."""
    with captured() as (out, err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def assert_one_clear_error(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("groupchat: error: "), err
    assert "Traceback" not in err
    assert err.count("groupchat: error: ") == 1


# ------------------------------------------------------------------------------ team specs

BASE_SPEC: dict[str, Any] = {
    "name": "fuzzed",
    "task": "Plan a trip",
    "participants": [
        {
            "kind": "scripted",
            "name": "ada",
            "description": "Opens.",
            "script": ["Hello @bob", "DONE"],
            "chunk": "word",
            "delay": 0,
            "when_done": "cycle",
        },
        {"kind": "scripted", "name": "bob", "script": ["Hi"], "report_usage": True},
        {
            "kind": "human",
            "name": "you",
            "timeout": 5,
            "on_timeout": "default",
            "default_reply": "ok",
        },
        {"kind": "llm", "name": "cal", "model": "openai:gpt-4.1-mini", "window": 4},
    ],
    "policy": {
        "kind": "graph",
        "start": "ada",
        "edges": {"ada": ["bob"], "bob": ["ada", "you", "cal"], "you": ["ada"], "cal": ["ada"]},
        "then": {"kind": "mention", "fallback": {"kind": "random", "seed": 3}},
        "exclude_last_speaker": True,
    },
    "termination": {
        "text_mention": {"text": "DONE", "sources": ["ada"]},
        "max_messages": 10,
        "timeout": 60,
        "token_budget": 1000,
        "mode": "any",
    },
    "max_turns": 20,
    "idle_rounds": 2,
    "on_error": "continue",
}
FIELDS = (
    *("name", "kind", "script", "chunk", "delay", "participants", "policy", "termination"),
    *("edges", "start", "then", "fallback", "timeout", "on_timeout", "default_reply", "task"),
    *("max_messages", "text_mention", "sources", "mode", "max_turns", "idle_rounds", "on_error"),
    *("model", "window", "seed", "human", "text", "description"),
)


def test_the_base_spec_is_valid() -> None:
    TeamSpec.model_validate(BASE_SPEC).build()


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    """The base spec with one value replaced, removed or added somewhere inside it."""
    spec = copy.deepcopy(BASE_SPEC)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        node: Any = spec
        for _ in range(draw(st.integers(min_value=0, max_value=4))):
            if isinstance(node, dict) and node:
                child = node[draw(st.sampled_from(sorted(node)))]
            elif isinstance(node, list) and node:
                child = node[draw(st.integers(min_value=0, max_value=len(node) - 1))]
            else:
                break
            if not isinstance(child, (dict, list)):
                break
            node = child
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if isinstance(node, dict):
            keys = sorted(node)
            if op == "add" or not keys:
                node[draw(st.sampled_from(FIELDS) | st.text(max_size=8))] = draw(json_values)
            else:
                key = draw(st.sampled_from(keys))
                if op == "delete":
                    del node[key]
                else:
                    node[key] = draw(json_values)
        elif isinstance(node, list):
            if op == "add" or not node:
                node.insert(draw(st.integers(0, len(node))), draw(json_values))
            else:
                index = draw(st.integers(0, len(node) - 1))
                if op == "delete":
                    del node[index]
                else:
                    node[index] = draw(json_values)
    return spec


def check_spec_file(path: Path) -> TeamSpec | None:
    """Load ``path``: a spec (which builds, or says why not) or one ``SpecError``."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
        assert "Traceback" not in str(exc)
        return None
    with contextlib.suppress(ValueError):  # what ``run`` and ``check`` do next; ValueError is
        spec.build()  # reported (exit 2), anything else would be a traceback
    return spec


@fuzz(150)
@given(spec=mutated_specs(), fmt=st.sampled_from(["yaml", "json"]))
def test_a_mutated_spec_loads_or_says_what_is_wrong(
    tmp_path_factory: pytest.TempPathFactory, spec: Any, fmt: str
) -> None:
    path = tmp_path_factory.mktemp("spec") / f"team.{fmt}"
    text = yaml.safe_dump(spec) if fmt == "yaml" else json.dumps(spec)
    path.write_text(text, encoding="utf-8")
    loaded = check_spec_file(path)
    code, out, err = run_cli("check", str(path))
    if loaded is None:
        assert_one_clear_error(code, err)
    else:
        assert code in (0, 2), err
        if code == 0:
            assert out.startswith(f"{path}: ok\n")
        else:
            assert_one_clear_error(code, err)


@fuzz(150)
@given(data=st.text() | st.binary(), suffix=st.sampled_from([".yaml", ".toml", ".json"]))
@example(data=b"\xff\xfe\x00name: x", suffix=".yaml")
@example(data="a: &x [*x]\nparticipants: *x", suffix=".yaml")
@example(
    data='{"participants": [{"kind": "scripted", "name": "a", "script": ["\\ud800"]}]}',
    suffix=".json",
)
@example(data="participants = [{kind = 'scripted', name = 'a', script = [1e999]}]", suffix=".toml")
def test_any_file_as_a_spec_gives_a_spec_or_one_clear_error(
    tmp_path_factory: pytest.TempPathFactory, data: str | bytes, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("spec") / f"team{suffix}"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(data)
    loaded = check_spec_file(path)
    code, _, err = run_cli("run", str(path), "--headless", "--no-store", "--max-messages", "1")
    if loaded is None:
        assert_one_clear_error(code, err)


@pytest.mark.parametrize("fmt", sorted(DEEP))
def test_a_spec_nested_too_deeply_is_a_clear_error(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"deep.{fmt}"
    path.write_text(DEEP[fmt])
    with pytest.raises(SpecError, match=r"nested too deeply"):
        load_spec(path)
    code, _, err = run_cli("check", str(path))
    assert_one_clear_error(code, err)
    assert err == f"groupchat: error: {path}: nested too deeply to be a team spec\n"


def test_malformed_specs_exit_2_without_a_traceback_in_a_real_process(tmp_path: Path) -> None:
    files = {
        "deep.json": DEEP["json"],
        "bad.yaml": "participants: [\n  - {kind: robot, name: 7}\n",
        "wrong.toml": "participants = 3\n[policy]\nkind = 'nope'\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run(
            [sys.executable, "-m", "groupchat", "check", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"groupchat: error: {path}: ")
        assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ JSONL import


@functools.cache
def sample() -> tuple[Event, ...]:
    """A real two-run chat with every event type (built once)."""
    return tuple(asyncio.run(rich_events()))


def sample_lines() -> list[str]:
    return [dump_event(e) for e in sample()]


MUTATIONS = ("text", "text", "value", "delete_key", "add_key", "drop", "repeat", "cut", "bytes")


@st.composite
def mutated_transcripts(
    draw: st.DrawFn, ops: Sequence[str] = (*MUTATIONS, "garbage")
) -> list[bytes]:
    """The sample transcript with lines and JSON values changed, removed, added or broken."""
    lines: list[bytes] = [line.encode() for line in sample_lines()]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        op = draw(st.sampled_from(ops))
        if op == "text":  # any text where there was text: often still a valid transcript
            try:
                data = json.loads(lines[at])
            except ValueError:
                continue
            strings = list(_string_leaves(data)) if isinstance(data, (dict, list)) else []
            if strings:
                container, key = draw(st.sampled_from(strings))
                container[key] = draw(st.text(max_size=30))
                lines[at] = json.dumps(data).encode()
        elif op in ("value", "delete_key", "add_key"):
            try:
                data = json.loads(lines[at])
            except ValueError:
                continue
            if not isinstance(data, (dict, list)):
                continue
            node: Any = data
            while True:
                keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
                if not keys:
                    break
                key = draw(st.sampled_from(keys))
                child = node[key]
                if not isinstance(child, (dict, list)) or not child or draw(st.booleans()):
                    break
                node = child
            if isinstance(node, dict):
                if op == "add_key" or not node:
                    node[draw(st.text(max_size=8))] = draw(json_values)
                elif op == "delete_key":
                    del node[draw(st.sampled_from(sorted(node)))]
                else:
                    node[draw(st.sampled_from(sorted(node)))] = draw(json_values)
            elif node:
                node[draw(st.integers(0, len(node) - 1))] = draw(json_values)
            lines[at] = json.dumps(data).encode()
        elif op == "drop" and len(lines) > 1:
            del lines[at]
        elif op == "repeat":
            lines.insert(at, lines[at])
        elif op == "cut":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
        elif op == "bytes":
            raw = bytearray(lines[at])
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
            lines[at] = bytes(raw)
        else:
            lines.insert(at, draw(st.binary(max_size=40)).replace(b"\n", b""))
    return lines


FREE_TEXT = frozenset({"content", "text", "reason", "prompt", "description", "task", "note"})


@st.composite
def retexted_transcripts(draw: st.DrawFn) -> list[bytes]:
    """The sample transcript with any text in fields that hold free text: still valid."""
    lines: list[bytes] = [line.encode() for line in sample_lines()]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        data = json.loads(lines[at])
        leaves = [(c, k) for c, k in _string_leaves(data) if k in FREE_TEXT]
        if leaves:
            container, key = draw(st.sampled_from(leaves))
            container[key] = draw(st.text(max_size=30))
            lines[at] = json.dumps(data).encode()
    return lines


def _string_leaves(node: Any) -> Any:
    """``(container, key)`` of every string value inside ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, str):
            yield node, key
        elif isinstance(value, (dict, list)):
            yield from _string_leaves(value)


def read_or_reject(lines: Sequence[bytes], name: str) -> list[Event] | None:
    """All the events of a valid transcript, or ``None`` after a ``JsonlError`` naming a line."""
    try:
        events = read_transcript([line + b"\n" for line in lines], name=name)
    except JsonlError as exc:
        assert str(exc).startswith(f"{name}: "), str(exc)
        assert 0 <= exc.line <= len(lines)
        if exc.line:
            assert f"line {exc.line}: " in str(exc)
        return None
    validate_transcript(events)
    return events


@fuzz(300)
@given(lines=mutated_transcripts())
def test_a_mutated_transcript_is_read_whole_or_rejected_at_a_line(lines: list[bytes]) -> None:
    read_or_reject(lines, "chat.jsonl")


@fuzz(150)
@given(lines=st.lists(st.binary(max_size=60) | st.text(max_size=60).map(str.encode), max_size=6))
def test_any_bytes_as_a_transcript_are_rejected_at_a_line(lines: list[bytes]) -> None:
    clean = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    assert read_or_reject(clean, "junk.jsonl") is None


def stored_chats(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM chats")]
        events = conn.execute("SELECT count(*) FROM event_log").fetchone()[0]
    conn.close()
    assert events == 0 or ids
    return ids


@fuzz(50)
@given(lines=retexted_transcripts() | mutated_transcripts())
def test_cli_import_is_all_or_nothing(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    folder = tmp_path_factory.mktemp("import")
    path, db = folder / "chat.jsonl", folder / "chats.db"
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = read_or_reject(lines, str(path))
    code, out, err = run_cli("import", str(path), "--db", str(db))
    if expected is None:
        assert_one_clear_error(code, err)
        assert f"{path}: line " in err or f"{path}: no events" in err
        assert stored_chats(db) == []  # nothing at all was imported
        return
    assert code == 0, err
    assert out.startswith(f"imported chat {expected[0].chat_id} ")
    assert len(stored_chats(db)) == 1
    code, exported, err = run_cli("export", expected[0].chat_id, "--db", str(db))
    assert code == 0, err
    assert read_transcript(exported.split("\n")) == expected


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(tmp_path: Path) -> None:
    lines = sample_lines()
    raw = [line.encode() for line in lines]
    raw[3] = raw[3].replace(b'"sender"', b'"sen\xffder"')
    path, db = tmp_path / "chat.jsonl", tmp_path / "chats.db"
    path.write_bytes(b"\n".join(raw) + b"\n")
    code, _, err = run_cli("import", str(path), "--db", str(db))
    assert_one_clear_error(code, err)
    byte = raw[3].index(b"\xff")
    assert err == f"groupchat: error: {path}: line 4: not UTF-8 text (byte {byte})\n"
    assert stored_chats(db) == []


# ------------------------------------------------------------------------------ events


@fuzz(300)
@given(data=st.binary(max_size=200) | st.text(max_size=200) | json_values.map(json.dumps))
@example(data='{"type": "text_delta"' + ', "x": [' * 5000)
@example(data=b'{"type":"message_posted","message":{"content":"\\ud800"}}')
def test_any_input_parses_to_an_event_or_raises_validation_error(data: str | bytes) -> None:
    try:
        event = parse_event(data)
    except ValidationError:
        return
    assert parse_event(dump_event(event)) == event


@fuzz(300)
@given(
    index=st.integers(min_value=0),
    value=json_values,
    path_choices=st.lists(st.integers(0, 50), max_size=4),
)
def test_a_mutated_event_is_an_event_or_a_validation_error(
    index: int, value: Any, path_choices: list[int]
) -> None:
    lines = sample_lines()
    data = json.loads(lines[index % len(lines)])
    node: Any = data
    key: Any = None
    for choice in path_choices:
        keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = keys[choice % len(keys)]
        if not isinstance(node[key], (dict, list)) or not node[key]:
            break
        node = node[key]
    if isinstance(node, dict) and node:
        node[key if key in node else sorted(node)[0]] = value
    try:
        event = parse_event(json.dumps(data))
    except ValidationError as exc:
        assert exc.errors()  # says which field
        return
    assert parse_event(dump_event(event)) == event
