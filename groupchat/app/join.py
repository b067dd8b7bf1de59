"""``groupchat join``: take part in a chat that runs in another terminal, or (``--bus``,
``$GROUPCHAT_BUS``) on a bus, from any machine."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from groupchat.app.errors import EXIT_USAGE, fail
from groupchat.app.running import run_async
from groupchat.app.session import use_tui
from groupchat.safe_text import one_line

__all__ = ["cmd_join"]


def cmd_join(args: argparse.Namespace) -> int:
    from groupchat.app.bus import bus_requested
    from groupchat.tui.share.client import JoinError
    from groupchat.tui.share.join import has_ended, join_chat

    bus = bus_requested(args)
    if use_tui(args):
        from groupchat.tui.share.join_app import join_tui

        joining = join_tui(args.id, args.seat, bus=bus)
    else:
        joining = join_chat(args.id, args.seat, bus=bus)
    try:
        return run_async(joining)
    except JoinError as exc:  # names and text from the other side are data: one plain line
        ended = _quietly(_ended_chat(args))
        if ended is not None:
            return fail(has_ended(ended), EXIT_USAGE)
        return fail(one_line(str(exc)), EXIT_USAGE)


def _quietly(main: Coroutine[Any, Any, str | None]) -> str | None:
    try:
        return asyncio.run(main)
    except Exception:  # the store is only asked to say more: its failures say nothing
        return None


async def _ended_chat(args: argparse.Namespace) -> str | None:
    """The id of the recorded chat ``args.id`` names if it has ended (``None``: it has not, it
    is not recorded, or there is no database; none is made here)."""
    from groupchat.app.session import db_location, open_store

    location = db_location(args)
    if isinstance(location, Path) and not location.exists():
        return None
    store = await open_store(args)
    try:
        summary = await store.chat(args.id)
    finally:
        await store.close()
    return summary.id if summary.state == "ended" else None
