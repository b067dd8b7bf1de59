"""The commands that run a chat (``demo``, ``run``, ``resume``, ``fork``) and ``check``, which
shows what a team spec builds without running it."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from groupchat.app.errors import EXIT_OK, CommandError
from groupchat.app.running import run_async
from groupchat.app.session import Prepared, run_session
from groupchat.safe_text import one_line

if TYPE_CHECKING:
    from groupchat.chat import GroupChat
    from groupchat.spec import TeamSpec
    from groupchat.transcripts.protocols import TranscriptStore

__all__ = ["cmd_check", "cmd_continue", "cmd_demo", "cmd_run"]


def cmd_demo(args: argparse.Namespace) -> int:
    from groupchat.app.demo import DEMO_TASK, build_demo
    from groupchat.app.resume import BUILTIN_DEMO, BUILTIN_MAGENTIC_DEMO

    async def prepare(store: object) -> Prepared:
        if args.magentic:
            from groupchat.app.magentic_demo import MAGENTIC_DEMO_TASK, build_magentic_demo

            chat, _human = build_magentic_demo(delay=args.delay)
            title = f"magentic demo: {MAGENTIC_DEMO_TASK}"
            return Prepared(chat, MAGENTIC_DEMO_TASK, title=title, spec=BUILTIN_MAGENTIC_DEMO)
        chat, _human = build_demo(delay=args.delay)
        return Prepared(chat, DEMO_TASK, title=f"demo: {DEMO_TASK}", spec=BUILTIN_DEMO)

    return run_async(run_session(args, prepare))


def _team(path: str, model: str | None = None) -> tuple[TeamSpec, GroupChat]:
    """Load a spec and build its chat, or raise ``CommandError`` saying what is wrong."""
    from groupchat.app.build import build_chat
    from groupchat.spec import SpecError, load_spec

    try:
        spec = load_spec(path)
    except SpecError as exc:
        raise CommandError(str(exc)) from None
    try:
        if model is not None:
            spec = spec.with_model(model)
        return spec, build_chat(spec)
    except ValueError as exc:  # SpecError included: building knows no file name
        raise CommandError(f"{path}: {exc}") from None


def chat_title(team: str, task: str | None) -> str:
    """What ``run`` titles a chat: ``team: task``, or the team alone."""
    return f"{team}: {task}" if task else team


def _spec(path: str, model: str | None = None) -> TeamSpec:
    from groupchat.spec import SpecError, load_spec

    try:
        spec = load_spec(path)
        return spec.with_model(model) if model is not None else spec
    except SpecError as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from groupchat.app.bus import bus_requested

    url = bus_requested(args)
    if url is not None:
        return run_async(run_session(args, _prepare_on_bus(args, url)))
    spec, chat = _team(args.spec, args.model)
    task = args.task if args.task is not None else spec.task
    title = chat_title(spec.name, task)

    async def prepare(store: object) -> Prepared:
        stored = spec.model_dump(mode="json")
        return Prepared(chat, task, title=title, spec=stored, prices=spec.price_table())

    return run_async(run_session(args, prepare))


def _prepare_on_bus(args: argparse.Namespace, url: str) -> Callable[[object], Awaitable[Prepared]]:
    """``run --bus``: the team's chat on the bus, its agents hostable by workers."""
    spec = _spec(args.spec, args.model)
    task = args.task if args.task is not None else spec.task
    title = chat_title(spec.name, task)
    stored = spec.model_dump(mode="json")

    async def prepare(store: object) -> Prepared:
        from groupchat.app.bus import BusChat, connect_bus, hosted_chat

        bus = await connect_bus(url)
        try:
            chat, hosting = hosted_chat(spec, bus, title=title)
            on_bus = BusChat(bus, chat, hosting, spec=stored)
            notes = await on_bus.start(wait_for=list(args.wait_for or ()))
        except BaseException:
            await bus.aclose()
            raise
        return Prepared(
            chat,
            task,
            title=title,
            spec=stored,
            prices=spec.price_table(),
            notes=[f"on the bus {bus.url.shown}: chat {chat.chat_id}", *notes],
            on_bus=on_bus,
        )

    return prepare


def cmd_check(args: argparse.Namespace) -> int:
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
    lines += _readiness_lines(chat)
    for line in lines:  # the spec's text is data: never terminal control sequences
        print(one_line(line))
    return EXIT_OK


def _readiness_lines(chat: GroupChat) -> list[str]:
    """Warnings for what keeps a valid team from running on this machine: the ``openai``
    extra not installed, an API key not set (named by its variable, never shown)."""
    import os

    from groupchat.models.base import MissingExtraError
    from groupchat.models.openai_compat import OpenAICompatModel, import_openai
    from groupchat.policies import policies_in

    users: dict[int, tuple[OpenAICompatModel, list[str]]] = {}

    def note(model: object, who: str) -> None:
        if isinstance(model, OpenAICompatModel):
            users.setdefault(id(model), (model, []))[1].append(who)

    for name, participant in chat.participants.items():
        note(getattr(participant, "model", None), name)
    for policy in policies_in(chat.policy):
        note(getattr(policy, "model", None), str(getattr(policy, "usage_key", "selector")))
    if not users:
        return []
    lines = []
    try:
        import_openai()
    except MissingExtraError as exc:
        lines.append(f"  warning:      {exc}")
    missing: dict[str, list[str]] = {}
    for model, who in users.values():
        if model.key_required and model.key_env and not os.environ.get(model.key_env):
            missing.setdefault(model.key_env, []).extend(who)
    for env, who in missing.items():
        lines.append(f"  warning:      no API key: set {env} (for {', '.join(dict.fromkeys(who))})")
    return lines


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
    for model, names in users.items():
        if table.price(model) is None:
            lines.append(f"  no price:     {model} ({', '.join(names)}): its cost shows as unknown")
        used |= {model, model_part(model)}
    for model in table.prices:
        if model not in used:
            lines.append(f"  unused price: {model}: no model of the team has this name")
    return lines


def cmd_continue(args: argparse.Namespace) -> int:
    """``resume`` or ``fork``."""
    from groupchat.app.bus import bus_requested, prepare_resume_on_bus
    from groupchat.app.resume import prepare_fork, prepare_resume

    url = bus_requested(args) if args.command == "resume" else None
    if url is not None:
        bus_url = url

        async def prepare_on_bus(store: TranscriptStore | None) -> Prepared:
            return await prepare_resume_on_bus(store, args, bus_url)

        return run_async(run_session(args, prepare_on_bus))
    prepare_fn = prepare_resume if args.command == "resume" else prepare_fork

    async def prepare(store: TranscriptStore | None) -> Prepared:
        assert store is not None
        return await prepare_fn(store, args)

    return run_async(run_session(args, prepare))
