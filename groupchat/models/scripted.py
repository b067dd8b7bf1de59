"""Model doubles for tests, demos and benchmarks: fixed answers, or a function of the request.

They speak the :class:`~groupchat.models.base.ChatModel` protocol exactly like a real client:
text streams in pieces, tool calls follow, and the stream ends with the whole response and its
token usage (an estimate unless the script gives one).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import lru_cache
from itertools import count
from typing import Any, Literal, TypeAlias

from groupchat.messages import Usage
from groupchat.models.base import (
    Completed,
    ModelError,
    ModelRequest,
    ModelResponse,
    ModelToolCall,
    StreamEvent,
    TextChunk,
    ToolCallChunk,
    estimate_tokens,
)

__all__ = [
    "Answer",
    "FunctionModel",
    "ScriptedModel",
    "reply",
    "stream_response",
    "tool_call",
]

Answer: TypeAlias = str | ModelResponse | ModelError
"""What a scripted model says on one call: text, a whole response, or an error to raise."""
Chunking: TypeAlias = Literal["all", "word"] | int
_WORDS = re.compile(r"\s*\S+\s*|\s+")
_call_ids = count(1)


def tool_call(name: str, call_id: str | None = None, /, **arguments: Any) -> ModelToolCall:
    """A tool call as a model would write it."""
    return ModelToolCall(
        id=call_id or f"call_{next(_call_ids)}", name=name, arguments=json.dumps(arguments)
    )


def reply(text: str = "", *calls: ModelToolCall, usage: Usage | None = None) -> ModelResponse:
    """A response with ``text`` and tool ``calls`` (usage estimated when not given)."""
    return ModelResponse(
        content=text,
        tool_calls=calls,
        usage=usage if usage is not None else Usage(),
        finish_reason="tool_calls" if calls else "stop",
    )


@lru_cache(maxsize=1024)
def _pieces(text: str, chunk: Chunking) -> tuple[str, ...]:
    """``text`` cut as it streams (kept: a scripted model says the same things again)."""
    if not text:
        return ()
    if chunk == "all":
        return (text,)
    if chunk == "word":
        return tuple(_WORDS.findall(text))
    return tuple(text[i : i + chunk] for i in range(0, len(text), chunk))


def _request_tokens(request: ModelRequest) -> int:
    chars = 0
    calls = 0
    for message in request.messages:
        content = message.content
        if content:
            chars += len(content) + 3
        if message.tool_calls:
            calls += sum(estimate_tokens(c.arguments) + 1 for c in message.tool_calls)
    return chars // 4 + calls


def _respond(answer: str | ModelResponse, request: ModelRequest, estimate: bool) -> ModelResponse:
    """The response for ``answer``, with estimated usage if it has none and ``estimate``."""
    if isinstance(answer, str):
        usage = (
            Usage(input_tokens=_request_tokens(request), output_tokens=estimate_tokens(answer))
            if estimate
            else Usage()
        )
        return ModelResponse(content=answer, usage=usage, finish_reason="stop")
    if not estimate or answer.usage.total_tokens:
        return answer
    output = estimate_tokens(answer.content) + sum(
        estimate_tokens(c.arguments) + 1 for c in answer.tool_calls
    )
    usage = Usage(input_tokens=_request_tokens(request), output_tokens=output)
    return answer.model_copy(update={"usage": usage})


async def stream_response(
    response: ModelResponse, chunk: Chunking = "word"
) -> AsyncIterator[StreamEvent]:
    """Stream ``response`` as a client would: text pieces, tool calls, then the whole."""
    for piece in _pieces(response.content, chunk):
        yield TextChunk(piece)
    for call in response.tool_calls:
        yield ToolCallChunk(call)
    yield Completed(response)


class ScriptedModel:
    """Answers each call with the next of ``answers``.

    An answer that is a :class:`ModelError` is raised instead. When the answers run out the
    model starts over (``when_done="cycle"``) or raises (``"error"``). ``chunk`` sets how text
    streams (``"word"``, ``"all"`` at once, or a number of characters); ``estimate_usage``
    fills in token counts for answers that carry none. Every request is kept in
    :attr:`requests` (unless ``keep_requests`` is off).
    """

    def __init__(
        self,
        answers: Sequence[Answer],
        *,
        name: str = "scripted",
        chunk: Chunking = "word",
        when_done: Literal["cycle", "error"] = "error",
        estimate_usage: bool = True,
        keep_requests: bool = True,
    ) -> None:
        if isinstance(answers, str):
            raise TypeError("answers must be a list, not a single string")
        if not answers:
            raise ValueError("a scripted model needs at least one answer")
        if isinstance(chunk, int) and chunk < 1:
            raise ValueError("chunk size must be at least 1")
        self.name = name
        self.answers = list(answers)
        self.chunk: Chunking = chunk
        self.when_done = when_done
        self.estimate_usage = estimate_usage
        self.keep_requests = keep_requests
        self.requests: list[ModelRequest] = []
        self.calls = 0
        self._memo: dict[tuple[str, int], tuple[StreamEvent, ...]] = {}

    def __repr__(self) -> str:
        return f"ScriptedModel({self.name!r}, {len(self.answers)} answers)"

    def _next(self) -> Answer:
        index = self.calls
        self.calls += 1
        if index < len(self.answers):
            return self.answers[index]
        if self.when_done == "cycle":
            return self.answers[index % len(self.answers)]
        return ModelError(f"{self.name}: the script has no answer left (call {index + 1})")

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        if self.keep_requests:
            self.requests.append(request)
        answer = self._next()
        if isinstance(answer, ModelError):
            return _Events((), answer)
        if isinstance(answer, str):
            # Same text, same input size: the same immutable events, made once.
            key = (answer, _request_tokens(request) if self.estimate_usage else 0)
            events = self._memo.get(key)
            if events is None:
                response = _respond(answer, request, self.estimate_usage)
                events = _events_of(response, self.chunk)
                if len(self._memo) >= 1024:
                    self._memo.clear()
                self._memo[key] = events
            return _Events(events)
        response = _respond(answer, request, self.estimate_usage)
        return _Events(_events_of(response, self.chunk))


class _Events:
    """A scripted answer's stream, handed out one event at a time; ``error`` is raised on the
    first read instead. (Lighter than an async generator, which matters in benchmarks.)"""

    __slots__ = ("_error", "_events", "_next")

    def __init__(self, events: tuple[StreamEvent, ...], error: ModelError | None = None) -> None:
        self._events = events
        self._error = error
        self._next = 0

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> StreamEvent:
        error = self._error
        if error is not None:
            self._error = None
            self._events = ()
            raise error
        index = self._next
        if index >= len(self._events):
            raise StopAsyncIteration
        self._next = index + 1
        return self._events[index]


def _events_of(response: ModelResponse, chunk: Chunking) -> tuple[StreamEvent, ...]:
    events: list[StreamEvent] = [TextChunk(piece) for piece in _pieces(response.content, chunk)]
    events.extend(ToolCallChunk(call) for call in response.tool_calls)
    events.append(Completed(response))
    return tuple(events)


AnswerFn: TypeAlias = Callable[
    [ModelRequest], "str | ModelResponse | Awaitable[str | ModelResponse]"
]


class FunctionModel:
    """Answers each call with ``fn(request)`` (sync or async): text or a whole response.

    ``fn`` may raise a :class:`ModelError` to act out a failure.
    """

    def __init__(
        self,
        fn: AnswerFn,
        *,
        name: str = "function",
        chunk: Chunking = "word",
        estimate_usage: bool = True,
    ) -> None:
        self.fn = fn
        self.name = name
        self.chunk: Chunking = chunk
        self.estimate_usage = estimate_usage
        self.calls = 0

    def __repr__(self) -> str:
        return f"FunctionModel({self.name!r})"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        answer = self.fn(request)
        if inspect.isawaitable(answer):
            answer = await answer
        response = _respond(answer, request, self.estimate_usage)
        async for event in stream_response(response, self.chunk):
            yield event
