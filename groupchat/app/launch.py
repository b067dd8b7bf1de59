"""Starting the full-screen app from the command line: a live chat, or a replay.

The command line imports this module only when the app is used, so Textual loads only then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from groupchat.events import Event
from groupchat.tui.live import STOP_WAIT, LiveChatApp
from groupchat.tui.replay_app import ReplayApp

if TYPE_CHECKING:
    import argparse

    from groupchat.agents import HumanParticipant
    from groupchat.chat import ChatResult, GroupChat
    from groupchat.models.pricing import PriceTable
    from groupchat.transcripts.protocols import EventLog
    from groupchat.tui.claims import Claims

__all__ = ["cmd_replay_tui", "load_replay_events", "run_replay_tui", "run_tui", "stored_history"]


async def run_tui(
    chat: GroupChat,
    task: str | None,
    *,
    human: HumanParticipant | None = None,
    history: Sequence[Event] = (),
    prices: PriceTable | None = None,
    claims: Claims | None = None,
) -> ChatResult:
    """Run ``chat`` in the full-screen app with ``human`` at the keyboard until they quit.

    ``history`` (a resumed or forked chat's earlier events) is shown before the new ones; the
    people in ``claims`` answer from joined terminals while claimed.
    """
    from groupchat.tui.prefs import prefs_path

    app = LiveChatApp(
        chat,
        task,
        human=human,
        history=history,
        prices=prices,
        claims=claims,
        quiet_gc=True,
        prefs=prefs_path(),
    )
    try:
        await app.run_async()
    finally:
        runner = app.runner
        if runner is not None and not runner.done():
            await chat.stop("the terminal app closed")
            done, _ = await asyncio.wait((runner,), timeout=STOP_WAIT)
            if not done:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
    if app.failure is not None:
        raise app.failure
    if app.result is None:
        raise RuntimeError("the terminal app closed before the chat could run")
    return app.result


async def stored_history(store: EventLog | None, chat_id: str) -> list[Event]:
    """What the store holds of ``chat_id`` before it runs again (resumed, forked; else none)."""
    if store is None:
        return []
    from groupchat.transcripts.records import ChatLookupError

    try:
        return await store.events(chat_id)
    except ChatLookupError:
        return []


async def run_replay_tui(events: Sequence[Event], *, speed: float = 1.0) -> bool:
    """Replay ``events`` in the full-screen app; ``True`` if it was shown to the end."""
    from groupchat.tui.prefs import prefs_path

    app = ReplayApp(events, speed=speed, quiet_gc=True, prefs=prefs_path())
    await app.run_async()
    return app.finished


async def load_replay_events(args: argparse.Namespace) -> list[Event]:
    """The events ``groupchat replay`` names: a sample, a JSONL file, or a stored chat's id."""
    from groupchat.app.transcripts import replay_events

    return await replay_events(args)


async def cmd_replay_tui(args: argparse.Namespace) -> int:
    """``groupchat replay`` in the full-screen app."""
    from groupchat.app.errors import CommandError
    from groupchat.transcripts.replay import ReplayError

    events = await load_replay_events(args)
    try:
        await run_replay_tui(events, speed=args.speed)
    except ReplayError as exc:
        raise CommandError(str(exc)) from None
    return 0
