"""The CLI's transcript commands: list, show, export, import, replay, and preparing resume and fork.

Each command function takes the parsed arguments and returns the exit status; errors a user can
fix raise :class:`CommandError` (exit status 2) with a message that says what is wrong.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groupchat.events import Event
from groupchat.transcripts.schema import StoreError
from groupchat.transcripts.store import ChatLookupError, SqliteStore, default_db_path

if TYPE_CHECKING:
    import argparse

    from groupchat.agents import HumanParticipant
    from groupchat.chat import GroupChat
    from groupchat.models.pricing import CostOf, PriceTable
    from groupchat.spec import TeamSpec

__all__ = [
    "BUILTIN_DEMO",
    "BUILTIN_MAGENTIC_DEMO",
    "CommandError",
    "Prepared",
    "cmd_export",
    "cmd_import",
    "cmd_list",
    "cmd_replay",
    "cmd_show",
    "db_path",
    "open_store",
    "prepare_fork",
    "prepare_resume",
    "replay_events",
    "seated",
]

BUILTIN_DEMO: dict[str, Any] = {"builtin": "demo"}
"""The stored spec of a demo chat (its team is built in code, not from a spec file)."""
BUILTIN_MAGENTIC_DEMO: dict[str, Any] = {"builtin": "magentic-demo"}
"""The stored spec of a magentic demo chat."""


class CommandError(Exception):
    """Bad input or a chat that cannot be found: printed, exit status 2."""


@dataclass
class Prepared:
    """A chat ready to run, and what its recording needs to know."""

    chat: GroupChat
    task: str | None
    title: str = ""
    spec: dict[str, Any] | None = None
    parent_id: str | None = None
    fork_seq: int | None = None
    notes: list[str] = field(default_factory=list)
    prices: PriceTable | None = None
    """The team's prices: the front-ends show the chat's cost with them."""


def seated(chat: GroupChat, name: str | None) -> HumanParticipant | None:
    """The person at the keyboard (``--as NAME``, any case; default: the team's first).

    Raises :class:`CommandError` naming the team's people when ``name`` is not one of them.
    """
    from groupchat.agents import HumanParticipant

    people = [p for p in chat.participants.values() if isinstance(p, HumanParticipant)]
    if name is None:
        return people[0] if people else None
    for person in people:
        if person.name.lower() == name.lstrip("@").lower():
            return person
    if not people:
        raise CommandError(f"--as {name}: this team has no human participant")
    names = ", ".join(p.name for p in people)
    raise CommandError(f"--as {name}: not a human participant of this team ({names})")


def db_path(args: argparse.Namespace) -> Path:
    return Path(args.db).expanduser() if getattr(args, "db", None) else default_db_path()


async def open_store(args: argparse.Namespace) -> SqliteStore:
    path = db_path(args)
    try:
        return await SqliteStore.open(path)
    except StoreError as exc:  # its message names the file already
        raise CommandError(str(exc)) from None
    except Exception as exc:
        raise CommandError(f"cannot open the chat database {path}: {exc}") from None


async def _find(store: SqliteStore, ident: str) -> str:
    try:
        return (await store.chat(ident)).id
    except ChatLookupError as exc:
        raise CommandError(str(exc)) from None


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


async def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from groupchat.tui.safe import one_line
    from groupchat.tui.share.paths import is_running, running_chats

    store = await open_store(args)
    try:
        chats = await store.chats(search=args.search, limit=args.limit)
    finally:
        await store.close()
    # Piped output is for scripts: wide enough that nothing is cut.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
    if not chats:
        found = f" matching {args.search!r}" if args.search else ""
        console.print(Text(f"no chats{found} in {db_path(args)}"))
        return 0
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=48)
    table.add_column("participants", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("messages", no_wrap=True, justify="right")
    table.add_column("started", no_wrap=True)
    table.add_column("state", no_wrap=True)
    shared = set(running_chats())
    for chat in chats:
        state = chat.state if chat.status is None or chat.state != "ended" else chat.status
        if chat.id in shared and is_running(chat.id):
            state = f"{state} · joinable"  # `groupchat join ID` takes part from here
        title = one_line(chat.title or chat.team or "")
        if chat.parent_id:
            title = f"⑂ {one_line(chat.parent_id[:8])}@{chat.fork_seq} · {title}"
        table.add_row(  # ids and names of imported chats are data too: never control sequences
            Text(one_line(chat.id)),
            Text(title),
            Text(one_line(", ".join(chat.participants))),
            Text(str(chat.messages)),
            Text(_when(chat.started)),
            Text(state),
        )
    console.print(table)
    return 0


async def _chat_events(args: argparse.Namespace) -> tuple[str, list[Event]]:
    store = await open_store(args)
    try:
        chat_id = await _find(store, args.id)
        return chat_id, await store.events(chat_id)
    finally:
        await store.close()


async def cmd_show(args: argparse.Namespace) -> int:
    from rich.console import Console

    from groupchat.tui.console import ConsoleRenderer

    store = await open_store(args)
    try:
        chat_id = await _find(store, args.id)
        events = await store.events(chat_id)
        stored = await store.spec(chat_id)
    finally:
        await store.close()
    console = Console(highlight=False)
    cost_of, problem = _stored_costing(stored)
    renderer = ConsoleRenderer(console, cost_of=cost_of)
    for event in events:
        renderer.render(event)
    if problem:
        from rich.text import Text

        console.print(Text(f"cost not shown: {problem}", style="dim"))
    return 0


def _stored_costing(stored: dict[str, Any] | None) -> tuple[CostOf | None, str]:
    """How ``show`` prices a stored chat: with the prices and models of its stored spec (its
    tools are not imported: they need not be installed to show a chat). Without prices, no
    cost; with a spec that no longer validates, no cost and why."""
    from groupchat.spec import TeamSpec
    from groupchat.spec_llm import NO_IMPORTS

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
    from groupchat.tui.safe import one_line

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


async def cmd_import(args: argparse.Namespace) -> int:
    from groupchat.transcripts.jsonl import JsonlError, read_transcript
    from groupchat.tui.safe import one_line

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
        chat_id = await store.import_events(events, title=args.title or Path(args.file).stem)
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
        await run_replay_console(events, speed=args.speed)
    except ReplayError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _with(args: argparse.Namespace, **changes: Any) -> argparse.Namespace:
    import argparse

    return argparse.Namespace(**{**vars(args), **changes})


# ------------------------------------------------------------------ resume and fork


def _spec_from(stored: dict[str, Any] | None, chat_id: str) -> TeamSpec | dict[str, Any]:
    """The stored team spec, or the marker of a built-in demo team."""
    from groupchat.spec import SpecError, TeamSpec, parse_spec

    if stored is not None and stored in (BUILTIN_DEMO, BUILTIN_MAGENTIC_DEMO):
        return stored
    if stored is None:
        raise CommandError(f"chat {chat_id} has no stored team spec; give one with --spec FILE")
    try:
        return TeamSpec.model_validate(stored)
    except ValueError:
        import json

        try:  # re-validate for an error message that names the field
            parse_spec(json.dumps(stored), source=f"stored spec of {chat_id}", format="json")
        except SpecError as exc:
            raise CommandError(f"{exc}; give another with --spec FILE") from None
        raise


def _with_policy(spec: TeamSpec | dict[str, Any], policy: str | None) -> TeamSpec | dict[str, Any]:
    """``spec`` with its policy replaced by ``policy`` (a policy kind), if one is given."""
    from groupchat.spec import TeamSpec

    if policy is None:
        return spec
    if isinstance(spec, dict):
        raise CommandError("--policy needs a team spec; the demo team has its own policy")
    try:
        # The policy replaces a manager too (a magentic team goes on with that policy).
        data = {**spec.model_dump(mode="json"), "policy": policy, "manager": None}
        return TeamSpec.model_validate(data)
    except ValueError as exc:
        raise CommandError(f"--policy {policy}: {exc}") from None


def _build(spec: TeamSpec | dict[str, Any], chat_id: str) -> GroupChat:
    from groupchat.bus import EventBus
    from groupchat.demo import build_demo

    if spec == BUILTIN_MAGENTIC_DEMO:
        from groupchat.magentic.demo import build_magentic_demo

        return build_magentic_demo(chat_id=chat_id)[0]
    if isinstance(spec, dict):
        return build_demo(chat_id=chat_id)[0]
    try:
        return spec.build(chat_id=chat_id, bus=EventBus())
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _load_spec_file(path: str | None) -> TeamSpec | None:
    from groupchat.spec import SpecError, load_spec

    if path is None:
        return None
    try:
        return load_spec(path)
    except SpecError as exc:
        raise CommandError(str(exc)) from None


def _stored_spec(spec: TeamSpec | dict[str, Any]) -> dict[str, Any]:
    return spec if isinstance(spec, dict) else spec.model_dump(mode="json")


def _prices(spec: TeamSpec | dict[str, Any]) -> PriceTable | None:
    return None if isinstance(spec, dict) else spec.price_table()


async def prepare_resume(store: SqliteStore, args: argparse.Namespace) -> Prepared:
    """The stored chat rebuilt and ready to continue (with ``--spec``, another team)."""
    chat_id = await _find(store, args.id)
    summary = await store.chat(chat_id)
    if summary.running_elsewhere:  # a second writer: the first would fail on its next event
        raise CommandError(
            f"chat {chat_id} is running in another groupchat; take part with "
            f"`groupchat join {chat_id}`, or resume it once it has ended"
        )
    spec = _load_spec_file(args.spec) or _spec_from(await store.spec(chat_id), chat_id)
    chat = _build(spec, chat_id)
    events = await store.events(chat_id)
    try:
        chat.load(events)
    except ValueError as exc:
        raise CommandError(f"chat {chat_id} cannot be resumed: {exc}") from None
    notes = []
    if summary.state == "ended" and not args.task:
        notes.append("the chat had ended; it goes on where it stopped (give --task for a new one)")
    return Prepared(
        chat,
        args.task,
        title=summary.title,
        spec=_stored_spec(spec),
        notes=notes,
        prices=_prices(spec),
    )


async def prepare_fork(store: SqliteStore, args: argparse.Namespace) -> Prepared:
    """A new chat sharing the history of ``args.id`` up to ``args.at``, stored with its lineage."""
    parent = await _find(store, args.id)
    summary = await store.chat(parent)
    if not 0 <= args.at <= summary.last_seq:
        raise CommandError(f"--at {args.at}: chat {parent} has events 0..{summary.last_seq}")
    spec = _load_spec_file(args.spec) or _spec_from(await store.spec(parent), parent)
    spec = _with_policy(spec, args.policy)
    new_id = uuid.uuid4().hex[:12]
    chat = _build(spec, new_id)
    seated(chat, getattr(args, "seat", None))  # a wrong --as before the fork is stored
    shared = await store.events(parent, 0, args.at + 1)
    events = [e.model_copy(update={"chat_id": new_id}) for e in shared]
    try:
        chat.load(events)
    except ValueError as exc:
        raise CommandError(f"cannot fork chat {parent} at {args.at}: {exc}") from None
    title = summary.title or parent
    stored_spec = _stored_spec(spec)
    await store.create_chat(
        new_id, title=title, spec=stored_spec, parent_id=parent, fork_seq=args.at
    )
    await store.append_many(events)
    await store.flush()
    return Prepared(
        chat,
        args.task,
        title=title,
        spec=stored_spec,
        parent_id=parent,
        fork_seq=args.at,
        notes=[f"forked chat {parent} at event {args.at} as {new_id}"],
        prices=_prices(spec),
    )
