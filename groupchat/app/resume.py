"""Preparing ``resume`` and ``fork``: a stored chat rebuilt with its team (or another) and its
history loaded, ready to go on where it stopped or from the chosen event."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from groupchat.app.errors import CommandError
from groupchat.app.fork_cut import close_cut_turn
from groupchat.app.session import Prepared, find_chat, seated

if TYPE_CHECKING:
    from groupchat.chat import GroupChat
    from groupchat.events import Event, MessagePosted
    from groupchat.models.pricing import PriceTable
    from groupchat.spec import TeamSpec
    from groupchat.transcripts.protocols import TranscriptStore

__all__ = ["BUILTIN_DEMO", "BUILTIN_MAGENTIC_DEMO", "prepare_fork", "prepare_resume"]

BUILTIN_DEMO: dict[str, Any] = {"builtin": "demo"}
"""The stored spec of a demo chat (its team is built in code, not from a spec file)."""
BUILTIN_MAGENTIC_DEMO: dict[str, Any] = {"builtin": "magentic-demo"}
"""The stored spec of a magentic demo chat."""


def _spec_from(stored: dict[str, Any] | None, chat_id: str) -> TeamSpec | dict[str, Any]:
    """The stored team spec, or the marker of a built-in demo team."""
    from groupchat.spec import SpecError, TeamSpec, parse_spec

    if stored is not None and _builtin(stored):
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


def _builtin(stored: dict[str, Any]) -> bool:
    """Whether ``stored`` names a built-in demo team (with the policy of a fork, perhaps)."""
    if stored.get("builtin") not in ("demo", "magentic-demo"):
        return False
    return set(stored) <= {"builtin", "policy"} and stored.get("policy") in (None, *POLICIES)


POLICIES = ("round_robin", "random", "manual", "mention")
"""The policies ``fork --policy`` can give a team."""


def _with_policy(spec: TeamSpec | dict[str, Any], policy: str | None) -> TeamSpec | dict[str, Any]:
    """``spec`` with its policy replaced by ``policy`` (a policy kind), if one is given."""
    from groupchat.spec import TeamSpec

    if policy is None:
        return spec
    if isinstance(spec, dict):  # a demo team: it goes on with that policy (stored with it)
        return {"builtin": spec["builtin"], "policy": policy}
    try:
        # The policy replaces a manager too (a magentic team goes on with that policy).
        data = {**spec.model_dump(mode="json"), "policy": policy, "manager": None}
        return TeamSpec.model_validate(data)
    except ValueError as exc:
        raise CommandError(f"--policy {policy}: {exc}") from None


def _build(spec: TeamSpec | dict[str, Any], chat_id: str) -> GroupChat:
    from groupchat.app.build import build_chat
    from groupchat.app.demo import build_demo
    from groupchat.bus import EventBus

    if isinstance(spec, dict):
        if spec.get("builtin") == "magentic-demo":
            from groupchat.app.magentic_demo import build_magentic_demo

            chat = build_magentic_demo(chat_id=chat_id)[0]
        else:
            chat = build_demo(chat_id=chat_id)[0]
        policy = spec.get("policy")
        if policy is not None:  # a fork of a demo chat with a policy of its own
            from groupchat.app.build import build_policy
            from groupchat.spec import TeamSpec

            chat.policy = build_policy(TeamSpec.model_validate(_policy_team(policy)).policy)
        return chat
    try:
        return build_chat(spec, chat_id=chat_id, bus=EventBus())
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _policy_team(policy: str) -> dict[str, Any]:
    """A team spec of no use but its policy ``policy`` (to build that policy as a spec says)."""
    return {"name": "policy", "participants": [{"kind": "human", "name": "x"}], "policy": policy}


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


def _refuse_a_finished_chat(chat_id: str, events: Sequence[Event]) -> None:
    """A chat that came to its end (its team's condition, its manager's answer, someone
    ending it) has nowhere to go on from: resuming it would only repeat its last turn. Say so,
    and what does go on: a new task, or a fork. A chat cut short (stopped, cancelled, failed,
    or at a limit of its run, such as ``--max-messages``) resumes."""
    from groupchat.events import ChatEnded
    from groupchat.safe_text import one_line
    from groupchat.termination import ends_only_the_run

    last = events[-1] if events else None
    if not isinstance(last, ChatEnded) or last.status != "completed":
        return
    if ends_only_the_run(last.reason):
        return
    raise CommandError(
        f"chat {chat_id} has ended ({last.status}: {one_line(last.reason)}); go on with a new "
        f"task with `groupchat resume {chat_id} --task TEXT`, or branch it off at an event "
        f"with `groupchat fork {chat_id} --at SEQ` (`groupchat show {chat_id}` shows it)"
    )


async def prepare_resume(store: TranscriptStore, args: argparse.Namespace) -> Prepared:
    """The stored chat rebuilt and ready to continue (with ``--spec``, another team)."""
    chat_id = await find_chat(store, args.id)
    summary = await store.chat(chat_id)
    if summary.running_elsewhere:  # a second writer: the first would fail on its next event
        raise CommandError(
            f"chat {chat_id} is running in another groupchat; take part with "
            f"`groupchat join {chat_id}`, or resume it once it has ended"
        )
    events = await store.events(chat_id)
    if not args.task:
        _refuse_a_finished_chat(chat_id, events)
    spec = _load_spec_file(args.spec) or _spec_from(await store.spec(chat_id), chat_id)
    chat = _build(spec, chat_id)
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


async def _seq_of_message(store: TranscriptStore, chat_id: str, number: int) -> int:
    """The seq of the ``message_posted`` of the chat's ``number``-th message (from 1)."""
    from groupchat.events import MessagePosted

    posted = [e.seq for e in await store.events(chat_id) if isinstance(e, MessagePosted)]
    if number > len(posted):
        count = f"{len(posted)} message" + ("" if len(posted) == 1 else "s")
        raise CommandError(
            f"--message {number}: chat {chat_id} has {count} (`groupchat show {chat_id} --seq`)"
        )
    return posted[number - 1]


def _cut_note(cut: MessagePosted | None) -> list[str]:
    if cut is None:
        return []
    from groupchat.safe_text import one_line

    who = one_line(cut.message.sender)
    return [f"the fork cuts {who}'s message: it keeps what had streamed, cut short"]


async def prepare_fork(store: TranscriptStore, args: argparse.Namespace) -> Prepared:
    """A new chat sharing the history of ``args.id`` up to ``args.at``, stored with its lineage."""
    parent = await find_chat(store, args.id)
    summary = await store.chat(parent)
    if getattr(args, "message", None) is not None:
        args.at = await _seq_of_message(store, parent, args.message)
    if not 0 <= args.at <= summary.last_seq:
        raise CommandError(f"--at {args.at}: chat {parent} has events 0..{summary.last_seq}")
    spec = _load_spec_file(args.spec) or _spec_from(await store.spec(parent), parent)
    spec = _with_policy(spec, args.policy)
    new_id = uuid.uuid4().hex[:12]
    chat = _build(spec, new_id)
    seated(chat, getattr(args, "seat", None))  # a wrong --as before the fork is stored
    shared = await store.events(parent, 0, args.at + 1)
    events: list[Event] = [e.model_copy(update={"chat_id": new_id}) for e in shared]
    cut = close_cut_turn(events, chat.participants)
    if cut is not None:  # the cut message, as it stood at the cut (see fork_cut)
        events.append(cut)
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
        notes=[f"forked chat {parent} at event {args.at} as {new_id}", *_cut_note(cut)],
        prices=_prices(spec),
    )
