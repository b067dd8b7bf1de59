"""JSONL import: lossless round trips, and every broken transcript rejected at the right line."""

from __future__ import annotations

import asyncio
import functools
import io
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from transcript_chats import ALL_TYPES, Events, rich_events, tool_events

from groupchat.chat import GroupChat
from groupchat.events import (
    ChatEnded,
    ChatStarted,
    Event,
    MessagePosted,
    ParticipantInfo,
    Paused,
    dump_event,
)
from groupchat.messages import Message
from groupchat.termination import ExternalStop
from groupchat.testing import ScriptedAgent
from groupchat.transcripts.jsonl import (
    JsonlError,
    TranscriptError,
    read_jsonl,
    read_transcript,
    to_jsonl,
    validate_transcript,
    write_jsonl,
)


@functools.cache
def sample() -> tuple[Event, ...]:
    """The events of the real two-run chat (built once; no event loop is running here)."""
    return tuple(asyncio.run(rich_events()))


def lines_of(events: Sequence[Event]) -> list[str]:
    return [dump_event(e) for e in events]


def edit(line: str, **changes: Any) -> str:
    data = json.loads(line)
    data.update(changes)
    return json.dumps(data)


def drop(line: str, key: str) -> str:
    data = json.loads(line)
    del data[key]
    return json.dumps(data)


def rejected(lines: Sequence[str], *, name: str = "chat.jsonl") -> JsonlError:
    with pytest.raises(JsonlError) as info:
        read_transcript(lines, name=name)
    return info.value


# ---------------------------------------------------------------- round trips


def test_the_sample_has_every_event_type_and_two_runs() -> None:
    events = sample()
    assert {e.type for e in events} == ALL_TYPES
    assert [e.type for e in events].count("chat_ended") == 2
    assert [e.type for e in events].count("chat_started") == 1


async def test_write_jsonl_then_read_transcript_gives_identical_events(tmp_path: Path) -> None:
    events = sample()
    path = tmp_path / "chat.jsonl"
    with path.open("w", encoding="utf-8") as out:
        assert await write_jsonl(events, out) == len(events)
    assert read_transcript(path) == list(events)
    assert read_jsonl(path) == list(events)


async def test_write_jsonl_still_takes_an_async_stream() -> None:
    events = tool_events()

    async def stream() -> AsyncIterator[Event]:
        for event in events:
            yield event

    out = io.StringIO()
    assert await write_jsonl(stream(), out, flush=False) == len(events)
    assert out.getvalue() == to_jsonl(events)
    assert read_transcript(out.getvalue().splitlines(keepends=True)) == events


def test_hostile_text_round_trips_exactly(tmp_path: Path) -> None:
    text = "<script>\x00\x1b[31m\r\n\u202e\u2028\x85\x0c" + "x" * 100_000 + "\ud7ff😀"
    log = Events()
    log.add(ChatStarted, task=text, participants=(ParticipantInfo(name="al", description=text),))
    log.add(MessagePosted, "al", message=Message(id="m1", sender="al", content=text))
    path = tmp_path / "hostile.jsonl"
    path.write_text(to_jsonl(log.events), encoding="utf-8")
    assert read_transcript(path) == log.events  # a file splits at "\n" only, not at U+2028
    assert read_transcript(io.StringIO(to_jsonl(log.events))) == log.events


def test_blank_lines_are_tolerated_and_lines_are_counted(tmp_path: Path) -> None:
    lines = lines_of(sample()[:5])
    text = "\n" + lines[0] + "\n\n   \n" + "\n".join(lines[1:]) + "\n\n"
    path = tmp_path / "blank.jsonl"
    path.write_text(text, encoding="utf-8")
    assert read_transcript(path) == list(sample()[:5])
    broken = text.replace(lines[2], edit(lines[2], seq=7))
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(TranscriptError) as info:
        read_transcript(path)
    assert str(info.value) == f"{path}: line 6: seq 7 follows seq 1 (gap)"
    assert info.value.line == 6


def test_a_real_continued_chat_is_valid() -> None:
    events = list(sample())
    validate_transcript(events)
    ended = [i for i, e in enumerate(events) if e.type == "chat_ended"]
    assert events[ended[0] + 1].type == "message_posted"  # run 2 starts with its task, no start


async def test_a_run_stopped_before_its_first_turn_is_valid() -> None:
    stop = ExternalStop()
    chat = GroupChat([ScriptedAgent("al", ["hi", "again"])], termination=stop, max_turns=1)
    await chat.run("first")
    stop.set("not now")
    await chat.run()
    events = chat.events()
    assert [e.type for e in events[-2:]] == ["chat_ended", "chat_ended"]
    validate_transcript(events)
    assert read_transcript(lines_of(events)) == events


# ---------------------------------------------------------------- bad input, named by line


def test_broken_json() -> None:
    lines = lines_of(sample()[:4])
    lines[2] = lines[2][:40]
    error = rejected(lines)
    assert str(error).startswith("chat.jsonl: line 3: invalid JSON: ")
    assert "line 1 column" not in str(error)
    assert (error.line, error.field) == (3, None)


def test_unknown_event_type() -> None:
    lines = lines_of(sample()[:4])
    lines[1] = edit(lines[1], type="foo")
    error = rejected(lines)
    assert str(error) == "chat.jsonl: line 2: type: unknown event type 'foo'"
    assert (error.line, error.field) == (2, "type")


def test_missing_event_type() -> None:
    lines = lines_of(sample()[:4])
    lines[3] = drop(lines[3], "type")
    assert str(rejected(lines)) == "chat.jsonl: line 4: type: missing event type"


def test_missing_nested_field_is_named_by_its_path() -> None:
    lines = lines_of(sample()[:4])
    assert json.loads(lines[1])["type"] == "message_posted"
    data = json.loads(lines[1])
    del data["message"]["sender"]
    lines[1] = json.dumps(data)
    error = rejected(lines)
    assert str(error) == "chat.jsonl: line 2: message.sender: Field required"
    assert error.field == "message.sender"


def test_bad_value_and_missing_base_field() -> None:
    lines = lines_of(sample()[:4])
    lines[2] = edit(lines[2], seq=-1)
    assert str(rejected(lines)) == (
        "chat.jsonl: line 3: seq: Input should be greater than or equal to 0"
    )
    lines = lines_of(sample()[:4])
    lines[3] = drop(lines[3], "chat_id")
    assert str(rejected(lines)) == "chat.jsonl: line 4: chat_id: Field required"


def test_a_nested_tool_part_error_skips_the_union_tags() -> None:
    log = Events()
    log.add(ChatStarted)
    log.add(MessagePosted, "al", message=Message(id="m1", sender="al", content="x"))
    data = json.loads(dump_event(log.events[1]))
    data["message"]["parts"] = [{"kind": "tool_call", "name": "search"}]
    lines = [dump_event(log.events[0]), json.dumps(data)]
    assert str(rejected(lines)) == "chat.jsonl: line 2: message.parts.0.call_id: Field required"
    data["message"]["parts"] = [{"kind": "poke"}]
    lines[1] = json.dumps(data)
    assert str(rejected(lines)) == "chat.jsonl: line 2: message.parts.0.kind: unknown value 'poke'"


def test_not_an_object_and_not_utf8(tmp_path: Path) -> None:
    lines = lines_of(sample()[:2])
    assert str(rejected([lines[0], "[1, 2]"])) == "chat.jsonl: line 2: not a JSON object"
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(lines[0].encode() + b"\n" + b'{"x": "\xe9"}\n')
    with pytest.raises(JsonlError, match=r"latin1.jsonl: line 2: not UTF-8 text"):
        read_transcript(path)


def test_gap_in_seq() -> None:
    lines = lines_of(sample()[:10])
    del lines[6]  # seq 6
    error = rejected(lines)
    assert str(error) == "chat.jsonl: line 7: seq 7 follows seq 5 (gap)"
    assert (error.line, error.field) == (7, "seq")
    assert isinstance(error, TranscriptError)


def test_duplicate_seq() -> None:
    lines = lines_of(sample()[:10])
    lines.insert(5, lines[3])
    error = rejected(lines)
    assert str(error) == "chat.jsonl: line 6: seq 3 follows seq 4 (duplicate of line 4)"
    lines = lines_of(sample()[:10])
    lines.insert(5, lines[4])
    assert str(rejected(lines)) == "chat.jsonl: line 6: seq 4 follows seq 4 (duplicate of line 5)"


def test_wrong_chat_id() -> None:
    lines = lines_of(sample()[:10])
    chat_id = sample()[0].chat_id
    lines[8] = edit(lines[8], chat_id="someone-else")
    error = rejected(lines)
    assert str(error) == (
        f"chat.jsonl: line 9: chat_id: 'someone-else' is not this transcript's chat "
        f"{chat_id!r} (line 1)"
    )
    assert error.field == "chat_id"


def test_first_event_must_be_chat_started_at_seq_0() -> None:
    lines = lines_of(sample()[:10])
    error = rejected(lines[1:])
    assert str(error) == (
        "chat.jsonl: line 1: type: the first event must be chat_started, not 'message_posted'"
    )
    assert error.field == "type"
    shifted = [edit(line, seq=json.loads(line)["seq"] + 5) for line in lines]
    assert str(rejected(shifted)) == "chat.jsonl: line 1: seq: a transcript starts at seq 0, not 5"


def test_a_second_chat_started() -> None:
    lines = lines_of(sample()[:10])
    lines[4] = edit(lines[0], seq=4)
    assert str(rejected(lines)) == (
        "chat.jsonl: line 5: type: chat_started at seq 4 (a chat starts once)"
    )


def test_a_message_posted_as_someone_else() -> None:
    lines = lines_of(sample()[:11])
    assert json.loads(lines[10])["type"] == "message_posted"
    lines[10] = edit(lines[10], sender="tooly")
    error = rejected(lines)
    assert str(error) == (
        "chat.jsonl: line 11: message.sender: 'alice' is not the event's sender 'tooly'"
    )


def test_no_events() -> None:
    error = rejected(["", "  \n"])
    assert str(error) == "chat.jsonl: no events"
    assert error.line == 0


def test_a_bad_last_line_rejects_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(to_jsonl(sample()) + '{"type": "paused"}\n', encoding="utf-8")
    with pytest.raises(JsonlError, match=rf"line {len(sample()) + 1}: chat_id: Field required"):
        read_transcript(path)


def test_validate_transcript_names_events_or_lines() -> None:
    events = list(sample()[:6])
    del events[2]
    with pytest.raises(TranscriptError) as info:
        validate_transcript(events, source="store")
    assert str(info.value) == "store: event 3: seq 3 follows seq 1 (gap)"
    with pytest.raises(TranscriptError, match=r"^x: line 30: seq 3"):
        validate_transcript(events, source="x", lines=[10, 20, 30, 40, 50])
    with pytest.raises(ValueError, match="one line number per event"):
        validate_transcript(events, lines=[1])


def test_partial_logs() -> None:
    events = list(sample())
    middle = events[20:40]
    validate_transcript(middle, partial=True)
    assert read_transcript(lines_of(middle), partial=True) == middle
    with pytest.raises(TranscriptError, match="event 1: type: the first event must be"):
        validate_transcript(middle)
    with pytest.raises(TranscriptError, match=r"event 6: seq 26 follows seq 24 \(gap\)"):
        validate_transcript(middle[:5] + middle[6:], partial=True)
    with pytest.raises(TranscriptError, match=r"event 2: seq 20 follows seq 21 \(out of order\)"):
        validate_transcript([middle[1], middle[0]], partial=True)
    validate_transcript(events[:7], partial=True)  # a partial log may also start at the start


def test_read_jsonl_only_parses() -> None:
    lines = lines_of(sample()[:6])
    assert read_jsonl(lines[2:]) == list(sample()[2:6])
    with pytest.raises(JsonlError, match=r"^<jsonl>: line 2: type: unknown event type 'x'$"):
        read_jsonl([lines[0], edit(lines[1], type="x")])


# ---------------------------------------------------------------- property: one corruption


def corrupt(lines: list[str], kind: str, at: int) -> tuple[list[str], int] | None:
    """Corrupt ``lines`` (a valid log) once; return them and the index of the line to blame."""
    n = len(lines)
    out = list(lines)
    if kind == "truncate":
        out[at] = out[at][: len(out[at]) // 2]
    elif kind == "bad_type":
        out[at] = edit(out[at], type="no_such_event")
    elif kind == "drop_field":
        out[at] = drop(out[at], ("chat_id", "seq", "time", "sender")[at % 4])
    elif kind == "bad_time":
        out[at] = edit(out[at], time="2024-05-01T12:00:00")  # naive: no time zone
    elif kind == "gap":
        out[at] = edit(out[at], seq=at + 2)
    elif kind == "duplicate" and at >= 1:
        out[at] = edit(out[at], seq=at - 1)
    elif kind == "chat_id" and at >= 1:
        out[at] = edit(out[at], chat_id="other-chat")
    elif kind == "delete" and at < n - 1:
        del out[at]  # the line after it is the first to show the problem: it is now at ``at``
    elif kind == "repeat":
        out.insert(at + 1, out[at])
        at += 1
    elif kind == "swap" and at < n - 1:
        out[at], out[at + 1] = out[at + 1], out[at]
    elif kind == "forge" and json.loads(out[at])["type"] == "message_posted":
        out[at] = edit(out[at], sender="impostor")
    elif kind == "restart" and at >= 1:
        out[at] = edit(lines[0], seq=at)
    else:
        return None
    return out, at


KINDS = (
    "truncate",
    "bad_type",
    "drop_field",
    "bad_time",
    "gap",
    "duplicate",
    "chat_id",
    "delete",
    "repeat",
    "swap",
    "forge",
    "restart",
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(min_value=2, max_value=len(sample())),
    kind=st.sampled_from(KINDS),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    blanks=st.lists(st.sampled_from(["", "  ", "\t"]), max_size=8),
    blank_at=st.lists(st.integers(min_value=0), max_size=8),
)
def test_one_corruption_is_rejected_at_its_line(
    size: int, kind: str, where: float, blanks: list[str], blank_at: list[int]
) -> None:
    lines = lines_of(sample()[:size])  # any prefix of a real chat's log is a valid log
    read_transcript(lines)
    corrupted = corrupt(lines, kind, int(where * size))
    assume(corrupted is not None)  # the corruption fits the line it was aimed at
    assert corrupted is not None
    out, blame = corrupted
    # sprinkle blank lines; they count as lines but never as events
    file_lines = [(line, True) for line in out]
    for blank, position in zip(blanks, blank_at, strict=False):
        file_lines.insert(position % (len(file_lines) + 1), (blank, False))
    event_rows = [number for number, (_, real) in enumerate(file_lines, 1) if real]
    text = [line + "\n" for line, _ in file_lines]
    with pytest.raises(JsonlError) as info:
        read_transcript(text, name="t.jsonl")
    expected = event_rows[blame]
    assert info.value.line == expected, (kind, blame, str(info.value))
    assert str(info.value).startswith(f"t.jsonl: line {expected}: ")


# ---------------------------------------------------------------- continued chats


async def test_a_participant_added_between_runs_is_recorded_and_valid() -> None:
    chat = GroupChat([ScriptedAgent("al", ["hi"])], max_turns=1)
    await chat.run("first")
    await chat.add(ScriptedAgent("bo", ["hello"]))
    await chat.run("second")
    events = chat.events()
    types = [e.type for e in events]
    ended = types.index("chat_ended")
    assert types[ended + 1] == "participant_joined"
    validate_transcript(events)
    assert read_transcript(lines_of(events)) == events


def test_short_hand_built_logs_are_valid() -> None:
    log = Events()
    log.add(ChatStarted)
    paused = log.add(Paused, by="you")
    validate_transcript([paused], partial=True)
    ended = ChatEnded(chat_id="hand-1", seq=2, time=paused.time, sender="manager", reason="x")
    validate_transcript([*log.events, ended])
