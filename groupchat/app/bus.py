"""The command line's side of a chat on a bus (``--bus URL`` or ``$GROUPCHAT_BUS``): connect,
build the team with its agents hostable by workers, take the chat's lease, and let go of it all
at the end. Nothing here is imported unless a bus is asked for."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from groupchat.app.errors import CommandError

if TYPE_CHECKING:
    from groupchat.app.session import Prepared
    from groupchat.chat import GroupChat
    from groupchat.distributed.hosting import Hosting
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.spec import TeamSpec
    from groupchat.transcripts.protocols import TranscriptStore
    from groupchat.tui.claims import Claims
    from groupchat.tui.share.desk import JoinDesk

__all__ = [
    "BusChat",
    "bus_requested",
    "connect_bus",
    "find_on_bus",
    "hosted_chat",
    "prepare_resume_on_bus",
    "stored_spec_on_bus",
]

WAIT_FOR_WORKERS = 10.0
"""Seconds ``--wait-for`` waits at most by default for the workers of the names it lists."""


def bus_requested(args: argparse.Namespace) -> str | None:
    """The bus URL the command is given (``--bus``, else ``$GROUPCHAT_BUS``), or ``None``."""
    import os

    from groupchat.distributed.url import BUS_ENV

    given = getattr(args, "bus", None)
    return given if given is not None else (os.environ.get(BUS_ENV) or None)


LEASE_ENV = "GROUPCHAT_LEASE_TTL"
"""Seconds a manager's lease lasts unless renewed (default 10): how soon ``resume --bus``
takes over a chat whose manager died, against how long a stalled manager keeps its chat."""


def _lease_ttl() -> float | None:
    import math
    import os

    text = os.environ.get(LEASE_ENV)
    if not text:
        return None
    try:
        ttl = float(text)
    except ValueError:
        raise CommandError(f"${LEASE_ENV}: {text!r} is not a number of seconds") from None
    if not math.isfinite(ttl) or not 0.5 <= ttl <= 3600:
        raise CommandError(f"${LEASE_ENV}: {text} is not between 0.5 and 3600 seconds")
    return ttl


async def connect_bus(text: str, **options: Any) -> RedisBus:
    """The bus at ``text``, or a :class:`CommandError` naming it without its password."""
    from groupchat.distributed.errors import BusUnavailableError
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.distributed.url import BusURL

    ttl = _lease_ttl()
    if ttl is not None:
        options.setdefault("lease_ttl", ttl)
    try:
        url = BusURL.parse(text)
        return await RedisBus.connect(url, **options)
    except (ValueError, BusUnavailableError) as exc:
        raise CommandError(str(exc)) from None


def hosted_chat(
    spec: TeamSpec, bus: RedisBus, *, title: str, chat_id: str | None = None
) -> tuple[GroupChat, Hosting]:
    """The team's chat on ``bus``, each agent hostable by a worker (see
    :class:`~groupchat.distributed.hosting.HostedParticipant`), described on the bus's list
    of running chats (as ``title``) before it is opened there."""
    import uuid

    from groupchat.app.build import build_chat, build_participants, model_maker
    from groupchat.distributed.hosting import HostedParticipant, Hosting

    chat_id = chat_id or uuid.uuid4().hex[:12]
    people = [p.name for p in spec.participants if p.kind == "human"]
    bus.describe(
        chat_id,
        title=title,
        team=spec.name,
        agents=[p.name for p in spec.participants if p.name not in people],
        people=people,
    )
    hosting = Hosting(bus)
    try:
        members = build_participants(spec, model_maker(spec.model_cache))
        wrapped = [
            member if getattr(member, "human", False) else HostedParticipant(member, hosting)
            for member in members
        ]
        chat = build_chat(spec, bus=bus, chat_id=chat_id, participants=wrapped)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    hosting.attach(chat)
    return chat, hosting


async def stored_spec_on_bus(bus: RedisBus, chat_id: str) -> dict[str, Any] | None:
    """The team spec the chat's manager left on the bus (redacted as the store's)."""
    from groupchat.distributed import keys

    data = await bus.client.get(keys.spec(chat_id))
    if data is None:
        return None
    spec = json.loads(data)
    return spec if isinstance(spec, dict) else None


class BusChat:
    """A chat that runs on a bus from this process: its lease, its inboxes, and what
    people joining over the bus send it (its :class:`~groupchat.tui.share.desk.JoinDesk`,
    which takes seats in :attr:`claims`, shared with the chat's own terminal). :meth:`start`
    before the run, :meth:`close` after."""

    def __init__(
        self,
        bus: RedisBus,
        chat: GroupChat,
        hosting: Hosting,
        *,
        spec: dict[str, Any] | None,
    ) -> None:
        self.bus = bus
        self.chat = chat
        self.hosting = hosting
        self.spec = spec
        from groupchat.distributed import keys
        from groupchat.tui.claims import Claims
        from groupchat.tui.share.desk import JoinDesk

        self.claims: Claims = Claims()
        """The people answering from other terminals, over the bus or a shared socket."""

        async def forget(client: str) -> object:
            return await bus.client.delete(keys.reply(chat.chat_id, client))

        self.desk: JoinDesk = JoinDesk(chat, self.claims, forget=forget)
        hosting.on_join = self.desk.answer

    async def start(self, *, wait_lease: float = 0.0, wait_for: Sequence[str] = ()) -> list[str]:
        """Take the lease (waiting up to ``wait_lease`` seconds for a dead manager's to run
        out), list the chat on the bus, read its inboxes, and wait for the workers of
        ``wait_for``; returns notes for the user."""
        from groupchat.distributed import keys
        from groupchat.distributed.errors import BusUnavailableError, ChatRunningElsewhere
        from groupchat.redact import redact_spec

        chat, bus = self.chat, self.bus
        bus.on_lost = self._lost
        try:
            await bus.acquire(chat.chat_id, wait=wait_lease)
            if self.spec is not None:
                await bus.client.set(keys.spec(chat.chat_id), json.dumps(redact_spec(self.spec)))
            await self.hosting.start()
            self.desk.start()
        except ChatRunningElsewhere as exc:
            raise CommandError(
                f"{exc}; take part with `groupchat join {chat.chat_id} --bus URL`"
            ) from None
        except BusUnavailableError as exc:
            raise CommandError(str(exc)) from None
        notes = [f"others join with: groupchat join {chat.chat_id} --bus {bus.url.shown}"]
        if wait_for:
            missing = await self.hosting.wait_hosted(list(wait_for), WAIT_FOR_WORKERS)
            if missing:
                notes.append(
                    f"no worker hosts {', '.join(missing)} yet: they run here until one does"
                )
        return notes

    def _lost(self, chat_id: str, error: Exception) -> object:
        return self.chat.fail(str(error), detail="bus")

    async def close(self) -> Exception | None:
        """Stop reading the inboxes, wait until the chat's events are all on the bus; returns
        why they are not, if they could not all be written."""
        await self.hosting.close()
        await self.desk.close()
        await self.bus.flushed(self.chat.chat_id)
        failure = self.bus.failure(self.chat.chat_id)
        await self.bus.aclose()
        return failure


TAKEOVER_WAIT = 1.5
"""A resume waits this many lease lifetimes at most for a dead manager's lease to run out."""


async def find_on_bus(bus: RedisBus, ident: str) -> str:
    """The id of the chat on the bus that ``ident`` names (an id or a unique prefix of a
    listed chat), or a :class:`CommandError` saying what is there."""
    from groupchat.distributed import keys
    from groupchat.distributed.streams import listed_chats, matching

    if await bus.client.exists(keys.events(ident)):
        return ident
    listed = await listed_chats(bus.client)
    matches = matching(ident, listed)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CommandError(
            f"{ident!r} is the start of several chats on the bus: {', '.join(matches)}"
        )
    where = bus.url.shown
    if not listed:
        raise CommandError(f"no chat {ident!r} on the bus at {where}: no chat is running there")
    raise CommandError(f"no chat {ident!r} on the bus at {where} (running: {', '.join(listed)})")


async def prepare_resume_on_bus(
    store: TranscriptStore | None, args: argparse.Namespace, url: str
) -> Prepared:
    """``resume ID --bus URL``: take the chat over from the bus (once a dead manager's lease
    has run out), with the history its stream holds, on any machine; the store catches up on
    what it lacks, and what the store holds beyond the stream (recorded by a manager that died
    before writing it to the bus, or a chat that never ran on a bus) goes to the stream
    first."""
    import sys

    from groupchat.app.resume import _load_spec_file, _prices, _refuse_a_finished_chat, _spec_from
    from groupchat.app.session import Prepared, find_chat
    from groupchat.distributed import keys
    from groupchat.distributed.errors import ChatRunningElsewhere
    from groupchat.events import dump_event
    from groupchat.spec import TeamSpec
    from groupchat.transcripts.records import ChatLookupError

    bus = await connect_bus(url)
    try:
        try:
            chat_id = await find_on_bus(bus, args.id)
        except CommandError:
            if store is None:
                raise
            # Not on the bus (never was, or its stream has expired): the store's copy goes
            # to the bus first, and the chat goes on there.
            chat_id = await find_chat(store, args.id)
        try:
            got, value, left = await bus.lease(chat_id).try_acquire()
            if not got:
                owner = value.split(" ", 1)[-1]
                sys.stderr.write(
                    f"groupchat: chat {chat_id} was run by {owner}: waiting up to "
                    f"{left:.0f} s for its lease to run out\n"
                )
                await bus.acquire(chat_id, wait=bus.lease_ttl * TAKEOVER_WAIT)
        except ChatRunningElsewhere as exc:
            raise CommandError(
                f"{exc}; take part with `groupchat join {chat_id} --bus URL`"
            ) from None
        events = await bus.stream_events(chat_id)
        stored: list[Any] = []
        summary = None
        if store is not None:
            try:
                summary = await store.chat(chat_id)
                stored = await store.events(chat_id)
            except ChatLookupError:
                summary = None
        if len(stored) > len(events):
            common = len(events) - 1
            if common >= 0 and dump_event(stored[common]) != dump_event(events[common]):
                raise CommandError(
                    f"chat {chat_id}: the store and the bus disagree at event {common}; "
                    f"fork it from the store instead (`groupchat fork {chat_id} --at SEQ`)"
                )
            extra = stored[len(events) :]
            await bus.restore(chat_id, extra)
            events = events + extra
        if not events:
            raise CommandError(f"chat {chat_id} has no events on the bus at {bus.url.shown}")
        if not args.task:
            _refuse_a_finished_chat(chat_id, events)
        spec = _load_spec_file(args.spec)
        if spec is None:
            stored_spec = await store.spec(chat_id) if store is not None and summary else None
            found = _spec_from(stored_spec or await stored_spec_on_bus(bus, chat_id), chat_id)
            if not isinstance(found, TeamSpec):
                raise CommandError(f"chat {chat_id}: the demo team does not run on a bus")
            spec = found
        info = await bus.client.hget(keys.CHATS, chat_id)
        title = summary.title if summary is not None else _title_from(info, spec.name)
        chat, hosting = hosted_chat(spec, bus, title=title, chat_id=chat_id)
        try:
            chat.load(events)
        except ValueError as exc:
            raise CommandError(f"chat {chat_id} cannot be resumed: {exc}") from None
        stored_spec_json = spec.model_dump(mode="json")
        if store is not None:
            if summary is None:
                await store.create_chat(chat_id, title=title, spec=stored_spec_json)
            missing = events[len(stored) :]
            if missing:
                await store.append_many(missing)
            await store.flush()
        on_bus = BusChat(bus, chat, hosting, spec=stored_spec_json)
        notes = await on_bus.start()
    except BaseException:
        await bus.aclose()
        raise
    return Prepared(
        chat,
        args.task,
        title=title,
        spec=stored_spec_json,
        prices=_prices(spec),
        notes=[f"took chat {chat_id} over on the bus {bus.url.shown}", *notes],
        on_bus=on_bus,
    )


def _title_from(info: bytes | str | None, default: str) -> str:
    if info is None:
        return default
    try:
        title = json.loads(info).get("title")
    except (ValueError, AttributeError):
        return default
    return title if isinstance(title, str) and title else default
