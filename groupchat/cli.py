"""The ``groupchat`` command.

Exit status: 0 when a chat ends normally, 1 on a runtime failure, 2 on bad input or usage,
130 when interrupted with Ctrl+C. Front-ends are imported only by the commands that use them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from groupchat.agents import HumanParticipant
    from groupchat.chat import ChatResult, GroupChat
    from groupchat.spec import TeamSpec

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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
            "--plain", action="store_true", help="use the plain console (the default for now)"
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
    demo.add_argument(
        "--delay",
        type=_non_negative_float,
        default=0.03,
        metavar="SECONDS",
        help="pause between streamed words (default 0.03; 0 for instant)",
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

    check = commands.add_parser("check", help="validate a team spec and show what it builds")
    check.add_argument("spec", metavar="SPEC")
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
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return True


def _exit_code(result: ChatResult) -> int:
    if result.status == "error":
        return EXIT_FAILURE
    if result.status == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_OK


async def _drive(
    chat: GroupChat,
    task: str | None,
    args: argparse.Namespace,
    human: HumanParticipant | None,
) -> ChatResult:
    if args.jsonl or args.headless:
        from groupchat.tui.headless import run_headless

        return await run_headless(chat, task, jsonl=args.jsonl)
    from groupchat.tui.console import run_console

    return await run_console(chat, task, human=human)


def _run_chat(chat: GroupChat, task: str | None, args: argparse.Namespace) -> int:
    from groupchat.agents import HumanParticipant

    humans = [p for p in chat.participants.values() if isinstance(p, HumanParticipant)]
    try:
        result = asyncio.run(_drive(chat, task, args, humans[0] if humans else None))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if _stdout_closed():
        return EXIT_OK
    if result.status == "error" and not (args.jsonl or args.headless):
        return _fail(result.reason, EXIT_FAILURE)
    return _exit_code(result)


def _cmd_demo(args: argparse.Namespace) -> int:
    from groupchat.demo import DEMO_TASK, build_demo

    chat, _human = build_demo(delay=args.delay)
    return _run_chat(chat, DEMO_TASK, args)


class _UsageError(Exception):
    """Bad input: the message is printed and the exit status is 2."""


def _team(path: str, model: str | None = None) -> tuple[TeamSpec, GroupChat]:
    """Load a spec and build its chat, or raise :class:`_UsageError` saying what is wrong."""
    from groupchat.spec import SpecError, load_spec

    try:
        spec = load_spec(path)
    except SpecError as exc:
        raise _UsageError(str(exc)) from None
    try:
        if model is not None:
            spec = spec.with_model(model)
        return spec, spec.build()
    except ValueError as exc:  # SpecError included: building knows no file name
        raise _UsageError(f"{path}: {exc}") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from groupchat.termination import MaxMessages

    spec, chat = _team(args.spec, args.model)
    if args.max_messages is not None:
        limit = MaxMessages(args.max_messages)
        chat.termination = limit if chat.termination is None else chat.termination | limit
    task = args.task if args.task is not None else spec.task
    return _run_chat(chat, task, args)


def _cmd_check(args: argparse.Namespace) -> int:
    spec, chat = _team(args.spec)
    names = ", ".join(
        f"{name} ({'human' if info.human else info.kind})"
        for name, info in chat.view.participants.items()
    )
    print(f"{args.spec}: ok")
    print(f"  team:         {spec.name}")
    print(f"  participants: {names}")
    print(f"  policy:       {chat.policy.describe()}")
    print(f"  termination:  {chat.termination.describe() if chat.termination else 'none'}")
    if spec.task:
        print(f"  task:         {spec.task}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"demo": _cmd_demo, "run": _cmd_run, "check": _cmd_check}
    try:
        return handlers[args.command](args)
    except _UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
