"""The event schema: JSON round trips, UTC times, strict validation, immutability."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from operator import delitem, setitem
from pathlib import Path
from typing import Any, get_args, get_origin

import pydantic
import pytest

from groupchat.bus import EventBus
from groupchat.events import (
    EVENT_ADAPTER,
    MANAGER,
    BoolAnswer,
    ChatEnded,
    ChatStarted,
    ControlRequested,
    ErrorEvent,
    Event,
    EventBase,
    FactSheet,
    Handoff,
    HumanInput,
    HumanInputRequested,
    MessagePosted,
    ModelCall,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    PlanReview,
    ProgressLedger,
    Replan,
    Resumed,
    SeatClaimed,
    SeatReleased,
    SelectorAttempt,
    SpeakerSelected,
    TaskLedger,
    TextAnswer,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
    dump_event,
    parse_event,
    without_surrogates,
)
from groupchat.frozen import FrozenDict
from groupchat.messages import Message, ToolCallPart, ToolResultPart, Usage

ROOT = Path(__file__).resolve().parent.parent

T0 = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def base(seq: int, sender: str = MANAGER) -> dict[str, Any]:
    return {"chat_id": "chat-1", "seq": seq, "time": T0 + timedelta(seconds=seq), "sender": sender}


ALICE = ParticipantInfo(name="alice", description="writes code", kind="LLMAgent")
HUMAN = ParticipantInfo(name="hana", description="the user", kind="HumanParticipant", human=True)

RICH_MESSAGE = Message(
    id="m7",
    sender="alice",
    content="Here is the plan:\n\n- step **one**\n- step two ✓\n\n@hana please check",
    kind="turn",
    parts=(
        ToolCallPart(
            call_id="call-1",
            name="search",
            arguments={"query": "pydantic", "limit": 3, "filters": {"lang": ["py", "rs"]}},
        ),
        ToolResultPart(call_id="call-1", name="search", content="3 results", is_error=False),
        ToolCallPart(call_id="call-2", name="run", arguments={}),
        ToolResultPart(call_id="call-2", name="run", content="Traceback ...", is_error=True),
    ),
    mentions=("hana",),
    interrupted=True,
    usage=Usage(input_tokens=1200, output_tokens=345),
)


def samples() -> list[EventBase]:
    """One event of every type, with non-default values wherever the schema allows."""
    return [
        ChatStarted(
            **base(0),
            task="Write a haiku",
            participants=(ALICE, HUMAN),
            policy="round_robin",
            termination="MaxMessages(10)",
            metadata={"team": "demo", "seed": 42, "tags": ["a", "b"], "nested": {"x": None}},
        ),
        ParticipantJoined(**base(1), participant=HUMAN),
        ParticipantLeft(**base(2), name="bob", reason="timed out"),
        SpeakerSelected(
            **base(3),
            speaker="alice",
            candidates=("alice", "hana"),
            reason="next in order",
            policy="round_robin",
            turn=1,
        ),
        TurnStarted(**base(4), speaker="alice", message_id="m7", turn=1),
        TextDelta(**base(5, "alice"), message_id="m7", text="Here is\n the “plan”"),
        ToolCall(
            **base(6, "alice"),
            message_id="m7",
            call_id="call-1",
            name="search",
            arguments={"query": "pydantic", "limit": 3},
        ),
        ToolResult(
            **base(7, "alice"),
            message_id="m7",
            call_id="call-1",
            name="search",
            content="boom",
            is_error=True,
        ),
        MessagePosted(**base(8, "alice"), message=RICH_MESSAGE),
        ModelCall(
            **base(8, "alice"),
            message_id="m7",
            model="openai:gpt-4.1-mini",
            started=T0,
            usage=Usage(input_tokens=12, output_tokens=3),
            error="TimeoutError: no answer",
        ),
        HumanInputRequested(
            **base(9),
            participant="hana",
            request="select_speaker",
            prompt="Who next?",
            choices=("alice", "hana"),
            timeout=30.5,
        ),
        TurnSkipped(**base(10), speaker="hana", message_id="m8", reason="timed out"),
        SelectorAttempt(
            **base(10),
            policy="llm_selector",
            attempt=2,
            answer="I think Alice",
            accepted=False,
            problem="ambiguous",
            usage=Usage(input_tokens=50, output_tokens=3),
            billed_to="selector",
            model="openai:gpt-4.1-mini",
        ),
        Handoff(**base(10), target="hana", note="over to you"),
        Paused(**base(11), by="hana"),
        Resumed(**base(12), by="hana"),
        ErrorEvent(
            **base(13, "alice"),
            error="RuntimeError: x",
            detail="turn",
            participant="alice",
            fatal=True,
        ),
        TaskLedger(
            **base(13),
            revision=1,
            task="Write a haiku",
            team=(ALICE, HUMAN),
            facts=FactSheet(
                given=("5-7-5 syllables",),
                to_look_up=("a kigo for May",),
                to_derive=("the syllable count",),
                guesses=("hana likes cats",),
            ),
            plan=("alice drafts", "hana approves"),
            cause="stall",
            reason="stalled: alice repeats herself",
        ),
        ProgressLedger(
            **base(13),
            round=4,
            satisfied=BoolAnswer(answer=False, reason="no haiku yet"),
            in_loop=BoolAnswer(answer=True, reason="the same draft twice"),
            making_progress=BoolAnswer(answer=False, reason="nothing new"),
            next_speaker=TextAnswer(answer="hana", reason="a person must decide"),
            instruction=TextAnswer(answer="Pick a season, please.", reason="unblocks alice"),
            stalls=2,
            max_stalls=3,
        ),
        Replan(**base(13), reason="stalled 4 rounds", stalls=4, resets=2, max_resets=3),
        PlanReview(**base(13), reviewer="hana", revision=2, decision="revise", feedback="shorter"),
        HumanInput(**base(15, "hana"), text="a line from hana"),
        ControlRequested(**base(16, "hana"), command="steer", name="alice"),
        SeatClaimed(**base(17, "hana"), holder="joined terminal 1"),
        SeatReleased(**base(18, "hana"), holder="joined terminal 1"),
        ChatEnded(
            **base(14),
            reason="hana: done",
            status="stopped",
            messages=3,
            usage=Usage(input_tokens=5000, output_tokens=700),
            usage_by={
                "alice": Usage(input_tokens=4950, output_tokens=697),
                "selector": Usage(input_tokens=50, output_tokens=3),
            },
        ),
    ]


SAMPLES = samples()


def sample_id(event: EventBase) -> str:
    return str(event.type)  # type: ignore[attr-defined]


def union_members() -> set[type[Any]]:
    union, _field = get_args(Event)
    return set(get_args(union))


# --------------------------------------------------------------------------- coverage


def test_samples_cover_every_event_type() -> None:
    members = union_members()
    assert len(members) == 26
    assert {type(e) for e in SAMPLES} == members
    tags = [e.type for e in SAMPLES]  # type: ignore[attr-defined]
    assert len(set(tags)) == len(tags)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
def test_dump_parse_round_trip(event: EventBase) -> None:
    line = dump_event(event)
    parsed = parse_event(line)
    assert type(parsed) is type(event)
    assert parsed == event
    # bytes work too, and dumping again gives the same canonical line
    assert parse_event(line.encode()) == event
    assert dump_event(parsed) == line


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
def test_dump_is_one_line_of_json_with_every_field(event: EventBase) -> None:
    line = dump_event(event)
    assert "\n" not in line
    data = json.loads(line)
    assert data["type"] == event.type  # type: ignore[attr-defined]
    fields = type(event).model_fields
    left_out = {  # optional fields added later are left out at their default, as old lines are
        name
        for name, field in fields.items()
        if field.exclude_if is not None and field.exclude_if(getattr(event, name))
    }
    assert set(data) == set(fields) - left_out
    assert data["chat_id"] == "chat-1"
    assert data["seq"] == event.seq


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
def test_event_adapter_round_trip(event: EventBase) -> None:
    assert EVENT_ADAPTER.validate_json(EVENT_ADAPTER.dump_json(event)) == event  # type: ignore[arg-type]
    as_json_dict = EVENT_ADAPTER.dump_python(event, mode="json")  # type: ignore[arg-type]
    parsed = EVENT_ADAPTER.validate_python(as_json_dict)
    assert type(parsed) is type(event)
    assert parsed == event
    assert EVENT_ADAPTER.dump_json(event).decode() == dump_event(event)  # type: ignore[arg-type]


def test_message_posted_keeps_tool_parts_and_usage() -> None:
    event = MessagePosted(**base(3, "alice"), message=RICH_MESSAGE)
    parsed = parse_event(dump_event(event))
    assert isinstance(parsed, MessagePosted)
    message = parsed.message
    assert message == RICH_MESSAGE
    assert [type(p) for p in message.parts] == [
        ToolCallPart,
        ToolResultPart,
        ToolCallPart,
        ToolResultPart,
    ]
    call = message.parts[0]
    assert isinstance(call, ToolCallPart)
    assert call.arguments == {"query": "pydantic", "limit": 3, "filters": {"lang": ["py", "rs"]}}
    failed = message.parts[3]
    assert isinstance(failed, ToolResultPart)
    assert failed.is_error is True
    assert message.usage == Usage(input_tokens=1200, output_tokens=345)
    assert message.usage is not None and message.usage.total_tokens == 1545
    assert message.mentions == ("hana",)
    assert message.interrupted is True
    assert message.content == RICH_MESSAGE.content


def test_defaults_round_trip() -> None:
    minimal: list[EventBase] = [
        ChatStarted(**base(0)),
        Paused(**base(1)),
        Resumed(**base(2)),
        ChatEnded(**base(3), reason="done"),
        MessagePosted(**base(4), message=Message(id="m", sender=MANAGER, content="")),
    ]
    for event in minimal:
        assert parse_event(dump_event(event)) == event


async def test_events_stamped_by_the_bus_round_trip() -> None:
    bus = EventBus()
    chat = bus.open("live")
    pub = bus.publisher(chat, "alice")
    published = [
        await pub.emit(TextDelta, message_id="m1", text="hi"),
        await pub.emit(MessagePosted, message=RICH_MESSAGE),
    ]
    for event in published:
        assert parse_event(dump_event(event)) == event


# --------------------------------------------------------------------------- times


async def test_bus_times_are_utc_and_survive_a_round_trip() -> None:
    bus = EventBus()
    chat = bus.open("c")
    event = await bus.publisher(chat, "alice").emit(Paused)
    assert event.time.utcoffset() == timedelta(0)
    before = datetime.now(UTC)
    assert abs(before - event.time) < timedelta(minutes=1)

    data = json.loads(dump_event(event))
    assert data["time"].endswith(("Z", "+00:00"))
    parsed = parse_event(dump_event(event))
    assert parsed.time == event.time
    assert parsed.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
def test_parsed_times_are_utc(event: EventBase) -> None:
    parsed = parse_event(dump_event(event))
    assert parsed.time.tzinfo is not None
    assert parsed.time.utcoffset() == timedelta(0)
    assert parsed.time == event.time


def test_a_time_with_another_offset_keeps_its_instant() -> None:
    data = json.loads(dump_event(Paused(**base(0))))
    data["time"] = "2024-05-01T14:30:15.123456+02:00"
    parsed = parse_event(json.dumps(data))
    assert parsed.time == T0
    assert parsed.time.astimezone(UTC) == T0


def test_a_naive_time_is_not_accepted_as_is() -> None:
    """Rejecting a naive time and reading it as UTC are both fine; keeping it naive is not."""

    def check(build: Callable[[], EventBase]) -> None:
        try:
            event = build()
        except pydantic.ValidationError as exc:
            assert any(err["loc"][-1] == "time" for err in exc.errors())
            return
        assert event.time.tzinfo is not None
        assert event.time.utcoffset() == timedelta(0)
        assert event.time == datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)

    data = json.loads(dump_event(Paused(**base(0))))
    data["time"] = "2024-05-01T12:30:15"
    check(lambda: parse_event(json.dumps(data)))
    check(lambda: Paused(chat_id="c", seq=0, time=datetime(2024, 5, 1, 12, 30, 15), sender="x"))


def test_constructing_with_an_aware_non_utc_time_keeps_the_instant() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = Paused(chat_id="c", seq=0, time=T0.astimezone(plus_two), sender="x")
    assert event.time == T0


# --------------------------------------------------------------------------- rejection


def _dict(event: EventBase) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(dump_event(event))
    return data


def _errors(data: dict[str, Any]) -> pydantic.ValidationError:
    with pytest.raises(pydantic.ValidationError) as info:
        parse_event(json.dumps(data))
    return info.value


def test_unknown_type_is_rejected() -> None:
    data = _dict(Paused(**base(0)))
    data["type"] = "exploded"
    exc = _errors(data)
    (err,) = exc.errors()
    assert err["type"] == "union_tag_invalid"
    assert "'type'" in str(exc)
    assert "exploded" in str(exc)
    with pytest.raises(pydantic.ValidationError):
        EVENT_ADAPTER.validate_python(data)


def test_missing_type_is_rejected() -> None:
    data = _dict(Paused(**base(0)))
    del data["type"]
    exc = _errors(data)
    (err,) = exc.errors()
    assert err["type"] == "union_tag_not_found"
    assert "'type'" in str(exc)


def _required_cases() -> list[Any]:
    cases = []
    for event in SAMPLES:
        for name, field in type(event).model_fields.items():
            if field.is_required():
                cases.append(pytest.param(event, name, id=f"{sample_id(event)}-{name}"))
    return cases


@pytest.mark.parametrize(("event", "field"), _required_cases())
def test_missing_required_field_is_rejected_by_name(event: EventBase, field: str) -> None:
    data = _dict(event)
    del data[field]
    exc = _errors(data)
    assert [(err["type"], err["loc"]) for err in exc.errors()] == [
        ("missing", (sample_id(event), field))
    ]
    assert field in str(exc)


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
def test_extra_field_is_rejected_by_name(event: EventBase) -> None:
    data = _dict(event)
    data["colour"] = "red"
    exc = _errors(data)
    assert [(err["type"], err["loc"]) for err in exc.errors()] == [
        ("extra_forbidden", (sample_id(event), "colour"))
    ]
    assert "colour" in str(exc)


@pytest.mark.parametrize(
    ("path", "value", "error_type"),
    [
        (("message", "usage", "input_tokens"), -1, "greater_than_equal"),
        (("message", "parts", 0, "kind"), "tool_telepathy", "union_tag_invalid"),
        (("message", "kind"), "shout", "literal_error"),
        (("message", "secret"), "x", "extra_forbidden"),
        (("message", "parts", 1, "call_id"), None, "string_type"),
    ],
    ids=["usage", "part-kind", "message-kind", "message-extra", "part-field"],
)
def test_invalid_nested_message_is_rejected_by_path(
    path: tuple[Any, ...], value: Any, error_type: str
) -> None:
    data = _dict(MessagePosted(**base(0, "alice"), message=RICH_MESSAGE))
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    exc = _errors(data)
    errors = exc.errors()
    assert len(errors) == 1
    assert errors[0]["type"] == error_type
    loc = errors[0]["loc"]
    assert loc[0] == "message_posted"
    # The error names the whole path to the bad field (a tagged union adds its tag in between).
    named = path[:-1] if error_type == "union_tag_invalid" else path
    remaining = iter(loc[1:])
    assert all(any(step == item for item in remaining) for step in named), loc
    if error_type == "union_tag_invalid":
        assert "tool_telepathy" in str(exc)
    else:
        assert loc[-1] == path[-1]
        assert str(path[-1]) in str(exc)


@pytest.mark.parametrize(
    ("event", "field", "value", "error_type"),
    [
        (Paused(**base(0)), "seq", -1, "greater_than_equal"),
        (Paused(**base(0)), "seq", "first", "int_parsing"),
        (Paused(**base(0)), "time", "yesterday", "datetime_from_date_parsing"),
        (ChatEnded(**base(0), reason="r"), "status", "exploded", "literal_error"),
        (HumanInputRequested(**base(0), participant="h"), "request", "dance", "literal_error"),
        (
            ToolResult(**base(0), message_id="m", call_id="c", name="n", content="x"),
            "content",
            None,
            "string_type",
        ),
    ],
    ids=["negative-seq", "text-seq", "bad-time", "bad-status", "bad-request", "null-content"],
)
def test_invalid_value_is_rejected_by_name(
    event: EventBase, field: str, value: Any, error_type: str
) -> None:
    data = _dict(event)
    data[field] = value
    exc = _errors(data)
    (err,) = exc.errors()
    assert err["loc"] == (sample_id(event), field)
    assert err["type"] == error_type
    assert field in str(exc)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        TextDelta(chat_id="c", seq=0, time=T0, sender="x", message_id="m")  # type: ignore[call-arg]
    assert [err["loc"] for err in info.value.errors()] == [("text",)]
    with pytest.raises(pydantic.ValidationError) as info:
        Paused(chat_id="c", seq=0, time=T0, sender="x", type="resumed")  # type: ignore[arg-type]
    assert [err["loc"] for err in info.value.errors()] == [("type",)]


# --------------------------------------------------------------------------- immutability


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
@pytest.mark.parametrize("field", ["chat_id", "seq", "time", "sender", "type"])
def test_events_are_frozen(event: EventBase, field: str) -> None:
    before = dump_event(event)
    with pytest.raises(pydantic.ValidationError) as info:
        setattr(event, field, getattr(event, field))
    assert info.value.errors()[0]["type"] == "frozen_instance"
    assert dump_event(event) == before


def test_nested_models_are_frozen_too() -> None:
    posted = MessagePosted(**base(0, "alice"), message=RICH_MESSAGE)
    started = SAMPLES[0]
    assert isinstance(started, ChatStarted)
    with pytest.raises(pydantic.ValidationError):
        posted.message.content = "rewritten"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        posted.message.parts[0].name = "rm -rf"  # type: ignore[misc]
    assert posted.message.usage is not None
    with pytest.raises(pydantic.ValidationError):
        posted.message.usage.input_tokens = 0  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        started.participants[0].human = True  # type: ignore[misc]
    with pytest.raises((TypeError, AttributeError)):
        started.participants.append(HUMAN)  # type: ignore[attr-defined]
    assert posted.message == RICH_MESSAGE


def test_sequence_fields_are_tuples_after_parsing() -> None:
    parsed = parse_event(dump_event(SAMPLES[0]))
    assert isinstance(parsed, ChatStarted)
    assert isinstance(parsed.participants, tuple)
    selected = parse_event(dump_event(SAMPLES[3]))
    assert isinstance(selected, SpeakerSelected)
    assert selected.candidates == ("alice", "hana")


async def test_one_subscriber_cannot_change_what_another_sees() -> None:
    bus = EventBus()
    chat = bus.open("c")
    one, two = bus.subscribe(chat), bus.subscribe(chat)
    await bus.publisher(chat, "alice").emit(
        ToolCall, message_id="m", call_id="c1", name="rm", arguments={"path": "/tmp/x"}
    )
    mine = await anext(one)
    assert isinstance(mine, ToolCall)
    with pytest.raises(TypeError):
        mine.arguments["path"] = "/"  # type: ignore[index]
    theirs = await anext(two)
    assert isinstance(theirs, ToolCall)
    assert theirs.arguments == {"path": "/tmp/x"}
    assert theirs is mine  # one object for every subscriber: that is why it must be frozen
    copied = theirs.arguments.thaw()  # a copy of one's own to change
    copied["path"] = "/"
    assert mine.arguments == {"path": "/tmp/x"}


def _mutable_parts(tp: Any, seen: set[type[Any]]) -> list[str]:
    """Where a field type lets a value change in place: a mutable container, a bare ``Any``, or
    a model that is not frozen."""
    origin = get_origin(tp) or tp
    if origin in (dict, list, set, bytearray):
        return [repr(tp)]
    if origin is FrozenDict:  # its values are frozen on the way in, ``Any`` included
        return [p for arg in get_args(tp) if arg is not Any for p in _mutable_parts(arg, seen)]
    if tp is Any:
        return ["Any"]
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        if tp in seen:
            return []
        seen.add(tp)
        if not tp.model_config.get("frozen"):
            return [f"{tp.__name__} is not frozen"]
        return [
            f"{tp.__name__}.{name}: {problem}"
            for name, field in tp.model_fields.items()
            for problem in _mutable_parts(field.annotation, seen)
        ]
    return [p for arg in get_args(tp) for p in _mutable_parts(arg, seen)]


def test_no_event_field_can_change_in_place() -> None:
    class Loose(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(frozen=True)
        data: dict[str, Any] | None = None
        items: tuple[list[int], ...] = ()

    assert len(_mutable_parts(Loose, set())) == 2  # the check finds what it looks for
    problems = [p for member in union_members() for p in _mutable_parts(member, set())]
    assert problems == []


def _tool_call(arguments: dict[str, Any]) -> ToolCall:
    return ToolCall(**base(6, "alice"), message_id="m7", call_id="c", name="n", arguments=arguments)


NESTED_ARGUMENTS: dict[str, Any] = {"path": "/tmp/x", "opts": {"force": False, "globs": ["*.py"]}}

MUTATIONS: list[tuple[str, EventBase, Callable[[Any], Any]]] = [
    ("tool-call", _tool_call(NESTED_ARGUMENTS), lambda e: e.arguments),
    ("chat-started", SAMPLES[0], lambda e: e.metadata),
    (
        "tool-call-part",
        MessagePosted(**base(8, "alice"), message=RICH_MESSAGE),
        lambda e: e.message.parts[0].arguments,
    ),
    ("chat-ended", SAMPLES[-1], lambda e: e.usage_by),
]


@pytest.mark.parametrize(
    ("event", "mapping_of"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_every_mapping_field_refuses_changes_at_every_depth(
    event: EventBase, mapping_of: Callable[[Any], Any]
) -> None:
    before = dump_event(event)
    mapping = mapping_of(event)
    assert isinstance(mapping, FrozenDict) and mapping
    key = next(iter(mapping))
    with pytest.raises(TypeError):
        setitem(mapping, key, "changed")
    with pytest.raises(TypeError):
        setitem(mapping, "added", 1)
    with pytest.raises(TypeError):
        delitem(mapping, key)
    nested = [v for v in mapping.values() if isinstance(v, FrozenDict | tuple) and v]
    for value in nested:
        inner_key = next(iter(value)) if isinstance(value, FrozenDict) else 0
        with pytest.raises(TypeError):
            setitem(value, inner_key, "changed")
    assert dump_event(event) == before


def test_each_mapping_field_has_nested_values_to_protect() -> None:
    nested_in = {
        name: [v for v in mapping_of(event).values() if isinstance(v, FrozenDict | tuple)]
        for name, event, mapping_of in MUTATIONS
        if name != "chat-ended"  # its values are frozen Usage models
    }
    assert all(nested_in.values()), nested_in
    ended = SAMPLES[-1]
    assert isinstance(ended, ChatEnded)
    with pytest.raises(pydantic.ValidationError):
        ended.usage_by["alice"].input_tokens = 0  # type: ignore[misc]


def test_the_caller_keeps_its_own_dict() -> None:
    arguments: dict[str, Any] = {"opts": {"globs": ["*.py"]}}
    event = _tool_call(arguments)
    arguments["opts"]["globs"].append("*.rs")
    arguments["extra"] = 1
    assert event.arguments == {"opts": {"globs": ["*.py"]}}


# The canonical lines of these events as written before arguments were frozen.
GOLDEN_LINES = [
    '{"chat_id":"c","seq":1,"time":"2024-05-01T12:30:15.123456Z","sender":"alice",'
    '"type":"tool_call","message_id":"m1","call_id":"k1","name":"search","arguments":'
    '{"query":"naïve “quotes” ✓ 🙂","limit":3,"ratio":0.1,"big":100000000000000000000,'
    '"neg":-1.5e-7,"flag":false,"none":null,"filters":{"lang":["py","rs"],"empty":{},'
    '"deep":[[1,[2,{"x":[]}]]]}}}',
    '{"chat_id":"c","seq":2,"time":"2024-05-01T12:30:15.123456Z","sender":"alice",'
    '"type":"tool_call","message_id":"m1","call_id":"k2","name":"run","arguments":{}}',
    '{"chat_id":"c","seq":0,"time":"2024-05-01T12:30:15.123456Z","sender":"manager",'
    '"type":"chat_started","task":null,"participants":[],"policy":"","termination":null,'
    '"metadata":{"team":"t","tags":["a","b"],"nested":{"x":null,"y":[1.0,2]}}}',
    '{"chat_id":"c","seq":9,"time":"2024-05-01T12:30:15.123456Z","sender":"manager",'
    '"type":"chat_ended","reason":"done","status":"completed","messages":0,"usage":'
    '{"input_tokens":0,"output_tokens":0},"usage_by":{"alice":{"input_tokens":3,'
    '"output_tokens":4},"selector":{"input_tokens":1,"output_tokens":0}}}',
    '{"chat_id":"c","seq":3,"time":"2024-05-01T12:30:15.123456Z","sender":"alice",'
    '"type":"message_posted","message":{"id":"m1","sender":"alice","content":"hi",'
    '"kind":"turn","parts":[{"kind":"tool_call","call_id":"k1","name":"search","arguments":'
    '{"q":["a",{"b":[1]}]}}],"mentions":[],"interrupted":false,"usage":null}}',
]


def _golden_events() -> list[EventBase]:
    t = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    b = {"chat_id": "c", "time": t, "sender": "alice"}
    m = {"chat_id": "c", "time": t, "sender": MANAGER}
    return [
        ToolCall(
            seq=1,
            **b,
            message_id="m1",
            call_id="k1",
            name="search",
            arguments={
                "query": "naïve “quotes” ✓ 🙂",
                "limit": 3,
                "ratio": 0.1,
                "big": 10**20,
                "neg": -1.5e-7,
                "flag": False,
                "none": None,
                "filters": {"lang": ["py", "rs"], "empty": {}, "deep": [[1, [2, {"x": []}]]]},
            },
        ),
        ToolCall(seq=2, **b, message_id="m1", call_id="k2", name="run"),
        ChatStarted(
            seq=0,
            **m,
            metadata={"team": "t", "tags": ["a", "b"], "nested": {"x": None, "y": [1.0, 2]}},
        ),
        ChatEnded(
            seq=9,
            **m,
            reason="done",
            usage_by={
                "alice": Usage(input_tokens=3, output_tokens=4),
                "selector": Usage(input_tokens=1),
            },
        ),
        MessagePosted(
            seq=3,
            **b,
            message=Message(
                id="m1",
                sender="alice",
                content="hi",
                parts=(
                    ToolCallPart(call_id="k1", name="search", arguments={"q": ["a", {"b": [1]}]}),
                ),
            ),
        ),
    ]


@pytest.mark.parametrize("index", range(len(GOLDEN_LINES)))
def test_the_json_of_nested_values_is_what_it_was(index: int) -> None:
    line, event = GOLDEN_LINES[index], _golden_events()[index]
    assert dump_event(event) == line
    parsed = parse_event(line)
    assert parsed == event and hash(parsed) == hash(event)
    assert dump_event(parsed) == line
    assert EVENT_ADAPTER.validate_python(json.loads(line)) == event
    assert parsed.model_dump(mode="json") == json.loads(line)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "transcripts" / "samples").glob("*.jsonl")), ids=str
)
def test_sample_transcripts_round_trip_byte_for_byte(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        assert dump_event(parse_event(line)) == line


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
def test_every_event_is_hashable(event: EventBase) -> None:
    again = parse_event(dump_event(event))
    assert again == event and hash(again) == hash(event)
    assert len({event, again}) == 1


def test_lone_surrogates_in_nested_arguments_are_replaced_and_stay_frozen() -> None:
    event = _tool_call({"name": "bad\udcff", "items": ["ok", {"x": "\ud800"}]})
    line = dump_event(event)
    assert "\\udcff" not in line
    cleaned = without_surrogates(event)
    assert cleaned.arguments == {"name": "bad\ufffd", "items": ["ok", {"x": "\ufffd"}]}
    assert isinstance(cleaned.arguments["items"][1], FrozenDict)
    assert parse_event(line) == cleaned
