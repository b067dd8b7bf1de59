"""Events made by exact-type checks instead of a validation pass equal validated ones, and any
value validation would convert or refuse still goes through validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.fields import FieldInfo
from test_events import SAMPLES, sample_id

from groupchat import events
from groupchat._fields import share_fields_set
from groupchat.checked import checked_fields, make
from groupchat.events import (
    EventBase,
    MessagePosted,
    ModelCall,
    SelectorAttempt,
    SpeakerSelected,
    TextDelta,
    TurnStarted,
    dump_event,
)
from groupchat.messages import Message, ToolCallPart, Usage

HOT = [SpeakerSelected, TurnStarted, TextDelta, MessagePosted, ModelCall, SelectorAttempt, Message]
"""What every message of a chat makes: these must never lose the checked path."""


def outcome(build: Any) -> tuple[str, Any]:
    try:
        model = build()
    except pydantic.ValidationError as exc:
        return "invalid", [(e["loc"], e["type"]) for e in exc.errors()]
    except TypeError as exc:
        return "type error", str(exc)
    kinds = [(name, type(value)) for name, value in model.__dict__.items()]
    return "made", (type(model), model.model_dump_json(), model, kinds, model.model_fields_set)


def validated(cls: type[pydantic.BaseModel], fields: dict[str, Any]) -> pydantic.BaseModel:
    """What the bus made before: a validated model with its class's shared set of fields."""
    model = cls(**fields)
    share_fields_set(model)
    return model


def fields_of(model: pydantic.BaseModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in type(model).model_fields}


def test_the_events_of_every_message_are_made_without_a_validation_pass() -> None:
    assert [cls.__name__ for cls in HOT if not checked_fields(cls)] == []


def test_a_model_with_a_validator_of_its_own_is_always_validated() -> None:
    class Checked(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(frozen=True, extra="forbid")
        name: str

        @pydantic.field_validator("name")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    assert not checked_fields(Checked)
    assert make(Checked, {"name": "ann"}).name == "ANN"


@pytest.mark.parametrize("event", SAMPLES, ids=sample_id)
def test_a_sample_made_from_its_fields_equals_the_validated_one(event: EventBase) -> None:
    fields = fields_of(event)
    made = make(type(event), fields)
    assert made == event
    assert dump_event(made) == dump_event(event)
    assert made.model_fields_set == set(type(event).model_fields)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        made.chat_id = "other"  # type: ignore[misc]


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Name(str):
    """A ``str`` subclass: validation makes it a plain ``str``."""


VALUES: list[Any] = [
    "x",
    Name("sub"),
    "",
    0,
    3,
    -1,
    True,
    1.0,
    2.5,
    None,
    NOW,
    NOW.replace(tzinfo=None),
    NOW.astimezone(timezone(timedelta(hours=2))),
    "2024-05-01T12:00:00Z",
    ("a", "b"),
    ["a", "b"],
    ("a", 1),
    Usage(input_tokens=1, output_tokens=2),
    {"input_tokens": 1},
    Message(id="m1", sender="ann", content="hi"),
    {"id": "m1", "sender": "ann", "content": "hi"},
    ToolCallPart(call_id="c", name="t"),
    (ToolCallPart(call_id="c", name="t"),),
]

CLASSES = [
    cls
    for name in events.__all__
    if isinstance(cls := getattr(events, name), type)
    and issubclass(cls, EventBase)
    and cls is not EventBase
    and checked_fields(cls)
] + [Message, Usage]


def accepted(field: FieldInfo) -> list[Any]:
    """The values of :data:`VALUES` that validation of ``field`` accepts (maybe converting)."""
    adapter = pydantic.TypeAdapter(Annotated[field.annotation, field])
    good = []
    for value in VALUES:
        try:
            adapter.validate_python(value)
        except pydantic.ValidationError:
            continue
        good.append(value)
    return good


ACCEPTED = {cls: {n: accepted(f) for n, f in cls.model_fields.items()} for cls in CLASSES}


@st.composite
def field_sets(draw: st.DrawFn) -> tuple[type[pydantic.BaseModel], dict[str, Any]]:
    """Mostly values each field accepts (some converted, as ``True`` for an ``int``), now and
    then anything, a field left out or one too many."""
    cls = draw(st.sampled_from(CLASSES))
    fields: dict[str, Any] = {}
    for name, good in ACCEPTED[cls].items():
        if draw(st.integers(0, 19)) == 0:
            continue  # left out: its default, or a missing field
        pool = good if good and draw(st.integers(0, 9)) else VALUES
        fields[name] = draw(st.sampled_from(pool))
    if draw(st.integers(0, 19)) == 0:
        fields["unknown"] = "x"
    return cls, fields


@settings(max_examples=600, deadline=None)
@given(field_sets())
def test_made_or_refused_exactly_as_validation_would(
    case: tuple[type[pydantic.BaseModel], dict[str, Any]],
) -> None:
    cls, fields = case
    assert outcome(lambda: make(cls, fields)) == outcome(lambda: validated(cls, fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"text": Name("sub")},
        {"text": 1},
        {"text": None},
        {"seq": True},
        {"seq": -1},
        {"seq": 1.0},
        {"time": NOW.replace(tzinfo=None)},
        {"time": "2024-05-01T12:00:00Z"},
        {"time": 0},
        {"text": "t", "extra": 1},
    ],
    ids=repr,
)
def test_values_validation_would_touch_are_validated(fields: dict[str, Any]) -> None:
    base = {"chat_id": "c", "seq": 0, "time": NOW, "sender": "ann", "message_id": "m", "text": "t"}
    case = {**base, **fields}
    assert outcome(lambda: make(TextDelta, case)) == outcome(lambda: validated(TextDelta, case))
    missing = {name: value for name, value in base.items() if name not in fields}
    assert outcome(lambda: make(TextDelta, missing)) == outcome(
        lambda: validated(TextDelta, missing)
    )
