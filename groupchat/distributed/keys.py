"""The Redis keys of distributed chats, in one place.

Every key of a chat carries the chat id in braces (a Redis Cluster hash tag), so a chat's keys
live on one node and a Lua script may touch several of them. What each holds:

- ``events``: the stream of the chat's events; entry ``0-N`` is the event of seq ``N - 1``.
  Only the lease holder appends to it.
- ``lease``: the manager's lease, ``TOKEN OWNER`` with an expiry; ``epoch`` counts leases, and
  the count is the token (the fencing token).
- ``host:NAME``: what the worker hosting ``NAME`` sends the manager (its turn's items).
- ``join``: what people joining from other machines send the manager.
- ``reply:CLIENT``: the manager's answers to one worker or joined terminal.
- ``spec``: the team spec the chat runs with, redacted (to resume it on any machine).
- ``hosts``: a hash, participant name -> the worker hosting it (for ``list --bus``).

Outside any chat: ``chats`` (a hash of the running chats) and ``announce`` (a stream of chats
starting, read by workers).
"""

from __future__ import annotations

__all__ = [
    "ANNOUNCE",
    "CHATS",
    "PREFIX",
    "entry_id",
    "entry_seq",
    "epoch",
    "events",
    "host_inbox",
    "hosts",
    "join_inbox",
    "lease",
    "reply",
    "spec",
]

PREFIX = "groupchat"
CHATS = f"{PREFIX}:chats"
ANNOUNCE = f"{PREFIX}:announce"


def _chat(chat_id: str, what: str) -> str:
    return f"{PREFIX}:{{{chat_id}}}:{what}"


def events(chat_id: str) -> str:
    return _chat(chat_id, "events")


def lease(chat_id: str) -> str:
    return _chat(chat_id, "lease")


def epoch(chat_id: str) -> str:
    return _chat(chat_id, "epoch")


def host_inbox(chat_id: str, name: str) -> str:
    return _chat(chat_id, f"host:{name}")


def join_inbox(chat_id: str) -> str:
    return _chat(chat_id, "join")


def reply(chat_id: str, client: str) -> str:
    return _chat(chat_id, f"reply:{client}")


def spec(chat_id: str) -> str:
    return _chat(chat_id, "spec")


def hosts(chat_id: str) -> str:
    return _chat(chat_id, "hosts")


def entry_id(seq: int) -> str:
    """The stream entry ID of the event of ``seq``: Redis refuses one that is not greater than
    the last, so a duplicate or an append out of order never lands."""
    return f"0-{seq + 1}"


def entry_seq(entry: str | bytes) -> int:
    """The seq of the event in stream entry ``entry`` (``0-N``)."""
    text = entry.decode() if isinstance(entry, bytes) else entry
    ms, _, n = text.partition("-")
    if ms != "0" or not n.isdigit() or int(n) < 1:
        raise ValueError(f"stream entry {text} is not one of a chat's events")
    return int(n) - 1
