"""The ``groupchat`` command.

Exit status: 0 when a chat ends normally, 1 on a runtime failure, 2 on bad input or usage,
128 + the signal's number when ended by one (130 for Ctrl+C, 143 for SIGTERM, 129 for SIGHUP).
Front-ends are imported only by the commands that use them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from groupchat.agents import HumanParticipant
    from groupchat.chat import ChatResult, GroupChat
    from groupchat.events import Event
    from groupchat.models.pricing import PriceTable
    from groupchat.spec import TeamSpec
    from groupchat.transcripts.commands import Prepared
    from groupchat.transcripts.store import SqliteStore
    from groupchat.tui.claims import Claims

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
"""Why writing standard output can fail that no change to the command would fix."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):  # a delay of inf waits for ever; nan is no number at all
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value:g} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    from groupchat import __version__

    parser = _Parser(
        prog="groupchat",
        description="Multi-agent group chats where LLM agents and people talk together.",
    )
    parser.add_argument("--version", action="version", version=f"groupchat {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            metavar="PATH",
            help="the chat database (default: $GROUPCHAT_DB, else in your data directory)",
        )

    def seat_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--as",
            dest="seat",
            metavar="NAME",
            help="with several people in the team: who you are when you speak out of turn "
            "(default: the first); whoever is asked still answers from this terminal",
        )

    def share_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--share",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="let other terminals of yours join this chat with `groupchat join ID` "
            "(default: on when run in a terminal, off with piped input or output)",
        )

    def record_options(p: argparse.ArgumentParser) -> None:
        db_option(p)
        p.add_argument("--no-store", action="store_true", help="do not record this chat")

    def output_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--headless",
            action="store_true",
            help="no UI: print one line per message; people answer on standard input",
        )
        p.add_argument(
            "--jsonl",
            action="store_true",
            help="print every event as one JSON line (implies --headless)",
        )
        p.add_argument(
            "--plain",
            action="store_true",
            help="use the plain console instead of the full-screen app",
        )

    demo = commands.add_parser(
        "demo",
        help="run the offline demo team (scripted agents and you)",
        description=(
            "An offline team of scripted agents plus you: streaming, @mention routing with "
            "reasons, your turns and interjections. No API key, no network."
        ),
    )
    output_options(demo)
    share_option(demo)
    record_options(demo)
    demo.add_argument(
        "--delay",
        type=_non_negative_float,
        default=0.03,
        metavar="SECONDS",
        help="pause between streamed words (default 0.03; 0 for instant)",
    )
    demo.add_argument(
        "--magentic",
        action="store_true",
        help="the magentic demo: a manager plans (you review the plan) and directs the team",
    )

    run = commands.add_parser("run", help="run a team spec (YAML or TOML)")
    run.add_argument("spec", metavar="SPEC", help="team spec file (.yaml, .yml, .toml, .json)")
    run.add_argument("--task", help="the task to start with (overrides the spec's)")
    run.add_argument(
        "--max-messages",
        type=_positive_int,
        metavar="N",
        help="end after N messages (in addition to the spec's conditions)",
    )
    run.add_argument(
        "--model",
        metavar="MODEL",
        help="the model of every LLM participant and selector, overriding the spec "
        "(openai:gpt-4.1-mini, ollama:llama3.2, http://host:port/v1#model, ...)",
    )
    output_options(run)
    share_option(run)
    seat_option(run)
    record_options(run)

    check = commands.add_parser("check", help="validate a team spec and show what it builds")
    check.add_argument("spec", metavar="SPEC")

    listing = commands.add_parser("list", help="list recorded chats")
    listing.add_argument("--search", metavar="TEXT", help="only chats whose messages match TEXT")
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="at most N chats")
    db_option(listing)

    show = commands.add_parser("show", help="show a recorded chat in the terminal")
    show.add_argument("id", metavar="ID", help="chat id (or a unique prefix)")
    db_option(show)

    export = commands.add_parser("export", help="export a chat as JSONL, Markdown or HTML")
    export.add_argument("id", metavar="ID")
    export.add_argument(
        "--format",
        choices=("jsonl", "md", "html"),
        help="default: the suffix of FILE (.md, .html, .jsonl), else jsonl",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    db_option(export)

    imp = commands.add_parser("import", help="import a chat from a JSONL transcript")
    imp.add_argument("file", metavar="FILE.jsonl")
    imp.add_argument("--title", help="title of the imported chat (default: the file name)")
    db_option(imp)

    resume = commands.add_parser("resume", help="continue a recorded chat where it stopped")
    resume.add_argument("id", metavar="ID")
    resume.add_argument("--spec", metavar="FILE", help="continue with this team instead")
    resume.add_argument("--task", help="a new task to continue with")
    resume.add_argument("--max-messages", type=_positive_int, metavar="N")
    output_options(resume)
    share_option(resume)
    seat_option(resume)
    db_option(resume)

    fork = commands.add_parser("fork", help="branch a recorded chat off at an event")
    fork.add_argument("id", metavar="ID")
    fork.add_argument("--at", type=int, required=True, metavar="SEQ", help="last shared event")
    fork.add_argument("--spec", metavar="FILE", help="go on with this team instead")
    fork.add_argument(
        "--policy",
        choices=("round_robin", "random", "manual", "mention"),
        help="go on with this speaker-selection policy",
    )
    fork.add_argument("--task", help="a task to go on with")
    fork.add_argument("--max-messages", type=_positive_int, metavar="N")
    output_options(fork)
    share_option(fork)
    seat_option(fork)
    db_option(fork)

    join = commands.add_parser(
        "join",
        help="take part in a chat running in another terminal",
        description=(
            "Join a chat that runs in another of your terminals (`run`, `resume`, `fork` and "
            "`demo` share it): see it so far and live, and speak as one of its people."
        ),
    )
    join.add_argument("id", metavar="ID", help="the running chat's id (or a unique prefix)")
    join.add_argument(
        "--as",
        dest="seat",
        metavar="NAME",
        help="the person you are (default: the first one nobody answers for yet)",
    )
    join.add_argument(
        "--plain", action="store_true", help="the plain console instead of the terminal app"
    )

    replay = commands.add_parser("replay", help="replay a recorded chat (no model is called)")
    replay.add_argument("source", nargs="?", metavar="ID|FILE.jsonl")
    replay.add_argument("--sample", metavar="NAME", help="replay a sample shipped with groupchat")
    replay.add_argument(
        "--speed",
        type=_non_negative_float,
        default=1.0,
        metavar="X",
        help="times the original pace (default 1; 0 = as fast as possible)",
    )
    replay.add_argument(
        "--plain", action="store_true", help="replay in the plain console, not the full-screen app"
    )
    db_option(replay)
    return parser


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"groupchat: error: {message}\n")
    return code


def _stdout_closed() -> bool:
    """After the reader of our output went away, point stdout at /dev/null so that the
    interpreter's final flush does not fail with a traceback."""
    try:
        sys.stdout.flush()
        return False
    except (BrokenPipeError, ValueError):
        _discard_stdout()
        return True


def _discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _exit_code(result: ChatResult) -> int:
    if result.status == "error":
        return EXIT_FAILURE
    if result.status == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_OK


def _use_tui(args: argparse.Namespace) -> bool:
    """The full-screen app is the default in a terminal, unless --plain, --headless or --jsonl."""
    if any(getattr(args, flag, False) for flag in ("plain", "headless", "jsonl")):
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


async def _drive(
    chat: GroupChat,
    task: str | None,
    args: argparse.Namespace,
    human: HumanParticipant | None,
    *,
    store: SqliteStore | None = None,
    prices: PriceTable | None = None,
    claims: Claims | None = None,
) -> ChatResult:
    if args.jsonl or args.headless:
        from groupchat.tui.headless import run_headless

        # A message is printed once it is stored, so that whatever was shown survives a crash.
        committed = store.wait_committed if store is not None else None
        return await run_headless(
            chat, task, jsonl=args.jsonl, committed=committed, prices=prices, claims=claims
        )
    if _use_tui(args):
        from groupchat.tui.launch import run_tui, stored_history

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
    args: argparse.Namespace, chat: GroupChat, store: SqliteStore | None
) -> AsyncIterator[Claims]:
    """Share ``chat`` on a Unix socket while it runs (unless not wanted, or impossible)."""
    from groupchat.tui.claims import Claims

    claims = Claims()
    if not _sharing(args):
        yield claims
        return
    from groupchat.tui.share.paths import ShareFolderError
    from groupchat.tui.share.server import ShareError, ShareServer

    earlier = None
    if store is not None:
        from groupchat.transcripts.store import ChatLookupError

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


Prepare = Callable[["SqliteStore | None"], Awaitable["Prepared"]]
"""Builds the chat to run, given the open store (``None`` with ``--no-store``)."""


async def _session(args: argparse.Namespace, prepare: Prepare, *, record: bool = True) -> int:
    """Open the store (unless ``--no-store``), prepare the chat, record it while it runs."""
    from groupchat.termination import MaxMessages
    from groupchat.transcripts.commands import seated

    store = None
    if record and not getattr(args, "no_store", False):
        from groupchat.transcripts.commands import open_store

        store = await open_store(args)
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
            async with _shared(args, chat, store) as claims:
                result = await _drive(
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
        if store is not None:
            await store.close()
    if _stdout_closed():
        return EXIT_OK
    if result.status == "error" and not (args.jsonl or args.headless):
        return _fail(result.reason, EXIT_FAILURE)
    return _exit_code(result)


_ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that end a command the way Ctrl+C does: the chat winds down and records its end, a
shared chat's socket is removed, and the exit status is 128 + the signal's number."""


async def _interruptible(main: Coroutine[Any, Any, int], received: list[int]) -> int:
    """Run ``main``; the first of :data:`_ENDING_SIGNALS` cancels it (its number goes into
    ``received``), so that the chat winds down and records its end, and any further one
    meanwhile is ignored: raised into the event loop, it would stop it under the store and leave
    the process hanging at exit. A closed terminal (SIGHUP) or ``kill`` (SIGTERM) then leaves as
    tidy a transcript as Ctrl+C."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if task is not None and not task.cancelling():
            received.append(signum)
            task.cancel()

    installed = []
    try:
        for signum in _ENDING_SIGNALS:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        for signum in installed:
            loop.remove_signal_handler(signum)
        return await main
    try:
        return await main
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _run_async(main: Coroutine[Any, Any, int]) -> int:
    from groupchat.transcripts.commands import CommandError
    from groupchat.transcripts.schema import StoreError

    received: list[int] = []
    try:
        code = asyncio.run(_interruptible(main, received))
    except (KeyboardInterrupt, asyncio.CancelledError):
        code = EXIT_INTERRUPTED
    except CommandError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except StoreError as exc:  # the database cannot be written or read (disk full, locked)
        return _fail(str(exc), EXIT_FAILURE)
    if received and code in (EXIT_OK, EXIT_INTERRUPTED):  # the front-end may end it as stopped
        return 128 + received[0]  # 130 for Ctrl+C, 143 for SIGTERM, 129 for SIGHUP
    return code


def _cmd_demo(args: argparse.Namespace) -> int:
    from groupchat.demo import DEMO_TASK, build_demo
    from groupchat.transcripts.commands import BUILTIN_DEMO, BUILTIN_MAGENTIC_DEMO, Prepared

    async def prepare(store: object) -> Prepared:
        if args.magentic:
            from groupchat.magentic.demo import MAGENTIC_DEMO_TASK, build_magentic_demo

            chat, _human = build_magentic_demo(delay=args.delay)
            title = f"magentic demo: {MAGENTIC_DEMO_TASK}"
            return Prepared(chat, MAGENTIC_DEMO_TASK, title=title, spec=BUILTIN_MAGENTIC_DEMO)
        chat, _human = build_demo(delay=args.delay)
        return Prepared(chat, DEMO_TASK, title=f"demo: {DEMO_TASK}", spec=BUILTIN_DEMO)

    return _run_async(_session(args, prepare))


def _team(path: str, model: str | None = None) -> tuple[TeamSpec, GroupChat]:
    """Load a spec and build its chat, or raise ``CommandError`` saying what is wrong."""
    from groupchat.spec import SpecError, load_spec
    from groupchat.transcripts.commands import CommandError

    try:
        spec = load_spec(path)
    except SpecError as exc:
        raise CommandError(str(exc)) from None
    try:
        if model is not None:
            spec = spec.with_model(model)
        return spec, spec.build()
    except ValueError as exc:  # SpecError included: building knows no file name
        raise CommandError(f"{path}: {exc}") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from groupchat.transcripts.commands import Prepared

    spec, chat = _team(args.spec, args.model)
    task = args.task if args.task is not None else spec.task
    title = f"{spec.name}: {task}" if task else spec.name

    async def prepare(store: object) -> Prepared:
        stored = spec.model_dump(mode="json")
        return Prepared(chat, task, title=title, spec=stored, prices=spec.price_table())

    return _run_async(_session(args, prepare))


def _cmd_check(args: argparse.Namespace) -> int:
    from groupchat.tui.safe import one_line

    spec, chat = _team(args.spec)
    names = ", ".join(
        f"{name} ({'human' if info.human else info.kind})"
        for name, info in chat.view.participants.items()
    )
    lines = [
        f"{args.spec}: ok",
        f"  team:         {spec.name}",
        f"  participants: {names}",
        f"  policy:       {chat.policy.describe()}",
        f"  termination:  {chat.termination.describe() if chat.termination else 'none'}",
    ]
    if spec.task:
        lines.append(f"  task:         {spec.task}")
    lines += _price_lines(spec)
    for line in lines:  # the spec's text is data: never terminal control sequences
        print(one_line(line))
    return EXIT_OK


def _price_lines(spec: TeamSpec) -> list[str]:
    """What ``check`` says of the team's prices: each one, the models that have none (their
    cost will show as unknown) and the prices no model of the team uses (a typo?)."""
    from groupchat.models.pricing import model_part

    table = spec.price_table()
    if table is None:
        return []
    lines = [
        f"  price:        {model}: ${price.input:g} in, ${price.output:g} out per 1M tokens"
        for model, price in table.prices.items()
    ]
    users: dict[str, list[str]] = {}
    for who, model in spec.model_users().items():
        users.setdefault(model, []).append(who)
    used: set[str] = set()
    for model, who in users.items():
        if table.price(model) is None:
            lines.append(f"  no price:     {model} ({', '.join(who)}): its cost shows as unknown")
        used |= {model, model_part(model)}
    for model in table.prices:
        if model not in used:
            lines.append(f"  unused price: {model}: no model of the team has this name")
    return lines


def _cmd_continue(args: argparse.Namespace) -> int:
    from groupchat.transcripts import commands

    prepare_fn = commands.prepare_resume if args.command == "resume" else commands.prepare_fork

    async def prepare(store: SqliteStore | None) -> Prepared:
        assert store is not None
        return await prepare_fn(store, args)

    return _run_async(_session(args, prepare))


def _cmd_join(args: argparse.Namespace) -> int:
    from groupchat.tui.safe import one_line
    from groupchat.tui.share.client import JoinError
    from groupchat.tui.share.join import join_chat

    if _use_tui(args):
        from groupchat.tui.share.join_app import join_tui

        joining = join_tui(args.id, args.seat)
    else:
        joining = join_chat(args.id, args.seat)
    try:
        return _run_async(joining)
    except JoinError as exc:  # names and text from the other side are data: one plain line
        return _fail(one_line(str(exc)), EXIT_USAGE)


def _cmd_transcripts(args: argparse.Namespace) -> int:
    from groupchat.transcripts import commands

    if args.command == "replay" and _use_tui(args):
        from groupchat.tui.launch import cmd_replay_tui

        return _run_async(cmd_replay_tui(args))

    handler = {
        "list": commands.cmd_list,
        "show": commands.cmd_show,
        "export": commands.cmd_export,
        "import": commands.cmd_import,
        "replay": commands.cmd_replay,
    }[args.command]
    return _run_async(handler(args))


def _tolerant_stdout() -> None:
    """Where standard output cannot encode every character (a locale that is not UTF-8), show
    ``?`` for what it cannot encode rather than fail; ``export -o FILE`` always writes UTF-8."""
    encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower().replace("-", "")
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if encoding != "utf8" and reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _tolerant_stdout()
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": _cmd_demo,
        "run": _cmd_run,
        "check": _cmd_check,
        "resume": _cmd_continue,
        "fork": _cmd_continue,
        "join": _cmd_join,
    }
    from groupchat.transcripts.commands import CommandError

    try:
        return handlers.get(args.command, _cmd_transcripts)(args)
    except CommandError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS:
            raise
        _discard_stdout()  # what is still buffered cannot be written either
        return _fail(f"cannot write the output: {exc.strerror}", EXIT_FAILURE)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
