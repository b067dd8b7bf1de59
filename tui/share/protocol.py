"""The wire format between a shared chat and a joined terminal: newline-delimited JSON.

The server sends a :class:`Hello`, then every event of the chat as one canonical event line
(:func:`groupchat.events.dump_event`; it has a ``type`` and no ``op``), replies to commands and,
last, a :class:`Bye`. The client sends commands. Protocol lines carry an ``op``; all of them are
one discriminated union read by one :class:`~pydantic.TypeAdapter`, so every line from the
socket is validated whole before anything acts on it.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, TypeAlias, TypeGuard, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from groupchat.events import Event, parse_event

__all__ = [
    "MAX_LINE",
    "PROTOCOL_VERSION",
    "Bye",
    "Claim",
    "ClientMessage",
    "Control",
    "ControlName",
    "ErrorReply",
    "Hello",
    "Message",
    "Ok",
    "ProtocolError",
    "Release",
    "Say",
    "ServerMessage",
    "dump_message",
    "is_control",
    "parse_client_line",
    "parse_server_line",
]

PROTOCOL_VERSION = 1
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


class Claim(_Wire):
    """Answer for ``name`` from this terminal (``None``: the first person not answered for).
    With ``switch``, a terminal that answers for someone already takes ``name``'s seat instead
    (``/as NAME``): the new seat is taken before the old one is given back, so a refused switch
    leaves the terminal where it was."""

    op: Literal["claim"] = "claim"
    id: int | None = None
    name: _Name | None = None
    switch: bool = False


class Release(_Wire):
    """Stop answering for the person claimed; the terminal that runs the chat answers again."""

    op: Literal["release"] = "release"
    id: int | None = None


class Say(_Wire):
    """A line as the person claimed: it answers their open request, or is an interjection."""

    op: Literal["say"] = "say"
    id: int | None = None
    text: Annotated[str, Field(max_length=MAX_LINE)]


ControlName: TypeAlias = Literal["pause", "resume", "stop", "interrupt", "next", "kick", "invite"]


def is_control(name: str) -> TypeGuard[ControlName]:
    """Whether ``name`` (a typed command's) is one that a :class:`Control` carries."""
    return name in get_args(ControlName)


class Control(_Wire):
    """Pause, resume, stop, interrupt, make ``name`` the next speaker (``next``), remove
    ``name`` (``kick``) or bring them back (``invite``; without a name: who can come back)."""

    op: Literal["control"] = "control"
    id: int | None = None
    command: ControlName
    name: _Name | None = None


ServerMessage = Hello | Ok | ErrorReply | Bye
ClientMessage = Claim | Release | Say | Control
Message = Annotated[
    Hello | Ok | ErrorReply | Bye | Claim | Release | Say | Control, Field(discriminator="op")
]
MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)

_FROM_SERVER = ("hello", "ok", "error", "bye")


class ProtocolError(ValueError):
    """A line that is not a valid message; the text names the problem."""


def dump_message(message: Message) -> str:
    """One protocol message as a line of JSON (no newline)."""
    return message.model_dump_json()


def _problem(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


def _load(line: str | bytes) -> object:
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None


def parse_client_line(line: str | bytes) -> ClientMessage:
    """A line a client sent, validated; raises :class:`ProtocolError` naming the problem."""
    data = _load(line)
    if not isinstance(data, dict) or "op" not in data:
        raise ProtocolError('expected an object with an "op" (claim, release, say, control)')
    if data["op"] in _FROM_SERVER:
        raise ProtocolError(f"{data['op']!r} is sent by the server, not to it")
    try:
        message = MESSAGE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(_problem(exc)) from None
    assert isinstance(message, Claim | Release | Say | Control)
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
