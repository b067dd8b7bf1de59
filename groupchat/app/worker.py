"""``groupchat worker SPEC --bus URL [--only NAME ...] [--chat ID]``: host agents of a team
for its chats on a bus."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from groupchat.app.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError, fail
from groupchat.app.running import run_async

if TYPE_CHECKING:
    from groupchat.participant import Participant

__all__ = ["cmd_worker"]


def cmd_worker(args: argparse.Namespace) -> int:
    from groupchat.app.bus import bus_requested
    from groupchat.app.run import _team

    url = bus_requested(args)
    if url is None:
        raise CommandError("worker needs a bus: --bus redis://host:port/db or $GROUPCHAT_BUS")
    spec, chat = _team(args.spec, args.model)
    agents = {n: p for n, p in chat.participants.items() if not getattr(p, "human", False)}
    if not agents:
        raise CommandError(f"{args.spec}: the team has no agents to host")
    chosen = list(agents)
    if args.only:
        unknown = [name for name in args.only if name not in agents]
        if unknown:
            raise CommandError(
                f"--only {' '.join(unknown)}: not an agent of {args.spec} "
                f"(agents: {', '.join(agents)})"
            )
        chosen = list(dict.fromkeys(args.only))

    def make() -> dict[str, Participant]:
        """The chosen agents, built afresh: each chat hosted gets its own."""
        from groupchat.app.build import build_chat

        built = build_chat(spec)
        return {name: built.participants[name] for name in chosen}

    return run_async(_work(url, make, chosen, spec.name, args.chat))


async def _work(
    url: str,
    make: Callable[[], dict[str, Participant]],
    agents: list[str],
    team: str,
    chat: str | None,
) -> int:
    from groupchat.app.bus import connect_bus
    from groupchat.distributed.errors import BusUnavailableError
    from groupchat.distributed.worker import Worker

    bus = await connect_bus(url)
    worker = Worker(bus.client, make, team=team, chat=chat)
    where = f"chat {chat}" if chat else f"the chats of team {team!r}"
    sys.stderr.write(
        f"groupchat worker: hosting {', '.join(agents)} for {where} on {bus.url.shown}\n"
    )
    sys.stderr.flush()
    try:
        await worker.run()
    except BusUnavailableError as exc:
        return fail(f"{bus.url.shown}: {bus.url.scrub(str(exc))}", EXIT_FAILURE)
    finally:
        await bus.aclose()
    if chat is not None:
        refused = worker.refused.get(chat, {})
        if refused and not worker.hosted.get(chat):
            return fail("; ".join(f"{n}: {why}" for n, why in refused.items()), EXIT_USAGE)
    return EXIT_OK
