"""What workers and joined terminals send a chat's manager through Redis, and its answers.

Everything here crosses a process boundary, so it is modelled once as pydantic models in two
discriminated unions, each read with one TypeAdapter: :data:`WORKER_ADAPTER` for what a worker
writes to a hosted name's inbox, :data:`REPLY_ADAPTER` for what the manager writes to a
client's reply stream. A turn's pieces mirror what a participant yields
(:data:`~groupchat.participant.TurnItem`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from groupchat.messages import Part, ToolCallPart, ToolResultPart, Usage

__all__ = [
    "EVENTS_FIELD",
    "REPLY_ADAPTER",
    "WORKER_ADAPTER",
    "Answer",
    "Ask",
    "Beat",
    "Call",
    "Called",
    "Calling",
    "Cancel",
    "Done",
    "Ended",
    "Failed",
    "Hand",
    "Hosted",
    "Item",
    "JoinAct",
    "JoinLine",
    "Passed",
    "Piece",
    "Refused",
    "Reply",
    "Result",
    "RunEnded",
    "Text",
    "Turn",
    "Unhost",
    "Waiting",
    "WorkerMessage",
    "entry_events",
    "turn_entry",
]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------- a turn's pieces


class Text(_Wire):
    kind: Literal["text"] = "text"
    text: str


class Call(_Wire):
    kind: Literal["call"] = "call"
    part: ToolCallPart


class Result(_Wire):
    kind: Literal["result"] = "result"
    part: ToolResultPart


class Hand(_Wire):
    kind: Literal["hand"] = "hand"
    target: str
    note: str = ""


class Waiting(_Wire):
    kind: Literal["waiting"] = "waiting"
    prompt: str = ""
    timeout: float | None = None


class Called(_Wire):
    """The turn called a model (see :class:`~groupchat.participant.ModelCalled`)."""

    kind: Literal["model"] = "model"
    model: str
    started: datetime
    usage: Usage | None = None
    error: str | None = None


class Calling(_Wire):
    """The turn began a call to a model (see :class:`~groupchat.participant.ModelCalling`)."""

    kind: Literal["calling"] = "calling"
    model: str
    started: datetime


class Done(_Wire):
    """The turn ended with a message (``content=None``: the text streamed)."""

    kind: Literal["done"] = "done"
    content: str | None = None
    parts: tuple[Part, ...] = ()
    usage: Usage | None = None


class Passed(_Wire):
    kind: Literal["passed"] = "passed"
    reason: str = "passed"


class Ended(_Wire):
    kind: Literal["ended"] = "ended"
    reason: str


class Failed(_Wire):
    """The participant raised: what, as ``Type: message``."""

    kind: Literal["failed"] = "failed"
    error: str


Piece = Annotated[
    Text | Call | Result | Hand | Waiting | Called | Calling | Done | Passed | Ended | Failed,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------- worker -> manager


class Beat(_Wire):
    """A worker hosts ``name`` and is alive; sent every beat (the first one registers)."""

    op: Literal["beat"] = "beat"
    worker: str
    where: str
    """``host:pid`` of the worker, as shown to people."""


class Unhost(_Wire):
    """The worker stops hosting the name (it is leaving)."""

    op: Literal["unhost"] = "unhost"
    worker: str


class Item(_Wire):
    """The next pieces of the turn of ``message_id``, in order (what the turn yielded while
    the worker's last send was on its way goes in one)."""

    op: Literal["item"] = "item"
    worker: str
    message_id: str
    pieces: tuple[Piece, ...] = Field(min_length=1)


class Ask(_Wire):
    """The turn asks a person (a tool's approval, say); answered with :class:`Answer`."""

    op: Literal["ask"] = "ask"
    worker: str
    ask_id: str
    participant: str
    prompt: str
    request: Literal["turn", "select_speaker", "approval"] = "turn"
    choices: tuple[str, ...] = ()
    timeout: float | None = None


WorkerMessage = Annotated[Beat | Unhost | Item | Ask, Field(discriminator="op")]
WORKER_ADAPTER: TypeAdapter[WorkerMessage] = TypeAdapter(WorkerMessage)


JoinAct = Literal["line", "hello", "beat", "leave"]
"""What a joined terminal's entry does: a protocol ``line``; ``hello``, answered with the
protocol's hello (the chat, its people, who is claimed); a ``beat``, sent every
:data:`~groupchat.distributed.hosting.BEAT_INTERVAL` while it is joined (a terminal silent
for longer than the beat timeout is let go and its seat given back); ``leave``."""


class JoinLine(_Wire):
    """A line of the sharing protocol (:mod:`groupchat.tui.share.protocol`) from a terminal
    joined over the bus; ``client`` names its reply stream, ``holder`` who it is."""

    op: Literal["join"] = "join"
    client: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    holder: str = Field(max_length=200)
    line: str = Field(default="", max_length=1 << 20)
    """As long as a line over the Unix socket may be."""
    act: JoinAct = "line"


# ---------------------------------------------------------------------- manager -> client


class Hosted(_Wire):
    op: Literal["hosted"] = "hosted"
    name: str


class Refused(_Wire):
    op: Literal["refused"] = "refused"
    name: str
    error: str


class Turn(_Wire):
    """Take ``name``'s turn ``message_id``, once the chat is read up to ``seq`` (its
    ``turn_started``), under the trace context ``traceparent`` if there is one.

    The entry that carries it also carries the chat's events this worker was not sent yet,
    up to ``seq`` (field :data:`EVENTS_FIELD`, see :func:`turn_entry`), so that in a running
    chat a worker need not read the chat's stream to take its turn."""

    op: Literal["turn"] = "turn"
    name: str
    message_id: str
    seq: int
    traceparent: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """The W3C trace context of the manager's span of this turn, when the chat is traced: the
    worker runs the turn under it, so its spans join the chat's trace."""


class Cancel(_Wire):
    """Stop taking the turn of ``message_id``: the manager cut it short (an interrupt, a
    stop, a timeout) and concluded it with what was sent so far."""

    op: Literal["cancel"] = "cancel"
    message_id: str


class RunEnded(_Wire):
    """The chat's run is over (it may be run again, and announced again)."""

    op: Literal["run_ended"] = "run_ended"


class Answer(_Wire):
    op: Literal["answer"] = "answer"
    ask_id: str
    text: str | None


class Reply(_Wire):
    """An answer of the sharing protocol to a joined terminal (one server line)."""

    op: Literal["reply"] = "reply"
    line: str


EVENTS_FIELD = "e"
"""The field of a reply-stream entry that holds events: their JSON, one a line."""


def turn_entry(turn: Turn, events: list[str]) -> dict[str, str]:
    """The fields of the reply-stream entry asking for ``turn``, with the JSON of the events
    (in order, one run of seqs ending at the turn's start, or none) the worker lacks."""
    fields = {"m": turn.model_dump_json()}
    if events:
        fields[EVENTS_FIELD] = "\n".join(events)  # event JSON holds no raw newline
    return fields


def entry_events(fields: dict[bytes, bytes]) -> list[bytes]:
    """The events' JSON a reply-stream entry carries (see :func:`turn_entry`)."""
    data = fields.get(EVENTS_FIELD.encode())
    return data.split(b"\n") if data else []


ReplyMessage = Annotated[
    Hosted | Refused | Turn | Cancel | RunEnded | Answer | Reply, Field(discriminator="op")
]
REPLY_ADAPTER: TypeAdapter[ReplyMessage] = TypeAdapter(ReplyMessage)
