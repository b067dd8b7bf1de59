"""The transcript commands: ``list``, ``show``, ``export``, ``import`` and ``replay``.

Each command function takes the parsed arguments and returns the exit status; errors a user can
fix raise :class:`~groupchat.app.errors.CommandError` (exit status 2) with a message that says
what is wrong. Names and text of stored chats are data: shown as plain text, never markup.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groupchat.app.errors import CommandError
from groupchat.app.output import stdout_console
from groupchat.app.running import run_async
from groupchat.app.session import db_shown, find_chat, open_store, use_tui
from groupchat.safe_text import one_line

if TYPE_CHECKING:
    from groupchat.events import Event
    from groupchat.models.pricing import CostOf
    from groupchat.transcripts.protocols import TranscriptStore
    from groupchat.transcripts.records import ChatSummary

__all__ = [
    "cmd_export",
    "cmd_import",
    "cmd_list",
    "cmd_replay",
    "cmd_show",
    "cmd_transcripts",
    "replay_events",
]


def cmd_transcripts(args: argparse.Namespace) -> int:
    """Run the transcript command ``args`` names."""
    if args.command == "replay" and use_tui(args):
        from groupchat.app.launch import cmd_replay_tui

        return run_async(cmd_replay_tui(args))

    handler = {
        "list": cmd_list,
        "show": cmd_show,
        "export": cmd_export,
        "import": cmd_import,
        "replay": cmd_replay,
    }[args.command]
    return run_async(handler(args))


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


async def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from groupchat.tui.share.paths import is_running, running_chats

    store = await open_store(args)
    try:
        chats = await store.chats(search=args.search, limit=args.limit)
        costs = [await _listed_cost(store, chat) for chat in chats]
    finally:
        await store.close()
    # Piped output is for scripts: wide enough that nothing is cut.
    console = stdout_console(highlight=False, width=None if sys.stdout.isatty() else 240)
    if not chats:
        found = f" matching {args.search!r}" if args.search else ""
        console.print(Text(f"no chats{found} in {db_shown(args)}"))
        return 0
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=48)
    table.add_column("participants", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("messages", no_wrap=True, justify="right")
    table.add_column("tokens", no_wrap=True, justify="right")
    table.add_column("cost", no_wrap=True, justify="right")
    table.add_column("started", no_wrap=True)
    table.add_column("state", no_wrap=True)
    shared = set(running_chats())
    for chat, cost in zip(chats, costs, strict=True):
        state = chat.state if chat.status is None or chat.state != "ended" else chat.status
        # An ended chat is not joinable, even while its terminal stays open to be read.
        if chat.state != "ended" and chat.id in shared and is_running(chat.id):
            state = f"{state} · joinable"  # `groupchat join ID` takes part from here
        title = one_line(chat.title or chat.team or "")
        if chat.parent_id:
            title = f"⑂ {one_line(chat.parent_id[:8])}@{chat.fork_seq} · {title}"
        table.add_row(  # ids and names of imported chats are data too: never control sequences
            Text(one_line(chat.id)),
            Text(title),
            Text(one_line(", ".join(chat.participants))),
            Text(str(chat.messages)),
            Text(str(chat.usage.total_tokens) if chat.usage.total_tokens else ""),
            Text(cost),
            Text(_when(chat.started)),
            Text(state),
        )
    console.print(table)
    return 0


async def _listed_cost(store: TranscriptStore, chat: ChatSummary) -> str:
    """What ``list`` shows as a chat's cost: the figure ``show`` gives at its end (``$0.0123``,
    ``≥ $0.0123 (partial)``, ``cost unknown``), priced the same way; empty for a chat whose
    team has no prices (or a stored spec that no longer validates, as ``show`` prices none),
    and for one that has not ended, whose per-participant usage only its end records."""
    from groupchat.events import ChatEnded

    if chat.state != "ended":
        return ""
    cost_of, _problem = _stored_costing(await store.spec(chat.id))
    if cost_of is None:
        return ""
    last = await store.events(chat.id, start=chat.last_seq)
    if not last or not isinstance(last[-1], ChatEnded):
        return ""
    return cost_of(last[-1].usage_by).short()


async def _chat_events(args: argparse.Namespace) -> tuple[str, list[Event]]:
    store = await open_store(args)
    try:
        chat_id = await find_chat(store, args.id)
        return chat_id, await store.events(chat_id)
    finally:
        await store.close()


async def cmd_show(args: argparse.Namespace) -> int:
    from groupchat.tui.console import ConsoleRenderer

    store = await open_store(args)
    try:
        chat_id = await find_chat(store, args.id)
        events = await store.events(chat_id)
        stored = await store.spec(chat_id)
    finally:
        await store.close()
    console = stdout_console(highlight=False)
    cost_of, problem = _stored_costing(stored)
    renderer = ConsoleRenderer(
        console, cost_of=cost_of, recorded=True, numbers=args.seq, stream=False
    )
    for event in events:
        renderer.render(event)
    renderer.finish()
    if problem:
        from rich.text import Text

        console.print(Text(f"cost not shown: {problem}", style="dim"))
    return 0


def _stored_costing(stored: dict[str, Any] | None) -> tuple[CostOf | None, str]:
    """How ``show`` prices a stored chat: with the prices and models of its stored spec (its
    tools are not imported: they need not be installed to show a chat). Without prices, no
    cost; with a spec that no longer validates, no cost and why."""
    from groupchat.spec import NO_IMPORTS, TeamSpec

    if not isinstance(stored, dict) or not stored.get("prices"):
        return None, ""
    try:
        spec = TeamSpec.model_validate(stored, context=NO_IMPORTS)
    except ValueError:
        return None, "the stored team spec does not validate"
    table = spec.price_table()
    if table is None:
        return None, ""
    users = spec.model_users()
    return (lambda usage_by: table.chat_cost(usage_by, users)), ""


async def cmd_export(args: argparse.Namespace) -> int:
    from groupchat.transcripts.export import to_html, to_markdown
    from groupchat.transcripts.jsonl import to_jsonl
    from groupchat.tui.export import FORMATS

    fmt = args.format
    if fmt is None and args.output:
        fmt = FORMATS.get(Path(args.output).suffix.lstrip(".").lower())
    chat_id, events = await _chat_events(args)
    render = {"jsonl": to_jsonl, "md": to_markdown, "html": to_html}[fmt or "jsonl"]
    text = render(events)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        sys.stderr.write(
            f"exported chat {one_line(chat_id)} ({len(events)} events) to {args.output}\n"
        )
    else:
        sys.stdout.write(text)
    return 0


def own_title(events: Sequence[Event]) -> str:
    """The title a chat had where it was recorded, from its start: as ``run`` names it
    (:func:`~groupchat.app.run.chat_title`), or its task alone without a team."""
    from groupchat.events import ChatStarted

    start = next((e for e in events if isinstance(e, ChatStarted)), None)
    if start is None:
        return ""
    from groupchat.app.run import chat_title

    team = start.metadata.get("team")
    task = start.task or ""
    if isinstance(team, str) and team:
        return chat_title(team, task)
    return next(iter(task.strip().splitlines()), "")


async def cmd_import(args: argparse.Namespace) -> int:
    from groupchat.transcripts.jsonl import JsonlError, read_transcript

    try:
        events = read_transcript(args.file)
    except FileNotFoundError:
        raise CommandError(f"{args.file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.file}: cannot read: {exc}") from None
    except JsonlError as exc:
        raise CommandError(str(exc)) from None
    store = await open_store(args)
    try:
        title = args.title or own_title(events) or Path(args.file).stem
        chat_id = await store.import_events(events, title=title)
    except ValueError as exc:
        raise CommandError(f"{args.file}: {exc}") from None
    finally:
        await store.close()
    print(f"imported chat {one_line(chat_id)} ({len(events)} events)")
    return 0


async def replay_events(args: argparse.Namespace) -> list[Event]:
    """The events ``groupchat replay`` names: a sample, a JSONL file, or a stored chat's id."""
    from groupchat.transcripts.jsonl import JsonlError
    from groupchat.transcripts.replay import read_events, sample_path

    try:
        if args.sample:
            events = read_events(sample_path(args.sample))
        elif args.source is None:
            raise CommandError("replay needs a chat id, a .jsonl file or --sample NAME")
        elif args.source.endswith(".jsonl") or Path(args.source).is_file():
            events = read_events(args.source)
        else:
            _chat_id, events = await _chat_events(_with(args, id=args.source))
    except FileNotFoundError:
        raise CommandError(f"{args.source}: no such file") from None
    except (JsonlError, LookupError) as exc:
        raise CommandError(str(exc).strip("'\"")) from None
    if not events:
        raise CommandError("the chat has no events to replay")
    return events


async def cmd_replay(args: argparse.Namespace) -> int:
    from groupchat.transcripts.replay import ReplayError
    from groupchat.tui.replay import run_replay_console

    events = await replay_events(args)
    try:
        await run_replay_console(events, speed=args.speed, console=stdout_console(highlight=False))
    except ReplayError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _with(args: argparse.Namespace, **changes: Any) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), **changes})
