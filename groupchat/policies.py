"""Speaker-selection policies: given the view and the eligible candidates, who acts next and why.

Every policy returns a :class:`Selection` with a human-readable reason; the manager publishes it as
a ``speaker_selected`` event, so front-ends and transcripts show why someone speaks.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from groupchat.events import EndStatus, Event
from groupchat.participant import ChatView, PolicyView

__all__ = [
    "CandidateFilter",
    "ChatComplete",
    "FunctionPolicy",
    "ManualPolicy",
    "MentionPolicy",
    "RandomPolicy",
    "RoundRobinPolicy",
    "Selection",
    "SelectionError",
    "SelectionPolicy",
    "TransitionGraphPolicy",
    "exclude_last_speaker",
    "policies_in",
]


WRAPPED = ("policy", "fallback", "then")
"""Attributes through which a policy holds others: a filter's inner policy, a fallback, a chain."""


def policies_in(policy: object) -> list[Any]:
    """``policy`` and every policy it holds (wrapped, fallback, chained), each once, each before
    those it holds: what pricing, ``check`` and spec building walk to find models and hooks."""
    found: list[Any] = []
    seen: set[int] = set()
    pending: list[object] = [policy]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending.extend(getattr(current, attr, None) for attr in reversed(WRAPPED))
    return found


class SelectionError(RuntimeError):
    """No valid next speaker could be chosen; the chat ends with an error naming why."""


class ChatComplete(Exception):
    """Raised by a policy that conducts the chat (the magentic manager) to end it: ``reason``
    and ``status`` become the ``chat_ended`` event's."""

    def __init__(self, reason: str, status: EndStatus = "completed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status: EndStatus = status


@dataclass(frozen=True, slots=True)
class Selection:
    """A policy's choice. ``policy`` names the policy that decided, when it differs (fallbacks)."""

    speaker: str
    reason: str
    policy: str | None = None


class SelectionPolicy:
    """Base class of policies: override :meth:`select`; :meth:`validate` checks names at start."""

    name: str = "policy"

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        raise NotImplementedError

    def validate(self, participants: Sequence[str]) -> None:
        """Raise ``ValueError`` if the policy refers to someone who is not in the chat."""

    def restore(self, events: Sequence[Event]) -> None:
        """Rebuild state kept beyond the chat view from a stored chat's events (on resume).

        The built-in policies derive everything from the view (last speaker, turn number,
        messages), so they need nothing here; wrappers pass the events on.
        """

    def describe(self) -> str:
        return self.name


class RoundRobinPolicy(SelectionPolicy):
    """Everyone in turn, in the order they joined; picks up after whoever spoke last.

    The order is kept as a ring of every name seen, so when the last speaker has left (or was
    filtered out) the turn still passes to whoever came after them.
    """

    name = "round_robin"

    def __init__(self) -> None:
        self._ring: dict[str, int] = {}
        self._names: list[str] = []
        self._seen: Sequence[str] | None = None
        self._pool: frozenset[str] = frozenset()

    def _learn(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self._ring:
                self._ring[name] = len(self._names)
                self._names.append(name)

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        if not candidates:
            raise SelectionError("round robin: no candidates")
        if candidates is not self._seen:
            self._seen = candidates
            self._pool = frozenset(candidates)
            self._learn(view.participants)
            self._learn(candidates)
        last = view.last_speaker
        position = self._ring.get(last) if last is not None else None
        if position is None:
            speaker = candidates[0]
            return Selection(speaker, f"round robin: {speaker} opens")
        names, pool, size = self._names, self._pool, len(self._names)
        for step in range(1, size + 1):
            speaker = names[(position + step) % size]
            if speaker in pool:
                return Selection(speaker, f"round robin: {speaker} follows {last}")
        raise SelectionError("round robin: no candidates")  # pragma: no cover


class RandomPolicy(SelectionPolicy):
    """A random candidate. With a ``seed`` each turn's draw depends only on the seed and the
    turn number, so a run can be repeated, and a resumed chat draws as the original would."""

    name = "random"

    def __init__(self, seed: int | None = None, *, allow_repeat: bool = True) -> None:
        self.seed = seed
        self.allow_repeat = allow_repeat
        self._rng = random.Random()

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        pool = list(candidates)
        if not self.allow_repeat and len(pool) > 1 and view.last_speaker in pool:
            pool.remove(view.last_speaker)
        if not pool:
            raise SelectionError("random: no candidates")
        rng = self._rng if self.seed is None else random.Random(hash((self.seed, view.turn)))
        speaker = rng.choice(pool)
        return Selection(speaker, f"random pick among {', '.join(pool)}")


def _match_choice(answer: str, candidates: Sequence[str]) -> str | None:
    text = answer.strip().lstrip("@").strip().rstrip(".!")
    if not text:
        return None
    if text.isdigit():
        index = int(text) - 1
        return candidates[index] if 0 <= index < len(candidates) else None
    lowered = text.lower().replace(" ", "_")
    for name in candidates:
        if name.lower() == lowered:
            return name
    return None


class ManualPolicy(SelectionPolicy):
    """A person picks the next speaker by name (or number) through their input channel.

    A wrong answer is re-asked with a correction, up to ``max_attempts`` in all; after that, or when
    the person does not answer within ``timeout`` or has left, ``fallback`` decides.
    """

    name = "manual"

    def __init__(
        self,
        human: str | None = None,
        *,
        timeout: float | None = None,
        max_attempts: int = 3,
        fallback: SelectionPolicy | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.human = human
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.fallback = fallback or RoundRobinPolicy()

    def validate(self, participants: Sequence[str]) -> None:
        if self.human is not None and self.human not in participants:
            raise ValueError(f"manual policy: human {self.human!r} is not a participant")
        self.fallback.validate(participants)

    def restore(self, events: Sequence[Event]) -> None:
        self.fallback.restore(events)

    def _chooser(self, view: ChatView) -> str:
        if self.human is not None:
            return self.human
        humans = view.humans()
        if not humans:
            raise SelectionError("manual policy: the chat has no human to choose")
        return humans[0]

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        human = self._chooser(view)
        listing = ", ".join(f"{i}. {name}" for i, name in enumerate(candidates, 1))
        prompt = f"Who speaks next? {listing}"
        outcome = "did not answer"
        for _ in range(self.max_attempts):
            answer = await view.ask(
                human,
                prompt,
                request="select_speaker",
                choices=candidates,
                timeout=self.timeout,
            )
            if answer is None:
                outcome = (
                    "did not answer"
                    if outcome == "did not answer"
                    else (f"{outcome}, then did not answer")
                )
                break
            chosen = _match_choice(answer, candidates)
            if chosen is not None:
                return Selection(chosen, f"chosen by {human}")
            outcome = f"gave no valid name ({answer.strip()[:40]!r})"
            prompt = (
                f"{answer.strip()[:40]!r} is not one of the candidates. Who speaks next? {listing}"
            )
        picked = await self.fallback.select(view, candidates)
        return Selection(
            picked.speaker,
            f"{human} {outcome}; {picked.reason}",
            picked.policy or self.fallback.name,
        )


class MentionPolicy(SelectionPolicy):
    """Follow the newest @mention of an eligible candidate since the last turn began.

    Mentions in the last turn's message and in anything people posted since count; nobody is
    picked for mentioning themselves. Without a usable mention, ``fallback`` decides.
    """

    name = "mention"

    def __init__(self, fallback: SelectionPolicy | None = None) -> None:
        self.fallback = fallback or RoundRobinPolicy()

    def validate(self, participants: Sequence[str]) -> None:
        self.fallback.validate(participants)

    def restore(self, events: Sequence[Event]) -> None:
        self.fallback.restore(events)

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        for message in reversed(view.messages_since_turn_start()):
            for name in message.mentions:
                if name != message.sender and name in candidates:
                    return Selection(name, f"@{name} was mentioned by {message.sender}")
        picked = await self.fallback.select(view, candidates)
        return Selection(
            picked.speaker, f"no @mention; {picked.reason}", picked.policy or self.fallback.name
        )


class TransitionGraphPolicy(SelectionPolicy):
    """Only speakers the graph allows after the last one; ``then`` picks among them.

    ``mode="allowed"``: ``edges[a]`` lists who may follow ``a``. ``mode="disallowed"``: ``edges[a]``
    lists who may not. ``start`` is who may open the chat (default: anyone). Names are checked
    when the chat starts; a speaker the graph leaves with nobody to follow ends the chat with an
    error that says so.
    """

    name = "graph"

    def __init__(
        self,
        edges: Mapping[str, Iterable[str]],
        *,
        mode: Literal["allowed", "disallowed"] = "allowed",
        start: str | Sequence[str] | None = None,
        then: SelectionPolicy | None = None,
    ) -> None:
        if mode not in ("allowed", "disallowed"):
            raise ValueError(f"graph mode must be 'allowed' or 'disallowed', not {mode!r}")
        self.edges = {src: tuple(dsts) for src, dsts in edges.items()}
        self.mode = mode
        self.start: tuple[str, ...] | None = (
            (start,) if isinstance(start, str) else (tuple(start) if start is not None else None)
        )
        self.then = then or RoundRobinPolicy()

    def validate(self, participants: Sequence[str]) -> None:
        known = set(participants)
        unknown: list[str] = []
        for src, dsts in self.edges.items():
            unknown.extend(n for n in (src, *dsts) if n not in known and n not in unknown)
        unknown.extend(n for n in self.start or () if n not in known and n not in unknown)
        if unknown:
            raise ValueError(
                "transition graph names unknown participants: "
                + ", ".join(sorted(unknown))
                + f" (participants: {', '.join(participants)})"
            )
        if self.mode == "allowed":
            dead = [src for src, dsts in self.edges.items() if not dsts]
            if dead:
                raise ValueError(f"transition graph: {', '.join(dead)} has no allowed next speaker")
        self.then.validate(participants)

    def restore(self, events: Sequence[Event]) -> None:
        self.then.restore(events)

    def allowed(self, last: str | None, candidates: Sequence[str]) -> list[str]:
        if last is None:
            if self.start is None:
                return list(candidates)
            return [c for c in candidates if c in self.start]
        targets = self.edges.get(last)
        if self.mode == "allowed":
            if targets is None:
                return []
            return [c for c in candidates if c in targets]
        blocked = targets or ()
        return [c for c in candidates if c not in blocked]

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        last = view.last_speaker
        allowed = self.allowed(last, candidates)
        if not allowed:
            after = f"after {last}" if last is not None else "to open the chat"
            raise SelectionError(f"transition graph allows no one {after}")
        picked = await self.then.select(view, tuple(allowed))
        edge = f"{last} -> {', '.join(allowed)}" if last else f"start -> {', '.join(allowed)}"
        return Selection(picked.speaker, f"graph {edge}; {picked.reason}", picked.policy)


SelectFn = Callable[
    [ChatView, Sequence[str]],
    "str | Selection | tuple[str, str] | Awaitable[str | Selection | tuple[str, str]]",
]


class FunctionPolicy(SelectionPolicy):
    """A plain (sync or async) function ``fn(view, candidates)`` returning a name, a
    ``(name, reason)`` pair or a :class:`Selection`."""

    def __init__(self, fn: SelectFn, *, name: str | None = None) -> None:
        self.fn = fn
        fallback: str = getattr(fn, "__name__", "function")
        self.name = name or fallback

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        result = self.fn(view, candidates)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Selection):
            selection = result
        elif isinstance(result, tuple) and len(result) == 2:
            selection = Selection(str(result[0]), str(result[1]))
        elif isinstance(result, str):
            selection = Selection(result, f"chosen by {self.name}")
        else:
            raise SelectionError(
                f"selection function {self.name} returned {type(result).__name__}, "
                "expected a name, (name, reason) or Selection"
            )
        if selection.speaker not in candidates:
            raise SelectionError(
                f"selection function {self.name} chose {selection.speaker!r}, "
                f"not one of: {', '.join(candidates)}"
            )
        return selection


FilterFn = Callable[[ChatView, Sequence[str]], Iterable[str]]


class CandidateFilter(SelectionPolicy):
    """Narrow the candidates with ``keep(view, candidates)`` before ``policy`` chooses."""

    def __init__(self, policy: SelectionPolicy, keep: FilterFn, *, name: str | None = None) -> None:
        self.policy = policy
        self.keep = keep
        self.name = policy.name
        self.filter_name = name or getattr(keep, "__name__", "filter")

    def validate(self, participants: Sequence[str]) -> None:
        self.policy.validate(participants)

    def restore(self, events: Sequence[Event]) -> None:
        self.policy.restore(events)

    def describe(self) -> str:
        return f"{self.policy.describe()} (filtered by {self.filter_name})"

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        kept = tuple(name for name in self.keep(view, candidates) if name in candidates)
        if not kept:
            raise SelectionError(f"candidate filter {self.filter_name} left no candidates")
        return await self.policy.select(view, kept)


def _not_last(view: ChatView, candidates: Sequence[str]) -> list[str]:
    rest = [c for c in candidates if c != view.last_speaker]
    return rest or list(candidates)


def exclude_last_speaker(policy: SelectionPolicy) -> CandidateFilter:
    """Wrap ``policy`` so nobody speaks twice in a row (unless they are the only candidate)."""
    return CandidateFilter(policy, _not_last, name="exclude_last_speaker")
