"""The wire format between a shared chat and a joined terminal: newline-delimited JSON.

The server sends a :class:`Hello`, then every event of the chat as one canonical event line
(:func:`groupchat.events.dump_event`; it has a ``type`` and no ``op``), replies to commands and,
last, a :class:`Bye`. The client sends the chat's own inbound events (a person's line, a
control command, a seat claimed or released) in a :class:`Send` envelope, without the fields
the chat stamps: the server validates them with :data:`groupchat.events.INBOUND_ADAPTER` and
publishes them as the person the terminal answers for. Protocol lines carry an ``op``; all of
them are one discriminated union read by one :class:`~pydantic.TypeAdapter`, so every line from
the socket is validated whole before anything acts on it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from groupchat.events import (
    INBOUND,
    INBOUND_ADAPTER,
    STAMPED,
    ControlCommand,
    Event,
    InboundEvent,
    parse_event,
)

__all__ = [
    "MAX_LINE",
    "PROTOCOL_VERSION",
    "Bye",
    "ClientMessage",
    "ErrorReply",
    "Hello",
    "Message",
    "Ok",
    "ProtocolError",
    "Send",
    "ServerMessage",
    "claim",
    "control",
    "dump_message",
    "line_id",
    "parse_client_line",
    "parse_server_line",
    "read_event",
    "release",
    "say",
]

PROTOCOL_VERSION = 2
"""2: a client sends inbound events (:class:`Send`); 1 had a message per command."""
MAX_LINE = 1 << 20
"""The longest line a server reads from a client (bytes); a longer one ends the connection."""

_Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(_Wire):
    """First line from the server: what chat this is and who may be claimed."""

    op: Literal["hello"] = "hello"
    version: int = PROTOCOL_VERSION
    chat_id: str
    humans: list[str]
    claimed: list[str] = []
    """The people answering from joined terminals now."""


class Ok(_Wire):
    """A command was done; ``text`` says what happened."""

    op: Literal["ok"] = "ok"
    id: int | None = None
    text: str = ""
    name: str | None = None
    """After a claim: the person claimed."""


class ErrorReply(_Wire):
    """A line that could not be done or not even read; ``error`` says why. The chat goes on."""

    op: Literal["error"] = "error"
    id: int | None = None
    error: str


class Bye(_Wire):
    """The last line from the server: the chat ended, or this terminal fell behind."""

    op: Literal["bye"] = "bye"
    reason: str


class Send(_Wire):
    """An inbound event for the chat (``human_input``, ``control``, ``seat_claimed``,
    ``seat_released``): its canonical JSON without the fields the chat stamps (chat id, seq,
    time, sender, and a seat's ``holder``). The server publishes it as the person this terminal
    answers for. A ``seat_claimed`` names the person in ``seat`` (``None``: the first person not
    answered for); with ``switch``, a terminal that answers for someone already takes ``seat``
    instead (``/as NAME``): the new seat is taken before the old one is given back, so a refused
    switch leaves the terminal where it was."""

    op: Literal["send"] = "send"
    id: int | None = None
    event: dict[str, JsonValue]
    seat: _Name | None = None
    switch: bool = False


def say(text: str) -> Send:
    """A line as the person claimed: it answers their open request, or is an interjection."""
    return Send(event={"type": "human_input", "text": text})


def control(command: ControlCommand, name: str | None = None, reason: str = "") -> Send:
    """Pause, resume, stop, interrupt, make ``name`` the next speaker (``steer``), remove
    ``name`` (``kick``) or bring them back (``invite``; without a name: who can come back)."""
    event: dict[str, JsonValue] = {"type": "control", "command": command}
    if name is not None:
        event["name"] = name
    if reason:
        event["reason"] = reason
    return Send(event=event)


def claim(name: str | None = None, *, switch: bool = False) -> Send:
    """Answer for ``name`` from this terminal (see :class:`Send` for ``switch``)."""
    return Send(event={"type": "seat_claimed"}, seat=name, switch=switch)


def release() -> Send:
    """Stop answering for the person claimed; the terminal that runs the chat answers again."""
    return Send(event={"type": "seat_released"})


ServerMessage = Hello | Ok | ErrorReply | Bye
ClientMessage = Send
Message = Annotated[Hello | Ok | ErrorReply | Bye | Send, Field(discriminator="op")]
MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)

_FROM_SERVER = ("hello", "ok", "error", "bye")
_VERSION_1 = ("claim", "release", "say", "control")
"""The commands of protocol 1, which sent each command as a message of its own."""


class ProtocolError(ValueError):
    """A line that is not a valid message; the text names the problem."""


def dump_message(message: Message) -> str:
    """One protocol message as a line of JSON (no newline)."""
    return message.model_dump_json()


def _problem(exc: ValidationError, prefix: tuple[str, ...] = (), tag: str | None = None) -> str:
    parts = []
    for error in exc.errors()[:3]:
        loc = tuple(str(p) for p in error["loc"])
        if tag is not None and loc[:1] == (tag,):
            loc = loc[1:]  # the union's branch: the event's type, said already
        where = ".".join(prefix + loc)
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


_HOLDER = ("seat_claimed", "seat_released")
"""The inbound events whose ``holder`` the server stamps (the joined terminal)."""


def read_event(message: Send, *, chat_id: str, sender: str, holder: str) -> InboundEvent:
    """The event in ``message``, stamped with ``chat_id``, ``sender`` and (for a seat)
    ``holder``; the bus stamps its own seq and time again when it is published. Raises
    :class:`ProtocolError` naming the field (``event.text: Field required``) when the event is
    not a valid inbound event, or sets a field only the chat may set."""
    data = message.event
    kind = data.get("type")
    if kind not in INBOUND:
        known = ", ".join(sorted(INBOUND))
        got = "missing" if kind is None else repr(kind)
        raise ProtocolError(f"event.type: expected one of {known} ({got})")
    own = STAMPED | {"holder"} if kind in _HOLDER else STAMPED
    forged = sorted(own & data.keys())
    if forged:
        raise ProtocolError(f"event.{forged[0]}: set by the chat, not by a joined terminal")
    if kind != "seat_claimed" and (message.seat is not None or message.switch):
        raise ProtocolError(f"seat and switch go with a seat_claimed event, not {kind}")
    stamps: dict[str, object] = {"chat_id": chat_id, "seq": 0, "time": _now(), "sender": sender}
    if kind in _HOLDER:
        stamps["holder"] = holder
    try:
        return INBOUND_ADAPTER.validate_python({**data, **stamps})
    except ValidationError as exc:
        raise ProtocolError(_problem(exc, ("event",), str(kind))) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _load(line: str | bytes) -> object:
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None


def line_id(line: str | bytes) -> int | None:
    """The ``id`` a line that could not be read asked with, if it has one: its error answers
    that request (a client of another version waits for it)."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    ident = data.get("id") if isinstance(data, dict) else None
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


def parse_client_line(line: str | bytes) -> ClientMessage:
    """A line a client sent, validated; raises :class:`ProtocolError` naming the problem."""
    data = _load(line)
    if not isinstance(data, dict) or "op" not in data:
        raise ProtocolError('expected an object with an "op" ("send")')
    if data["op"] in _FROM_SERVER:
        raise ProtocolError(f"{data['op']!r} is sent by the server, not to it")
    if data["op"] in _VERSION_1:
        raise ProtocolError(
            f"{data['op']!r} is a message of protocol 1, and this chat speaks protocol "
            f"{PROTOCOL_VERSION}: join with the same version of groupchat as the chat's"
        )
    try:
        message = MESSAGE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(_problem(exc)) from None
    assert isinstance(message, Send)
    return message


def parse_server_line(line: str | bytes) -> ServerMessage | Event:
    """A line from the server: a protocol message, or an event of the chat."""
    data = _load(line)
    if not isinstance(data, dict):
        raise ProtocolError("expected a JSON object")
    try:
        if "op" not in data:
            return parse_event(line)
        message = MESSAGE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(_problem(exc)) from None
    if not isinstance(message, Hello | Ok | ErrorReply | Bye):
        raise ProtocolError(f"{data['op']!r} is sent by a client, not by the server")
    return message
