"""The ``groupchat`` command's arguments: every command, its options and their checks."""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

from groupchat.app.errors import EXIT_USAGE

__all__ = ["build_parser"]


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
            metavar="PATH|URL",
            help=(
                "the chat database: a SQLite file, or postgresql://user@host/db[?schema=NAME] "
                "(default: $GROUPCHAT_DB, else a file in your data directory)"
            ),
        )

    def bus_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--bus",
            metavar="URL",
            help="run the chat on this Redis (redis://[user:password@]host:port/db, or "
            "rediss:// for TLS), so that workers and people on other machines take part "
            "(default: $GROUPCHAT_BUS, else in this process only)",
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
    bus_option(run)
    run.add_argument(
        "--wait-for",
        nargs="+",
        metavar="NAME",
        help="with --bus: wait (up to 10 s) for workers to host these agents before starting",
    )

    worker = commands.add_parser(
        "worker",
        help="host some of a team's agents for its chats on a bus",
        description=(
            "Host agents of a team for every chat of that team that runs on the bus (or one "
            "chat, with --chat): their turns run here, with what this machine has (a model "
            "server, credentials, tools). Ctrl+C or SIGTERM stops hosting."
        ),
    )
    worker.add_argument("spec", metavar="SPEC", help="the team spec the chats run")
    worker.add_argument(
        "--only", nargs="+", metavar="NAME", help="host these agents (default: every agent)"
    )
    worker.add_argument("--chat", metavar="ID", help="host them in this chat only")
    worker.add_argument("--model", metavar="MODEL", help="as for run")
    bus_option(worker)

    check = commands.add_parser("check", help="validate a team spec and show what it builds")
    check.add_argument("spec", metavar="SPEC")

    listing = commands.add_parser("list", help="list recorded chats")
    listing.add_argument("--search", metavar="TEXT", help="only chats whose messages match TEXT")
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="at most N chats")
    db_option(listing)
    listing.add_argument(
        "--bus",
        metavar="URL",
        help="list the chats running on this bus instead, and who hosts their agents",
    )

    show = commands.add_parser("show", help="show a recorded chat in the terminal")
    show.add_argument("id", metavar="ID", help="chat id (or a unique prefix)")
    show.add_argument(
        "--seq",
        action="store_true",
        help="end each message with its number and its event's seq (what `fork --at` takes)",
    )
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
    imp.add_argument(
        "--title",
        help="title of the imported chat (default: its own, 'team: task' as run names it; "
        "else the file name)",
    )
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
    bus_option(resume)

    fork = commands.add_parser("fork", help="branch a recorded chat off at an event")
    fork.add_argument("id", metavar="ID")
    at = fork.add_mutually_exclusive_group(required=True)
    at.add_argument("--at", type=int, metavar="SEQ", help="the last shared event")
    at.add_argument(
        "--message",
        type=_positive_int,
        metavar="N",
        help="share the history up to the chat's Nth message (`show --seq` numbers them)",
    )
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
    db_option(join)
    join.add_argument(
        "--bus",
        metavar="URL",
        help="join a chat running on this Redis, from any machine (default: $GROUPCHAT_BUS)",
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
