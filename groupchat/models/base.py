"""The model-client protocol: a chat-completion request in, a stream of pieces out.

Every client (the OpenAI-compatible one, the scripted doubles, the record/replay cache) speaks
this one protocol, so agents and selectors never know which they talk to. A call streams
:class:`TextChunk` and :class:`ToolCallChunk` pieces and ends with exactly one
:class:`Completed` holding the whole :class:`ModelResponse` with its token usage.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from groupchat.messages import Usage

__all__ = [
    "AuthError",
    "CacheMiss",
    "ChatModel",
    "Completed",
    "MissingExtraError",
    "ModelConnectionError",
    "ModelError",
    "ModelMessage",
    "ModelRequest",
    "ModelResponse",
    "ModelTimeout",
    "ModelToolCall",
    "RateLimitError",
    "RequestRejected",
    "ResponseFormat",
    "ServerError",
    "StreamBroken",
    "StreamEvent",
    "TextChunk",
    "ToolCallChunk",
    "ToolSpec",
    "complete",
    "complete_structured",
    "estimate_tokens",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ModelToolCall(BaseModel):
    """A tool call as the model wrote it; ``arguments`` is the raw JSON text."""

    model_config = _FROZEN

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; raises ``ValueError`` if they are not a JSON object."""
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"arguments are not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ValueError("arguments are not a JSON object")
        return value


class ModelMessage(BaseModel):
    """One message of a request, in the chat-completions roles."""

    model_config = _FROZEN

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    name: str | None = None
    tool_calls: tuple[ModelToolCall, ...] = ()
    tool_call_id: str | None = None


class ToolSpec(BaseModel):
    """A tool offered to the model: its name, what it does, and a JSON schema of its arguments."""

    model_config = _FROZEN

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ResponseFormat(BaseModel):
    """Ask for JSON output: any JSON object, or one matching ``json_schema``."""

    model_config = _FROZEN

    type: Literal["json_object", "json_schema"] = "json_object"
    name: str = "output"
    json_schema: dict[str, Any] | None = None


class ModelRequest(BaseModel):
    """Everything one call sends. Its JSON is the key of the record/replay cache."""

    model_config = _FROZEN

    messages: tuple[ModelMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "none", "required"] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    response_format: ResponseFormat | None = None
    seed: int | None = None


class ModelResponse(BaseModel):
    """The whole answer of one call."""

    model_config = _FROZEN

    content: str = ""
    tool_calls: tuple[ModelToolCall, ...] = ()
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A streamed piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """A tool call, complete (its streamed argument pieces already joined)."""

    call: ModelToolCall


@dataclass(frozen=True, slots=True)
class Completed:
    """The last item of every stream: the whole response, usage included."""

    response: ModelResponse


StreamEvent: TypeAlias = TextChunk | ToolCallChunk | Completed


@runtime_checkable
class ChatModel(Protocol):
    """A chat-completion client.

    ``name`` identifies the model (``provider:model``); it names the model in errors and is part
    of the cache key. ``stream`` yields text and tool-call pieces and ends with one
    :class:`Completed`; failures raise a :class:`ModelError`.
    """

    @property
    def name(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...


async def complete(model: ChatModel, request: ModelRequest) -> ModelResponse:
    """Run one call to the end and return the whole response."""
    response: ModelResponse | None = None
    async for event in model.stream(request):  # read to the end: no generator left to finalise
        if type(event) is Completed:
            response = event.response
    if response is None:
        raise StreamBroken(f"{model.name}: the stream ended without a final response")
    return response


M = TypeVar("M", bound=BaseModel)


async def complete_structured(
    model: ChatModel, request: ModelRequest, output: type[M]
) -> tuple[M, Usage]:
    """Ask for JSON matching ``output``'s schema and validate the answer against it.

    Endpoints that cannot constrain output still get the schema in the request; an answer
    that does not validate raises :class:`ModelError` saying why.
    """
    fmt = ResponseFormat(
        type="json_schema", name=output.__name__, json_schema=output.model_json_schema()
    )
    response = await complete(model, request.model_copy(update={"response_format": fmt}))
    try:
        return output.model_validate_json(response.content), response.usage
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()[:3]
        )
        raise ModelError(
            f"{model.name}: the answer does not match {output.__name__}: {problems}"
        ) from None


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token) for budgets when no tokenizer is at hand."""
    return (len(text) + 3) // 4


# --------------------------------------------------------------------------------- errors


class ModelError(Exception):
    """A model call failed. ``retryable`` says whether trying again may help.

    Messages are one line and never contain a key.
    """

    retryable = False


class AuthError(ModelError):
    """The key is missing or was rejected."""


class RateLimitError(ModelError):
    """The server asked to slow down (HTTP 429); ``retry_after`` is its hint, in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(ModelError):
    """The server failed (HTTP 5xx)."""

    retryable = True


class ModelTimeout(ModelError):
    """No answer (or no next piece of a streamed answer) within the call's timeout."""

    retryable = True


class ModelConnectionError(ModelError):
    """The server could not be reached."""

    retryable = True


class StreamBroken(ModelError):
    """A streamed answer stopped in the middle or could not be read."""

    retryable = True


class RequestRejected(ModelError):
    """The server refused the request as invalid (HTTP 4xx other than 401, 403 and 429)."""


class CacheMiss(ModelError):
    """Replay mode found no recorded answer for a request."""


class MissingExtraError(ModelError, ImportError):
    """An optional dependency is not installed; the message names the pip command."""
