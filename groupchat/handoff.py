"""Hand-offs: the speaker names who speaks next, like a person passing the floor.

Agents hand off with their ``transfer_to_<name>`` tools (see
:class:`~groupchat.agents.LLMAgent`), which :meth:`HandoffPolicy.attach` gives them for exactly
the participants ``handoffs`` allows; any participant may also yield
:class:`~groupchat.participant.HandTo` itself. The policy then picks:

1. the target of a hand-off in the previous turn, if allowed and still in the chat;
2. to open the chat, ``start`` (else the fallback);
3. someone a person @mentioned since the previous turn began;
4. after a person spoke: the agent they were talking to (the last agent who spoke);
5. after an agent that did not hand off: the person who spoke last (or the first person);
6. otherwise the fallback (round robin unless given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from groupchat.events import Event
from groupchat.participant import ChatView, PolicyView
from groupchat.policies import RoundRobinPolicy, Selection, SelectionPolicy

__all__ = ["HandoffPolicy"]


class HandoffPolicy(SelectionPolicy):
    """Follow hand-offs. ``handoffs[a]`` lists whom ``a`` may hand to (``None``: anyone)."""

    name = "handoff"

    def __init__(
        self,
        handoffs: Mapping[str, Iterable[str]] | None = None,
        *,
        start: str | None = None,
        fallback: SelectionPolicy | None = None,
        follow_mentions: bool = True,
    ) -> None:
        self.handoffs = (
            {src: tuple(dsts) for src, dsts in handoffs.items()} if handoffs is not None else None
        )
        self.start = start
        self.fallback = fallback or RoundRobinPolicy()
        self.follow_mentions = follow_mentions

    def restore(self, events: Sequence[Event]) -> None:
        self.fallback.restore(events)

    def validate(self, participants: Sequence[str]) -> None:
        known = set(participants)
        named: list[str] = [self.start] if self.start is not None else []
        for src, dsts in (self.handoffs or {}).items():
            named.extend((src, *dsts))
        unknown = sorted({n for n in named if n not in known})
        if unknown:
            raise ValueError(
                f"hand-off policy names unknown participants: {', '.join(unknown)} "
                f"(participants: {', '.join(participants)})"
            )
        self.fallback.validate(participants)

    def targets(self, name: str, participants: Iterable[str]) -> tuple[str, ...]:
        """Whom ``name`` may hand the floor to, among ``participants``."""
        if self.handoffs is None:
            return tuple(p for p in participants if p != name)
        return tuple(t for t in self.handoffs.get(name, ()) if t != name)

    def allowed(self, source: str | None, target: str) -> bool:
        if source is None or self.handoffs is None:
            return True
        return target in self.handoffs.get(source, ())

    def attach(self, participants: Iterable[Any]) -> None:
        """Give each participant that takes hand-off tools (``set_handoffs``) its targets."""
        members = list(participants)
        names = [p.name for p in members]
        for participant in members:
            set_handoffs = getattr(participant, "set_handoffs", None)
            if set_handoffs is not None:
                set_handoffs(self.targets(participant.name, names))

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        last = view.last_speaker
        refused = ""
        if view.handoff is not None:
            target, note = view.handoff
            if target in candidates and self.allowed(last, target):
                about = f": {note}" if note else ""
                return Selection(target, f"{last} handed off to {target}{about}")
            why = "is not allowed" if target in candidates else "is not available"
            refused = f"{last}'s hand-off to {target} {why}; "
        if last is None and self.start is not None and self.start in candidates:
            return Selection(self.start, f"{self.start} starts")
        infos = view.participants
        if self.follow_mentions:
            for message in reversed(view.messages_since_turn_start()):
                sender = infos.get(message.sender)
                if sender is None or not sender.human:
                    continue
                for name in message.mentions:
                    if name != message.sender and name in candidates:
                        return Selection(name, f"{refused}{message.sender} asked for @{name}")
        back = self._back(view, last, candidates) if last is not None else None
        if back is not None:
            return Selection(back.speaker, refused + back.reason)
        picked = await self.fallback.select(view, candidates)
        return Selection(
            picked.speaker, f"{refused}{picked.reason}", picked.policy or self.fallback.name
        )

    def _back(self, view: ChatView, last: str, candidates: Sequence[str]) -> Selection | None:
        """No hand-off: after an agent, back to a person; after a person, back to the agent
        they were talking to (each the most recent one who spoke)."""
        infos = view.participants
        last_info = infos.get(last)
        if last_info is None:
            return None
        want_human = not last_info.human
        pool = [n for n in candidates if n in infos and infos[n].human == want_human]
        if not pool:
            return None
        for message in reversed(view.messages):
            info = infos.get(message.sender)
            if info is not None and info.human == want_human and message.sender in pool:
                if want_human:
                    return Selection(
                        message.sender, f"{last} did not hand off: back to {message.sender}"
                    )
                return Selection(
                    message.sender, f"back to {message.sender}, whom {last} was talking to"
                )
        if want_human:
            return Selection(pool[0], f"{last} did not hand off: {pool[0]}")
        if self.start in pool:
            return Selection(self.start, f"{self.start} starts, after {last}")
        return None
