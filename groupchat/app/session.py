"""A chat session of the command line: open the store, record the chat while it runs, share
it with other terminals, and run it in the front-end that fits (the full-screen app, the plain
console, or headless), ending with the exit status.

Front-ends are imported only when used, so a headless run never loads Textual.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groupchat.app.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, CommandError, fail

if TYPE_CHECKING:
    from groupchat.agents import HumanParticipant
    from groupchat.app.bus import BusChat
    from groupchat.chat import ChatResult, GroupChat
    from groupchat.events import Event
    from groupchat.models.pricing import PriceTable
    from groupchat.transcripts.protocols import Catalogue, EventLog, TranscriptStore
    from groupchat.tui.claims import Claims

__all__ = [
    "Prepare",
    "Prepared",
    "db_location",
    "db_shown",
    "discard_stdout",
    "drive",
    "find_chat",
    "open_store",
    "run_session",
    "seated",
    "use_tui",
]


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
    on_bus: BusChat | None = None
    """The chat's hold on a bus, when it runs on one: let go of once the run is over."""


Prepare = Callable[["TranscriptStore | None"], Awaitable[Prepared]]
"""Builds the chat to run, given the open store (``None`` with ``--no-store``)."""


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


def db_location(args: argparse.Namespace) -> str | Path:
    """The store ``--db`` names, else the default one: a ``postgresql://`` URL as it is (its
    password too: show it with :func:`db_shown`), or the path of a SQLite file."""
    from groupchat.transcripts.factory import default_db_location, is_postgres_url

    given = getattr(args, "db", None)
    if not given:
        return default_db_location()
    return given if is_postgres_url(given) else Path(given).expanduser()


def db_shown(args: argparse.Namespace) -> str:
    """The store ``--db`` names as it may be shown: a URL without its password."""
    from groupchat.redact import shown_url

    return shown_url(str(db_location(args)))


async def open_store(args: argparse.Namespace) -> TranscriptStore:
    """The store ``--db`` names (else the default one), opened by the transcripts' factory."""
    from groupchat.transcripts import factory
    from groupchat.transcripts.schema import StoreError

    try:
        return await factory.open_store(db_location(args))
    except StoreError as exc:  # its message names the store already (never a password)
        raise CommandError(str(exc)) from None
    except Exception as exc:
        raise CommandError(f"cannot open the chat database {db_shown(args)}: {exc}") from None


async def find_chat(store: Catalogue, ident: str) -> str:
    """The id of the stored chat ``ident`` names (an id or a unique prefix)."""
    from groupchat.transcripts.records import ChatLookupError

    try:
        return (await store.chat(ident)).id
    except ChatLookupError as exc:
        raise CommandError(str(exc)) from None


def stdout_closed() -> bool:
    """After the reader of our output went away, point stdout at /dev/null so that the
    interpreter's final flush does not fail with a traceback."""
    try:
        sys.stdout.flush()
        return False
    except (BrokenPipeError, ValueError):
        discard_stdout()
        return True


def discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _exit_code(result: ChatResult) -> int:
    if result.status == "error":
        return EXIT_FAILURE
    if result.status == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_OK


def use_tui(args: argparse.Namespace) -> bool:
    """The full-screen app is the default in a terminal, unless --plain, --headless or --jsonl."""
    if any(getattr(args, flag, False) for flag in ("plain", "headless", "jsonl")):
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


async def drive(
    chat: GroupChat,
    task: str | None,
    args: argparse.Namespace,
    human: HumanParticipant | None,
    *,
    store: EventLog | None = None,
    prices: PriceTable | None = None,
    claims: Claims | None = None,
) -> ChatResult:
    """Run ``chat`` in the front-end the arguments ask for."""
    if args.jsonl or args.headless:
        from groupchat.tui.headless import run_headless

        # A message is printed once it is stored, so that whatever was shown survives a crash.
        committed = store.wait_committed if store is not None else None
        return await run_headless(
            chat, task, jsonl=args.jsonl, committed=committed, prices=prices, claims=claims
        )
    if use_tui(args):
        from groupchat.app.launch import run_tui, stored_history

        history = await stored_history(store, chat.chat_id)
        return await run_tui(chat, task, human=human, history=history, prices=prices, claims=claims)
    from groupchat.tui.console import run_console

    return await run_console(chat, task, human=human, prices=prices, claims=claims)


def _sharing(args: argparse.Namespace) -> bool:
    """Whether to share the chat: ``--share``/``--no-share``, else when run in a terminal."""
    share: bool | None = getattr(args, "share", None)
    if share is not None:
        return share
    if args.jsonl or args.headless:
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


@contextlib.asynccontextmanager
async def _shared(
    args: argparse.Namespace,
    chat: GroupChat,
    store: EventLog | None,
    on_bus: BusChat | None = None,
) -> AsyncIterator[Claims]:
    """Share ``chat`` on a Unix socket while it runs (unless not wanted, or impossible). On a
    bus, people join over it too, in the same seats (``on_bus.claims``)."""
    from groupchat.tui.claims import Claims

    claims = on_bus.claims if on_bus is not None else Claims()
    if not _sharing(args):
        yield claims
        return
    from groupchat.tui.share.paths import ShareFolderError
    from groupchat.tui.share.server import ShareError, ShareServer

    earlier = None
    if store is not None:
        from groupchat.transcripts.records import ChatLookupError

        live = store  # one name the closure keeps, typed as not None

        async def earlier(end: int) -> list[Event]:
            await live.wait_committed(chat.chat_id, end - 1)
            try:
                return await live.events(chat.chat_id, 0, end)
            except ChatLookupError:
                return []

    server = ShareServer(chat, claims, earlier=earlier)
    try:
        await server.start()
    except (ShareError, ShareFolderError, OSError) as exc:
        sys.stderr.write(f"groupchat: not shared: {exc}\n")
        yield claims
        return
    sys.stderr.write(f"groupchat: others join with: groupchat join {chat.chat_id}\n")
    try:
        yield claims
    finally:
        await server.close()


async def run_session(args: argparse.Namespace, prepare: Prepare, *, record: bool = True) -> int:
    """Open the store (unless ``--no-store``), prepare the chat, record it while it runs."""
    from groupchat.termination import MaxMessages

    store = None
    if record and not getattr(args, "no_store", False):
        store = await open_store(args)
    prepared: Prepared | None = None
    bus_failure: Exception | None = None
    try:
        prepared = await prepare(store)
        chat = prepared.chat
        # Who is at the keyboard: whoever is asked answers here; --as picks the voice.
        human = seated(chat, getattr(args, "seat", None))
        if getattr(args, "max_messages", None) is not None:
            limit = MaxMessages(args.max_messages)
            chat.termination = limit if chat.termination is None else chat.termination | limit
        for note in prepared.notes:
            sys.stderr.write(f"groupchat: {note}\n")
        recorder = None
        if store is not None:
            from groupchat.transcripts.recorder import StoreRecorder

            recorder = StoreRecorder(
                store,
                chat.bus,
                chat.chat_id,
                title=prepared.title,
                spec=prepared.spec,
                parent_id=prepared.parent_id,
                fork_seq=prepared.fork_seq,
                # The chat never goes on unrecorded: a store that fails ends it with the error.
                on_error=lambda exc: chat.fail(f"cannot record the chat: {exc}", detail="store"),
            )
            await recorder.start()
        try:
            async with _shared(args, chat, store, prepared.on_bus) as claims:
                result = await drive(
                    chat,
                    prepared.task,
                    args,
                    human,
                    store=store,
                    prices=prepared.prices,
                    claims=claims,
                )
        except BaseException:
            if recorder is not None:
                await recorder.stop()  # what was recorded is committed; the store closes next
            raise
        if recorder is not None:
            await recorder.wait()
    finally:
        if prepared is not None and prepared.on_bus is not None:
            bus_failure = await prepared.on_bus.close()
        if store is not None:
            await store.close()
    if stdout_closed():
        return EXIT_OK
    if bus_failure is not None and result.status != "error":
        return fail(f"the chat's end is not on the bus: {bus_failure}", EXIT_FAILURE)
    if result.status == "error" and not (args.jsonl or args.headless):
        return fail(result.reason, EXIT_FAILURE)
    return _exit_code(result)
