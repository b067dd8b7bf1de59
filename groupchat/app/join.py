"""``groupchat join``: take part in a chat that runs in another terminal."""

from __future__ import annotations

import argparse

from groupchat.app.errors import EXIT_USAGE, fail
from groupchat.app.running import run_async
from groupchat.app.session import use_tui
from groupchat.safe_text import one_line

__all__ = ["cmd_join"]


def cmd_join(args: argparse.Namespace) -> int:
    from groupchat.tui.share.client import JoinError
    from groupchat.tui.share.join import join_chat

    if use_tui(args):
        from groupchat.tui.share.join_app import join_tui

        joining = join_tui(args.id, args.seat)
    else:
        joining = join_chat(args.id, args.seat)
    try:
        return run_async(joining)
    except JoinError as exc:  # names and text from the other side are data: one plain line
        return fail(one_line(str(exc)), EXIT_USAGE)
