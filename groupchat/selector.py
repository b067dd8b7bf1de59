"""The LLM selector: a model reads the candidates and a window of the chat and names who speaks.

The answer is read tolerantly (case, spaces or hyphens for underscores, quotes, ``@``, a name
inside a sentence). An answer that names no candidate, or more than one, is re-asked with a
correction, up to ``max_attempts`` calls in all; then ``fallback`` (round robin unless given)
decides, and the selection's reason says why. A failed model call (after the client's own
retries) goes to the fallback at once. When only one candidate is left no call is made.

Every call is a ``selector_attempt`` event with the answer, whether it was accepted and the
problem; its tokens count in the chat's totals under ``selector``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from functools import lru_cache

from groupchat.events import Event
from groupchat.models.base import ChatModel, ModelError, ModelMessage, ModelRequest, complete
from groupchat.participant import ChatView
from groupchat.policies import (
    FilterFn,
    RoundRobinPolicy,
    Selection,
    SelectionError,
    SelectionPolicy,
)

__all__ = ["DEFAULT_PROMPT", "PROMPT_FIELDS", "LLMSelectorPolicy", "PromptFn", "match_speaker"]

DEFAULT_PROMPT = """\
You choose who speaks next in a group chat.

The candidates:
{participants}

{task}The conversation so far, most recent last:
{history}

Who should speak next? Answer with exactly one name from: {candidates}. Only the name."""
"""The default prompt template; see :data:`PROMPT_FIELDS` for what it may use."""

PROMPT_FIELDS = frozenset({"participants", "candidates", "history", "task", "last_speaker"})
"""Fields of a prompt template: the candidates with their descriptions (one per line), their
names (comma separated), the window of the chat (``name: text`` lines), the task (a line
ending in a blank line, or empty) and who spoke last."""

PromptFn = Callable[[ChatView, Sequence[str]], str]


def _normal(name: str) -> str:
    return re.sub(r"[\s_-]+", "_", name.strip().lower())


@lru_cache(maxsize=1024)
def _pattern(name: str) -> re.Pattern[str]:
    """``name`` as a whole word, any case, with spaces or hyphens where it has ``_`` or ``-``."""
    pieces = [re.escape(p) for p in re.split(r"[\s_-]+", name) if p]
    return re.compile(r"(?<![\w])" + r"[\s_-]+".join(pieces) + r"(?![\w])", re.IGNORECASE)


_STRIP = "`*\"'“”‘’«»()[]<> \t\n"


def match_speaker(
    answer: str, candidates: Sequence[str], others: Sequence[str] = ()
) -> tuple[str | None, str]:
    """Read a selector's answer: ``(candidate, "")``, or ``(None, what is wrong)``.

    ``others`` are participants who may not speak now, named in the problem if the answer
    picks one of them.
    """
    text = answer.strip()
    if not text:
        return None, "the answer was empty"
    bare = text.strip(_STRIP).lstrip("@").rstrip(".!?,;:").strip(_STRIP)
    wanted = _normal(bare)
    for name in candidates:
        if _normal(name) == wanted:
            return name, ""
    found = [name for name in candidates if _pattern(name).search(text)]
    if len(found) == 1:
        return found[0], ""
    if found:
        return None, f"the answer names more than one candidate ({', '.join(found)})"
    excluded = [name for name in others if name not in candidates and _pattern(name).search(text)]
    if excluded:
        return None, f"{', '.join(excluded)} cannot speak now"
    return None, "the answer names no candidate"


def _template_fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


class LLMSelectorPolicy(SelectionPolicy):
    """A model picks the next speaker. See the module docstring for how answers are read.

    ``window`` is how many recent messages the prompt shows (``None``: all; keep it bounded for
    long chats), each cut to ``max_message_chars``. ``prompt`` is a template using
    :data:`PROMPT_FIELDS` or a function ``(view, candidates) -> str``.
    ``allow_repeated_speaker=False`` keeps the last speaker out when anyone else can speak.
    ``candidate_filter(view, candidates)`` narrows the candidates first.
    """

    name = "llm_selector"

    def __init__(
        self,
        model: ChatModel | str,
        *,
        window: int | None = 10,
        max_attempts: int = 3,
        allow_repeated_speaker: bool = True,
        prompt: str | PromptFn | None = None,
        candidate_filter: FilterFn | None = None,
        fallback: SelectionPolicy | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        max_message_chars: int = 2000,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if window is not None and window < 1:
            raise ValueError("window must be at least 1 (or None for the whole chat)")
        if isinstance(prompt, str):
            unknown = _template_fields(prompt) - PROMPT_FIELDS
            if unknown:
                raise ValueError(
                    f"selector prompt: unknown field(s) {', '.join(sorted(unknown))}; "
                    f"use {', '.join(sorted(PROMPT_FIELDS))}"
                )
        if isinstance(model, str):
            from groupchat.models.registry import resolve_model

            model = resolve_model(model)
        self.model: ChatModel = model
        self.window = window
        self.max_attempts = max_attempts
        self.allow_repeated_speaker = allow_repeated_speaker
        self.prompt = prompt if prompt is not None else DEFAULT_PROMPT
        self.candidate_filter = candidate_filter
        self.fallback = fallback or RoundRobinPolicy()
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_message_chars = max_message_chars
        self._listing: tuple[tuple[object, ...], str] | None = None

    def describe(self) -> str:
        return f"{self.name}({self.model.name})"

    def restore(self, events: Sequence[Event]) -> None:
        self.fallback.restore(events)

    def validate(self, participants: Sequence[str]) -> None:
        self.fallback.validate(participants)

    # ------------------------------------------------------------------ the prompt

    def _participants(self, view: ChatView, pool: Sequence[str]) -> str:
        infos = view.participants
        key = tuple(infos.get(name) for name in pool)
        if self._listing is not None and self._listing[0] == key:
            return self._listing[1]
        lines = []
        for name, info in zip(pool, key, strict=True):
            about = info.description if info is not None else ""
            person = " (a person)" if info is not None and info.human else ""
            lines.append(f"- {name}{person}" + (f": {about}" if about else ""))
        text = "\n".join(lines)
        self._listing = (key, text)
        return text

    def _history(self, view: ChatView) -> str:
        log = view.messages
        window = log[-self.window :] if self.window is not None else log[:]
        limit = self.max_message_chars
        lines = []
        for message in window:
            text = message.content
            if len(text) > limit:
                text = text[: limit - 1] + "…"
            label = "task" if message.kind == "task" else message.sender
            lines.append(f"{label}: {text}")
        return "\n".join(lines) if lines else "(nothing yet)"

    def render_prompt(self, view: ChatView, pool: Sequence[str]) -> str:
        """The prompt the model is asked for ``pool``."""
        if callable(self.prompt):
            return self.prompt(view, pool)
        return self.prompt.format(
            participants=self._participants(view, pool),
            candidates=", ".join(pool),
            history=self._history(view),
            task=f"The task: {view.task}\n\n" if view.task else "",
            last_speaker=view.last_speaker or "nobody",
        )

    def _pool(self, view: ChatView, candidates: Sequence[str]) -> list[str]:
        pool = list(candidates)
        if self.candidate_filter is not None:
            kept = set(self.candidate_filter(view, candidates))
            pool = [name for name in pool if name in kept]
            if not pool:
                raise SelectionError(f"{self.name}: the candidate filter left no candidates")
        last = view.last_speaker
        if not self.allow_repeated_speaker and len(pool) > 1 and last in pool:
            pool.remove(last)
        return pool

    # ------------------------------------------------------------------ choosing

    async def select(self, view: ChatView, candidates: Sequence[str]) -> Selection:
        pool = self._pool(view, candidates)
        if len(pool) == 1:
            return Selection(pool[0], f"{pool[0]} is the only candidate")
        messages = [ModelMessage(role="user", content=self.render_prompt(view, pool))]
        others = tuple(view.participants)
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            request = ModelRequest(
                messages=tuple(messages), temperature=self.temperature, max_tokens=self.max_tokens
            )
            try:
                response = await complete(self.model, request)
            except ModelError as exc:
                problem = f"the model call failed: {exc}"
                await view.report_attempt(self.name, attempt, "", accepted=False, problem=problem)
                break
            answer = response.content
            chosen, problem = match_speaker(answer, pool, others)
            await view.report_attempt(
                self.name,
                attempt,
                answer,
                accepted=chosen is not None,
                problem=problem,
                usage=response.usage,
            )
            if chosen is not None:
                again = f" (attempt {attempt})" if attempt > 1 else ""
                return Selection(chosen, f"{self.model.name} chose {chosen}{again}")
            messages.append(ModelMessage(role="assistant", content=answer))
            messages.append(
                ModelMessage(
                    role="user",
                    content=f"That answer cannot be used: {problem}. Answer with exactly one "
                    f"name from: {', '.join(pool)}. Only the name.",
                )
            )
        else:
            problem = f"no usable answer in {self.max_attempts} attempts (last: {problem})"
        picked = await self.fallback.select(view, pool)
        return Selection(
            picked.speaker,
            f"{self.name}: {problem}; {picked.reason}",
            picked.policy or self.fallback.name,
        )
