"""The command line's side of a chat on a bus (``--bus URL`` or ``$GROUPCHAT_BUS``): connect,
build the team with its agents hostable by workers, take the chat's lease, and let go of it all
at the end. Nothing here is imported unless a bus is asked for."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from groupchat.app.errors import CommandError

if TYPE_CHECKING:
    from groupchat.chat import GroupChat
    from groupchat.distributed.hosting import Hosting
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.spec import TeamSpec
    from groupchat.tui.claims import Claims
    from groupchat.tui.share.desk import JoinDesk

__all__ = [
    "BusChat",
    "bus_requested",
    "connect_bus",
    "hosted_chat",
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


async def connect_bus(text: str, **options: Any) -> RedisBus:
    """The bus at ``text``, or a :class:`CommandError` naming it without its password."""
    from groupchat.distributed.errors import BusUnavailableError
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.distributed.url import BusURL

    try:
        url = BusURL.parse(text)
        return await RedisBus.connect(url, **options)
    except (ValueError, BusUnavailableError) as exc:
        raise CommandError(str(exc)) from None


def hosted_chat(
    spec: TeamSpec, bus: RedisBus, *, chat_id: str | None = None
) -> tuple[GroupChat, Hosting]:
    """The team's chat on ``bus``, each agent hostable by a worker (see
    :class:`~groupchat.distributed.hosting.HostedParticipant`)."""
    from groupchat.app.build import build_chat, build_participants, model_maker
    from groupchat.distributed.hosting import HostedParticipant, Hosting

    hosting = Hosting(bus)
    try:
        members = build_participants(spec, model_maker(spec.model_cache))
        wrapped = [
            member if getattr(member, "human", False) else HostedParticipant(member, hosting)
            for member in members
        ]
        chat = build_chat(spec, bus=bus, chat_id=chat_id, participants=wrapped)  # type: ignore[arg-type]
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
        title: str,
        team: str,
        spec: dict[str, Any] | None,
    ) -> None:
        self.bus = bus
        self.chat = chat
        self.hosting = hosting
        self.title = title
        self.team = team
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

    async def start(self, *, wait_lease: float = 0.0, wait_for: list[str] = ()) -> list[str]:  # type: ignore[assignment]
        """Take the lease (waiting up to ``wait_lease`` seconds for a dead manager's to run
        out), list the chat on the bus, read its inboxes, and wait for the workers of
        ``wait_for``; returns notes for the user."""
        from groupchat.distributed import keys
        from groupchat.distributed.errors import BusUnavailableError, ChatRunningElsewhere
        from groupchat.redact import redact_spec

        chat, bus = self.chat, self.bus
        agents = [n for n, p in chat.participants.items() if not getattr(p, "human", False)]
        bus.describe(
            chat.chat_id,
            title=self.title,
            team=self.team,
            agents=agents,
            people=[n for n in chat.participants if n not in agents],
        )
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

    async def close(self) -> None:
        """Stop reading the inboxes, wait until the chat's events are all on the bus."""
        await self.hosting.close()
        await self.desk.close()
        await self.bus.flushed(self.chat.chat_id)
        await self.bus.aclose()
