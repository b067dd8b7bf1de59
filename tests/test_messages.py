"""Messages: @mention parsing, token usage arithmetic, message validation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from groupchat.messages import Message, ToolCallPart, ToolResultPart, Usage, parse_mentions

TEAM = ("alice", "Bob", "code-reviewer", "data_analyst", "agent2", "bobby")

# --------------------------------------------------------------------------- parse_mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # plain mentions, anywhere in the text
        ("@alice", ("alice",)),
        ("hi @alice", ("alice",)),
        ("over to you\n@alice", ("alice",)),
        ("(@alice)", ("alice",)),
        ('"@alice"', ("alice",)),
        ("[@alice]", ("alice",)),
        ("cc:@alice", ("alice",)),
        # case-insensitive, reported in the participant's own spelling
        ("@ALICE", ("alice",)),
        ("@bob", ("Bob",)),
        ("@bOB", ("Bob",)),
        ("@Code-Reviewer", ("code-reviewer",)),
        # punctuation right after the name
        ("thanks @Bob, and", ("Bob",)),
        ("ask @Bob.", ("Bob",)),
        ("@Bob: go", ("Bob",)),
        ("@Bob; then", ("Bob",)),
        ("@Bob!", ("Bob",)),
        ("@Bob?", ("Bob",)),
        ("@Bob's idea", ("Bob",)),
        ("@Bob…", ("Bob",)),
        ("@Bob— wait", ("Bob",)),
        ("@Bob- wait", ("Bob",)),
        ("@Bob_ wait", ("Bob",)),
        ("@code-reviewer.", ("code-reviewer",)),
        ("@data_analyst,", ("data_analyst",)),
        ("@agent2!", ("agent2",)),
        # names are whole words: a longer or different word is not a mention
        ("@bobby", ("bobby",)),
        ("@bobcat", ()),
        ("@Bob-smith", ()),
        ("@alice2", ()),
        ("@agent", ()),
        ("@code", ()),
        # unknown names are ignored, known ones kept
        ("@carol", ()),
        ("@carol and @alice", ("alice",)),
        # e-mail addresses and @ inside words are not mentions
        ("mail a@alice.com", ()),
        ("write to alice@bob.example", ()),
        ("bob@alice", ()),
        ("x_@alice", ()),
        ("agent2@Bob.org or @alice", ("alice",)),
        # a bare @ or a space after it is nothing
        ("@", ()),
        ("@ alice", ()),
        ("email me @ home", ()),
        ("no mentions here", ()),
        ("", ()),
        # dedup (in any spelling) and order of first mention
        ("@alice @alice", ("alice",)),
        ("@bob @Bob @BOB", ("Bob",)),
        ("@bobby then @alice then @Bob then @bobby", ("bobby", "alice", "Bob")),
        (
            "@agent2 @data_analyst @code-reviewer @alice",
            ("agent2", "data_analyst", "code-reviewer", "alice"),
        ),
    ],
)
def test_parse_mentions(text: str, expected: tuple[str, ...]) -> None:
    assert parse_mentions(text, TEAM) == expected


def test_parse_mentions_accepts_any_iterable_of_names() -> None:
    def names() -> Iterator[str]:
        yield from ("alice", "Bob")

    text = "@bob and @ALICE"
    assert parse_mentions(text, names()) == ("Bob", "alice")
    assert parse_mentions(text, {"alice": 1, "Bob": 2}) == ("Bob", "alice")
    assert parse_mentions(text, ["alice", "Bob"]) == ("Bob", "alice")
    assert parse_mentions(text, frozenset({"alice", "Bob"})) == ("Bob", "alice")


def test_parse_mentions_without_names_finds_nothing() -> None:
    assert parse_mentions("@alice @bob", []) == ()


def test_parse_mentions_returns_a_tuple() -> None:
    result = parse_mentions("@alice", TEAM)
    assert isinstance(result, tuple)


def test_parse_mentions_of_a_name_ending_in_separator() -> None:
    # A participant may be called "bob_" next to "bob"; each is found by its own name.
    assert parse_mentions("@bob_ and @bob", ["bob", "bob_"]) == ("bob_", "bob")


def test_parse_mentions_prefers_the_exact_spelling() -> None:
    assert parse_mentions("@Bob, then @bob", ["Bob", "bob"]) == ("Bob", "bob")


# --------------------------------------------------------------------------- Usage


def test_usage_defaults_to_zero() -> None:
    usage = Usage()
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (0, 0, 0)


def test_usage_total_is_input_plus_output() -> None:
    assert Usage(input_tokens=120, output_tokens=34).total_tokens == 154
    assert Usage(input_tokens=7).total_tokens == 7
    assert Usage(output_tokens=9).total_tokens == 9


def test_usage_addition() -> None:
    a = Usage(input_tokens=100, output_tokens=20)
    b = Usage(input_tokens=5, output_tokens=7)
    c = Usage(input_tokens=1, output_tokens=1)
    total = a + b
    assert total == Usage(input_tokens=105, output_tokens=27)
    assert total.total_tokens == a.total_tokens + b.total_tokens == 132
    # operands are untouched, a new object comes back
    assert a == Usage(input_tokens=100, output_tokens=20)
    assert b == Usage(input_tokens=5, output_tokens=7)
    assert total is not a and total is not b
    # commutative, associative, zero is neutral
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert a + Usage() == a == Usage() + a


def test_usage_totals_over_many_calls() -> None:
    calls = [Usage(input_tokens=i, output_tokens=2 * i) for i in range(1, 11)]
    total = sum(calls, Usage())
    assert total == Usage(input_tokens=55, output_tokens=110)
    assert total.total_tokens == 165
    running = Usage()
    for call in calls:
        running += call
    assert running == total


@pytest.mark.parametrize(
    "fields",
    [
        {"input_tokens": -1},
        {"output_tokens": -5},
        {"input_tokens": "many"},
        {"total_tokens": 3},
    ],
)
def test_usage_rejects_bad_counts(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        Usage(**fields)
    (name,) = fields
    assert info.value.errors()[0]["loc"] == (name,)


def test_usage_is_frozen() -> None:
    usage = Usage(input_tokens=1)
    with pytest.raises(pydantic.ValidationError):
        usage.input_tokens = 2  # type: ignore[misc]
    assert usage.input_tokens == 1


def test_usage_json_round_trip() -> None:
    usage = Usage(input_tokens=3, output_tokens=4)
    assert Usage.model_validate_json(usage.model_dump_json()) == usage


# --------------------------------------------------------------------------- Message


def test_message_defaults() -> None:
    message = Message(id="m1", sender="alice", content="hello")
    assert message.kind == "turn"
    assert message.parts == ()
    assert message.mentions == ()
    assert message.interrupted is False
    assert message.usage is None


def test_message_parses_parts_by_kind() -> None:
    message = Message.model_validate(
        {
            "id": "m1",
            "sender": "alice",
            "content": "",
            "kind": "interjection",
            "parts": [
                {"kind": "tool_call", "call_id": "c1", "name": "ls", "arguments": {"path": "."}},
                {"kind": "tool_result", "call_id": "c1", "name": "ls", "content": "a b"},
            ],
            "mentions": ["bob"],
            "usage": {"input_tokens": 1, "output_tokens": 2},
        }
    )
    assert message.parts == (
        ToolCallPart(call_id="c1", name="ls", arguments={"path": "."}),
        ToolResultPart(call_id="c1", name="ls", content="a b"),
    )
    assert isinstance(message.parts, tuple)
    assert message.mentions == ("bob",)
    assert message.usage == Usage(input_tokens=1, output_tokens=2)
    assert Message.model_validate_json(message.model_dump_json()) == message


@pytest.mark.parametrize("kind", ["task", "turn", "interjection"])
def test_message_kinds(kind: str) -> None:
    assert Message(id="m", sender="s", content="c", kind=kind).kind == kind  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"sender": "s", "content": "c"}, ("id",)),
        ({"id": "m", "content": "c"}, ("sender",)),
        ({"id": "m", "sender": "s"}, ("content",)),
        ({"id": "m", "sender": "s", "content": "c", "kind": "shout"}, ("kind",)),
        ({"id": "m", "sender": "s", "content": "c", "colour": "red"}, ("colour",)),
        ({"id": "m", "sender": "s", "content": None}, ("content",)),
        (
            {"id": "m", "sender": "s", "content": "c", "usage": {"input_tokens": -1}},
            ("usage", "input_tokens"),
        ),
        (
            {"id": "m", "sender": "s", "content": "c", "parts": [{"kind": "magic"}]},
            ("parts", 0),
        ),
        (
            {"id": "m", "sender": "s", "content": "c", "parts": [{"kind": "tool_call"}]},
            ("parts", 0, "tool_call", "call_id"),
        ),
        (
            {
                "id": "m",
                "sender": "s",
                "content": "c",
                "parts": [
                    {"kind": "tool_result", "call_id": "x", "name": "n", "content": "r", "extra": 1}
                ],
            },
            ("parts", 0, "tool_result", "extra"),
        ),
    ],
    ids=[
        "no-id",
        "no-sender",
        "no-content",
        "bad-kind",
        "extra-field",
        "null-content",
        "negative-usage",
        "unknown-part",
        "part-missing-field",
        "part-extra-field",
    ],
)
def test_message_validation_names_the_bad_field(
    fields: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        Message.model_validate(fields)
    assert loc in [err["loc"] for err in info.value.errors()]


def test_message_is_frozen() -> None:
    message = Message(
        id="m", sender="alice", content="hi", parts=(ToolCallPart(call_id="c", name="n"),)
    )
    for field, value in [("sender", "mallory"), ("content", "bye"), ("interrupted", True)]:
        with pytest.raises(pydantic.ValidationError):
            setattr(message, field, value)
    with pytest.raises(pydantic.ValidationError):
        message.parts[0].name = "other"  # type: ignore[misc]
    assert message == Message(
        id="m", sender="alice", content="hi", parts=(ToolCallPart(call_id="c", name="n"),)
    )


def test_tool_result_part_defaults_to_success() -> None:
    part = ToolResultPart(call_id="c", name="n", content="ok")
    assert part.is_error is False
    assert part.kind == "tool_result"
    assert ToolCallPart(call_id="c", name="n").arguments == {}
