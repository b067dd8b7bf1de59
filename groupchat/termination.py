"""Termination conditions: when a chat ends, combinable with ``|`` (any) and ``&`` (all).

The manager checks conditions after every posted message. Conditions that fire on their own
(:class:`Timeout`, :class:`ExternalStop`) end the chat at once, interrupting a turn that is
running; an :class:`ExternalStop` set between runs ends the next one before its first turn.
A condition stays fired until the next run resets it; ``a & b`` fires once both have.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable

from groupchat.messages import Message
from groupchat.participant import ChatView

__all__ = [
    "AllOf",
    "AnyOf",
    "ExternalStop",
    "MaxMessages",
    "SourceMatch",
    "Termination",
    "TextMention",
    "Timeout",
    "TokenBudget",
    "ends_only_the_run",
]

Trigger = Callable[[str], None]

_RUN_LIMITS = re.compile(r"reached \d+ messages?|timed out after \S+ s")
"""The reasons of the conditions that limit one run (:class:`MaxMessages`, :class:`Timeout`)."""


def ends_only_the_run(reason: str) -> bool:
    """Whether a chat that ended with ``reason`` ended because a limit of that run was reached
    (a number of messages, a time), which the next run starts afresh: the conversation itself
    did not come to its end, and resuming it goes on."""
    return _RUN_LIMITS.fullmatch(reason) is not None


_SPOKEN = frozenset({"turn", "interjection"})
"""Message kinds that participants say. The task, and a conducting manager's plan, instructions
and answer (the magentic manager has limits of its own), never end a chat by their count or
their words."""


class Termination:
    """Base class. Override :meth:`_check` (per message) or call :meth:`_fire` (on your own)."""

    def __init__(self) -> None:
        self._reason: str | None = None
        self._trigger: Trigger | None = None

    @property
    def reason(self) -> str | None:
        """Why the condition fired, or ``None`` if it has not."""
        return self._reason

    def check(self, message: Message, view: ChatView) -> str | None:
        """Look at a newly posted message; return the reason if the chat should end."""
        if self._reason is None:
            self._reason = self._check(message, view)
        return self._reason

    def _check(self, message: Message, view: ChatView) -> str | None:
        return None

    def start(self, trigger: Trigger) -> None:
        """Called when a run starts; ``trigger(reason)`` ends the chat immediately."""
        self._trigger = trigger

    def stop(self) -> None:
        """Called when a run ends: release timers and the trigger."""
        self._trigger = None

    def reset(self) -> None:
        """Forget that the condition fired (a new run of the same chat)."""
        self._reason = None

    def _fire(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason
        if self._trigger is not None:
            self._trigger(self._reason)

    def describe(self) -> str:
        return type(self).__name__

    def __or__(self, other: Termination) -> AnyOf:
        return AnyOf(self, other)

    def __and__(self, other: Termination) -> AllOf:
        return AllOf(self, other)

    def __repr__(self) -> str:
        return self.describe()


class _Combined(Termination):
    symbol = "?"

    def __init__(self, *conditions: Termination) -> None:
        super().__init__()
        flat: list[Termination] = []
        for cond in conditions:
            if not isinstance(cond, Termination):
                raise TypeError(f"not a termination condition: {cond!r}")
            if isinstance(cond, _Combined) and type(cond) is type(self):
                flat.extend(cond.conditions)  # (a | b) | c is flat: a | b | c
            else:
                flat.append(cond)
        self.conditions: tuple[Termination, ...] = tuple(flat)

    def start(self, trigger: Trigger) -> None:
        super().start(trigger)
        for cond in self.conditions:
            cond.start(self._child_fired)
        if self._reason is None:
            self._reason = self._combine()  # a child may carry a stop set before the run

    def stop(self) -> None:
        super().stop()
        for cond in self.conditions:
            cond.stop()

    def reset(self) -> None:
        super().reset()
        for cond in self.conditions:
            cond.reset()

    def _child_fired(self, reason: str) -> None:
        combined = self._combine()
        if combined is not None:
            self._fire(combined)

    def _combine(self) -> str | None:
        raise NotImplementedError

    def _check(self, message: Message, view: ChatView) -> str | None:
        for cond in self.conditions:
            cond.check(message, view)
        return self._combine()

    def describe(self) -> str:
        return "(" + f" {self.symbol} ".join(c.describe() for c in self.conditions) + ")"


class AnyOf(_Combined):
    """Fires when any of its conditions fires."""

    symbol = "|"

    def _combine(self) -> str | None:
        for cond in self.conditions:
            if cond.reason is not None:
                return cond.reason
        return None


class AllOf(_Combined):
    """Fires once every one of its conditions has fired (not necessarily on the same message)."""

    symbol = "&"

    def _combine(self) -> str | None:
        reasons = [cond.reason for cond in self.conditions]
        if any(r is None for r in reasons):
            return None
        return "; ".join(r for r in reasons if r is not None)


class MaxMessages(Termination):
    """Ends after ``n`` messages in this run: turns and interjections (not the task, nor a
    magentic manager's plan, instructions and answer)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        if n < 1:
            raise ValueError("MaxMessages needs n >= 1")
        self.n = n
        self._count = 0

    def _check(self, message: Message, view: ChatView) -> str | None:
        if message.kind not in _SPOKEN:
            return None
        self._count += 1
        if self._count >= self.n:
            return f"reached {self.n} message" if self.n == 1 else f"reached {self.n} messages"
        return None

    def reset(self) -> None:
        super().reset()
        self._count = 0

    def describe(self) -> str:
        return f"max_messages({self.n})"


class TextMention(Termination):
    """Ends when a turn or an interjection contains ``text``; with ``sources``, only messages
    from them count. A magentic manager's plan or instruction that quotes ``text`` does not."""

    def __init__(
        self, text: str, *, sources: Iterable[str] | None = None, case_sensitive: bool = True
    ) -> None:
        super().__init__()
        if not text:
            raise ValueError("TextMention needs non-empty text")
        self.text = text
        self.sources = frozenset(sources) if sources is not None else None
        self.case_sensitive = case_sensitive
        self._needle = text if case_sensitive else text.lower()

    def _check(self, message: Message, view: ChatView) -> str | None:
        if message.kind not in _SPOKEN:
            return None
        if self.sources is not None and message.sender not in self.sources:
            return None
        haystack = message.content if self.case_sensitive else message.content.lower()
        if self._needle in haystack:
            return f"{message.sender} said {self.text!r}"
        return None

    def describe(self) -> str:
        return f"text_mention({self.text!r})"


class SourceMatch(Termination):
    """Ends when any of ``sources`` posts a message."""

    def __init__(self, sources: str | Iterable[str]) -> None:
        super().__init__()
        self.sources = frozenset((sources,) if isinstance(sources, str) else sources)
        if not self.sources:
            raise ValueError("SourceMatch needs at least one source")

    def _check(self, message: Message, view: ChatView) -> str | None:
        if message.kind != "task" and message.sender in self.sources:
            return f"{message.sender} posted"
        return None

    def describe(self) -> str:
        return f"source_match({', '.join(sorted(self.sources))})"


class TokenBudget(Termination):
    """Ends when the chat's token total (participants and selector calls) reaches ``max_tokens``."""

    def __init__(self, max_tokens: int) -> None:
        super().__init__()
        if max_tokens < 1:
            raise ValueError("TokenBudget needs max_tokens >= 1")
        self.max_tokens = max_tokens

    def _check(self, message: Message, view: ChatView) -> str | None:
        used = view.usage.total_tokens
        if used >= self.max_tokens:
            return f"token budget of {self.max_tokens} used ({used} tokens)"
        return None

    def describe(self) -> str:
        return f"token_budget({self.max_tokens})"


class Timeout(Termination):
    """Ends the chat ``seconds`` after the run starts, interrupting a turn that is running."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        if seconds <= 0:
            raise ValueError("Timeout needs seconds > 0")
        self.seconds = seconds
        self._handle: asyncio.TimerHandle | None = None

    def start(self, trigger: Trigger) -> None:
        super().start(trigger)
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(
            self.seconds, self._fire, f"timed out after {self.seconds:g} s"
        )

    def stop(self) -> None:
        super().stop()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def describe(self) -> str:
        return f"timeout({self.seconds:g}s)"


class ExternalStop(Termination):
    """Ends the chat when :meth:`set` is called, from any code holding this object.

    Set while no run is going, it ends the next run before its first turn.
    """

    def __init__(self) -> None:
        super().__init__()
        self._early = False

    def set(self, reason: str = "stopped externally") -> None:
        self._early = self._trigger is None and self._reason is None
        self._fire(reason)

    def reset(self) -> None:
        if self._early:
            self._early = False  # a stop set between runs belongs to the next run
            return
        super().reset()

    def describe(self) -> str:
        return "external_stop"
