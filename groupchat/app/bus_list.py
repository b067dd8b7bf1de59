"""``groupchat list --bus URL``: the chats running on a bus, their managers and who hosts
their agents (without ``--bus``, the recorded chats of the store)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from groupchat.app.output import stdout_console
from groupchat.app.running import run_async
from groupchat.safe_text import one_line

__all__ = ["cmd_list", "running_on_bus"]


def cmd_list(args: argparse.Namespace) -> int:
    if getattr(args, "bus", None) is None:
        from groupchat.app.transcripts import cmd_transcripts

        return cmd_transcripts(args)
    return run_async(_list(args))


async def running_on_bus(url: str) -> list[dict[str, Any]]:
    """The chats listed on the bus at ``url``: each one's entry, whether its manager's lease
    is alive (``running``) and who hosts its agents (``hosts``: name -> where)."""
    from groupchat.app.bus import connect_bus
    from groupchat.distributed import keys
    from groupchat.distributed.streams import text

    bus = await connect_bus(url)
    try:
        client = bus.client
        listed = await client.hgetall(keys.CHATS)
        chats = []
        for raw_id, raw in listed.items():
            try:
                info = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(info, dict):
                continue
            chat_id = text(raw_id)
            async with client.pipeline(transaction=False) as pipe:
                pipe.get(keys.lease(chat_id))
                pipe.hgetall(keys.hosts(chat_id))
                lease, hosts = await pipe.execute()
            info["chat_id"] = chat_id
            info["running"] = lease is not None
            info["hosts"] = {
                text(name): json.loads(value).get("where", "?") for name, value in hosts.items()
            }
            chats.append(info)
        chats.sort(key=lambda info: info.get("since", 0), reverse=True)
        return chats
    finally:
        await bus.aclose()


async def _list(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from groupchat.distributed.url import BusURL

    chats = await running_on_bus(args.bus)
    if args.limit is not None:
        chats = chats[: args.limit]
    console = stdout_console(highlight=False, width=None if sys.stdout.isatty() else 240)
    shown = BusURL.parse(args.bus).shown
    if not chats:
        console.print(Text(f"no chats are running on {shown}"))
        return 0
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "title", "manager", "hosted", "since", "state"):
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=48)
    for info in chats:
        hosts = info["hosts"]
        hosted = ", ".join(f"{name} on {where}" for name, where in sorted(hosts.items()))
        local = [n for n in info.get("agents", []) if n not in hosts]
        if local:
            hosted = ", ".join(filter(None, [hosted, f"{', '.join(local)} with the manager"]))
        since = info.get("since")
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(since)) if since else ""
        state = "running" if info["running"] else "manager lost · resume to take over"
        table.add_row(
            *(
                Text(one_line(str(value)))
                for value in (
                    info["chat_id"],
                    info.get("title", ""),
                    info.get("manager", ""),
                    hosted,
                    started,
                    state,
                )
            )
        )
    console.print(table)
    return 0
