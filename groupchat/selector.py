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
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from groupchat.events import Event
from groupchat.messages import Message
from groupchat.models.base import ChatModel, ModelError, ModelMessage, ModelRequest, complete
from groupchat.participant import ChatView, PolicyView
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
    answer: str, candidates: Sequence[str], others: Iterable[str] = ()
) -> tuple[str | None, str]:
    """Read a selector's answer: ``(candidate, "")``, or ``(None, what is wrong)``.

    ``others`` are participants who may not speak now, named in the problem if the answer
    picks one of them.
    """
    if answer in candidates:
        return answer, ""
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


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


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
        self._options = {
            k: v
            for k, v in (("temperature", temperature), ("max_tokens", max_tokens))
            if v is not None
        }
        self._static: tuple[tuple[object, ...], str] | None = None
        self._lines: dict[str, tuple[Message, str]] = {}

    def describe(self) -> str:
        return f"{self.name}({self.model.name})"

    def restore(self, events: Sequence[Event]) -> None:
        self.fallback.restore(events)

    def validate(self, participants: Sequence[str]) -> None:
        self.fallback.validate(participants)

    # ------------------------------------------------------------------ the prompt

    def _listing_of(self, view: ChatView, pool: Sequence[str]) -> str:
        infos = view.participants
        lines = []
        for name in pool:
            info = infos.get(name)
            about = info.description if info is not None else ""
            person = " (a person)" if info is not None and info.human else ""
            lines.append(f"- {name}{person}" + (f": {about}" if about else ""))
        return "\n".join(lines)

    def _template_for(self, view: ChatView, pool: Sequence[str], template: str) -> str:
        """``template`` with the fields that rarely change (who may speak, the task) filled in,
        kept until they change; what is left to fill is ``{history}`` and ``{last_speaker}``."""
        key = (tuple(pool), tuple(map(view.participants.get, pool)), view.task)
        cached = self._static
        if cached is not None and cached[0] == key:  # tuples compare items by identity first
            return cached[1]
        task = f"The task: {view.task}\n\n" if view.task else ""
        filled = template.format(
            participants=_escape(self._listing_of(view, pool)),
            candidates=_escape(", ".join(pool)),
            task=_escape(task),
            history="{history}",
            last_speaker="{last_speaker}",
        )
        self._static = (key, filled)
        return filled

    def _line(self, message: Message) -> str:
        text = message.content
        limit = self.max_message_chars
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return f"{'task' if message.kind == 'task' else message.sender}: {text}"

    def _history(self, view: ChatView) -> str:
        log = view.messages
        window = log[-self.window :] if self.window is not None else log[:]
        if not window:
            return "(nothing yet)"
        # Each message is rendered once, not once per selection it stays in the window.
        lines = self._lines
        out = []
        for message in window:
            entry = lines.get(message.id)
            if entry is None or entry[0] is not message:
                entry = lines[message.id] = (message, self._line(message))
            out.append(entry[1])
        if len(lines) > 2 * len(window) + 32:
            self._lines = {m.id: lines[m.id] for m in window}
        return "\n".join(out)

    def render_prompt(self, view: ChatView, pool: Sequence[str]) -> str:
        """The prompt the model is asked for ``pool``."""
        if callable(self.prompt):
            return self.prompt(view, pool)
        return self._template_for(view, pool, self.prompt).format(
            history=self._history(view), last_speaker=view.last_speaker or "nobody"
        )

    def _pool(self, view: ChatView, candidates: Sequence[str]) -> Sequence[str]:
        if self.candidate_filter is None and self.allow_repeated_speaker:
            return candidates
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

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        pool = self._pool(view, candidates)
        if len(pool) == 1:
            return Selection(pool[0], f"{pool[0]} is the only candidate")
        messages = [ModelMessage(role="user", content=self.render_prompt(view, pool))]
        options = self._options
        others = view.participants
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            request = ModelRequest.model_validate({"messages": tuple(messages), **options})
            try:
                response = await complete(self.model, request)
            except ModelError as exc:
                problem = f"the model call failed: {exc}"
                await view.report_attempt(
                    self.name, attempt, "", accepted=False, problem=problem, model=self.model.name
                )
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
                model=self.model.name,
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
