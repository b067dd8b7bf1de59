"""A client for any OpenAI-compatible chat-completions endpoint, on the ``openai`` SDK.

OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp's server and LM Studio all speak this protocol.
The SDK is an optional extra (``pip install 'groupchat[openai]'``) imported on the first call,
so building a team, checking a spec or importing ``groupchat`` never needs it. The SDK's own
retries are off: :func:`~groupchat.models.retry.with_retries` retries here, with backoff.

Keys are read from the environment when a call is made and handed to the SDK only; no message
or ``repr`` this module produces contains one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from groupchat.messages import Usage
from groupchat.models.base import (
    AuthError,
    Completed,
    MissingExtraError,
    ModelConnectionError,
    ModelError,
    ModelRequest,
    ModelResponse,
    ModelTimeout,
    ModelToolCall,
    RateLimitError,
    RequestRejected,
    ServerError,
    StreamBroken,
    StreamEvent,
    TextChunk,
    ToolCallChunk,
)
from groupchat.models.retry import RetryPolicy, with_retries
from groupchat.redact import scrub_key, shown_url

__all__ = ["AzureSettings", "OpenAICompatModel", "import_openai", "shown_url"]

PLACEHOLDER_KEY = "not-needed"
"""Sent to local servers that want no key (the SDK insists on one)."""


def import_openai() -> Any:
    """The ``openai`` module, or :class:`MissingExtraError` naming the pip command."""
    try:
        import openai
    except ImportError:
        raise MissingExtraError(
            "the OpenAI-compatible model client needs the openai package: "
            "pip install 'groupchat[openai]'"
        ) from None
    return openai


class AzureSettings(BaseModel):
    """Where an Azure OpenAI resource is, and which API version to use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str
    api_version: str


class OpenAICompatModel:
    """Chat completions against ``base_url`` (or OpenAI's own endpoint) for ``model``.

    ``key_env`` names the environment variable holding the key; with ``key_required`` a missing
    one is an :class:`AuthError` at the first call. ``timeout`` is how long one attempt may wait
    for the response, or for each next piece of a streamed one. ``stream_usage`` asks the
    server for a final usage chunk (``stream_options.include_usage``).
    """

    def __init__(
        self,
        model: str,
        *,
        name: str | None = None,
        base_url: str | None = None,
        key_env: str | None = "OPENAI_API_KEY",
        key_required: bool = True,
        azure: AzureSettings | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        streaming: bool = True,
        stream_usage: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.model = model
        self.name = shown_url(name or f"openai:{model}")
        self.base_url = base_url
        self.key_env = key_env
        self.key_required = key_required
        self.azure = azure
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.streaming = streaming
        self.stream_usage = stream_usage
        self.headers = dict(headers or {})
        self._clients: dict[asyncio.AbstractEventLoop, tuple[Any, str | None]] = {}

    def __repr__(self) -> str:
        where = self.azure.endpoint if self.azure else (self.base_url or "default endpoint")
        return f"OpenAICompatModel({self.name!r}, {shown_url(where)})"

    # ------------------------------------------------------------------ the SDK client

    def _key(self) -> str | None:
        key = os.environ.get(self.key_env) if self.key_env else None
        if key:
            return key
        if self.key_required:
            raise AuthError(f"{self.name}: no API key: set {self.key_env}")
        return None

    def _client(self) -> tuple[Any, str | None]:
        """The SDK client of the running loop (connections belong to one loop) and its key."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry
        openai = import_openai()
        if self.azure is not None and not self.azure.endpoint:
            raise ModelError(f"{self.name}: set AZURE_OPENAI_ENDPOINT to the resource's URL")
        key = self._key()
        common: dict[str, Any] = {
            "api_key": key or PLACEHOLDER_KEY,
            "timeout": self.timeout,
            "max_retries": 0,
            "default_headers": self.headers or None,
        }
        if self.azure is not None:
            client = openai.AsyncAzureOpenAI(
                azure_endpoint=self.azure.endpoint, api_version=self.azure.api_version, **common
            )
        else:
            client = openai.AsyncOpenAI(base_url=self.base_url, **common)
        for old in [lp for lp in self._clients if lp.is_closed()]:
            del self._clients[old]
        self._clients[loop] = entry = (client, key)
        return entry

    async def aclose(self) -> None:
        """Close the connections of the running loop's client."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].close()

    # ------------------------------------------------------------------ calls

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return with_retries(lambda: self._attempt(request), self.retry)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [_message(m) for m in request.messages],
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
            if request.tool_choice is not None:
                params["tool_choice"] = request.tool_choice
        for field in ("temperature", "max_tokens", "seed"):
            value = getattr(request, field)
            if value is not None:
                params[field] = value
        fmt = request.response_format
        if fmt is not None:
            if fmt.type == "json_schema" and fmt.json_schema is not None:
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": fmt.name, "schema": fmt.json_schema},
                }
            else:
                params["response_format"] = {"type": "json_object"}
        return params

    async def _attempt(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        client, key = self._client()
        params = self._params(request)
        try:
            if not self.streaming:
                async with asyncio.timeout(self.timeout):
                    completion = await client.chat.completions.create(**params)
                for event in _from_completion(completion):
                    yield event
                return
            if self.stream_usage:
                params["stream_options"] = {"include_usage": True}
            async with asyncio.timeout(self.timeout):
                stream = await client.chat.completions.create(stream=True, **params)
            try:
                async for event in self._read(stream):
                    yield event
            finally:
                await stream.close()
        except ModelError:
            raise
        except TimeoutError:
            raise ModelTimeout(f"{self.name}: no answer within {self.timeout:g} s") from None
        except Exception as exc:
            raise self._translate(exc, key) from None

    async def _read(self, stream: Any) -> AsyncIterator[StreamEvent]:
        calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]
        text: list[str] = []
        usage = Usage()
        finish: str | None = None
        iterator = stream.__aiter__()
        while True:
            async with asyncio.timeout(self.timeout):
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices or ():
                if choice.index != 0:
                    continue
                delta = choice.delta
                if delta is not None and delta.content:
                    text.append(delta.content)
                    yield TextChunk(delta.content)
                for call in (delta.tool_calls if delta is not None else None) or ():
                    entry = calls.setdefault(call.index, ["", "", ""])
                    if call.id:
                        entry[0] = call.id
                    if call.function is not None:
                        entry[1] += call.function.name or ""
                        entry[2] += call.function.arguments or ""
                if choice.finish_reason:
                    finish = choice.finish_reason
        if finish is None:
            raise StreamBroken(f"{self.name}: the streamed answer ended before it was finished")
        tool_calls = tuple(
            ModelToolCall(id=c[0] or f"call_{i}", name=c[1], arguments=c[2] or "{}")
            for i, c in sorted(calls.items())
        )
        for call in tool_calls:
            yield ToolCallChunk(call)
        yield Completed(
            ModelResponse(
                content="".join(text), tool_calls=tool_calls, usage=usage, finish_reason=finish
            )
        )

    def _translate(self, exc: Exception, key: str | None) -> ModelError:
        """The SDK's (or the transport's) exception as a one-line :class:`ModelError`."""
        openai = import_openai()
        name = self.name
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in (401, 403):
                hint = f"; check {self.key_env}" if self.key_env else ""
                return AuthError(f"{name}: the API key was rejected (HTTP {status}){hint}")
            if status == 429:
                return RateLimitError(
                    f"{name}: rate limited (HTTP 429)",
                    retry_after=_retry_after(exc.response.headers),
                )
            if status == 408:
                return ModelTimeout(f"{name}: the server timed out (HTTP 408)")
            if status >= 500:
                return ServerError(f"{name}: server error (HTTP {status})")
            body = exc.body
            said = body.get("message") if isinstance(body, dict) else None
            detail = scrub_key(_one_line(str(said or exc.message or "")), key)
            return RequestRejected(f"{name}: request rejected (HTTP {status}): {detail}")
        if isinstance(exc, openai.APITimeoutError):
            return ModelTimeout(f"{name}: no answer within {self.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            if cause is not None and "RemoteProtocolError" in type(cause).__name__:
                return StreamBroken(f"{name}: the connection broke in the middle of the answer")
            where = self.azure.endpoint if self.azure else (self.base_url or "the API")
            return ModelConnectionError(f"{name}: cannot connect to {shown_url(where)}")
        detail = scrub_key(_one_line(str(exc)), key)
        return StreamBroken(f"{name}: unreadable answer: {type(exc).__name__}: {detail}")


def _message(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def _usage(usage: Any) -> Usage:
    return Usage(
        input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        output_tokens=getattr(usage, "completion_tokens", 0) or 0,
    )


def _from_completion(completion: Any) -> list[StreamEvent]:
    choice = completion.choices[0] if completion.choices else None
    message = choice.message if choice is not None else None
    content = (message.content if message is not None else None) or ""
    calls = tuple(
        ModelToolCall(
            id=c.id or f"call_{i}", name=c.function.name, arguments=c.function.arguments or "{}"
        )
        for i, c in enumerate((message.tool_calls if message is not None else None) or ())
    )
    events: list[StreamEvent] = [TextChunk(content)] if content else []
    events.extend(ToolCallChunk(c) for c in calls)
    usage = _usage(completion.usage) if completion.usage is not None else Usage()
    finish = choice.finish_reason if choice is not None else None
    events.append(
        Completed(
            ModelResponse(content=content, tool_calls=calls, usage=usage, finish_reason=finish)
        )
    )
    return events


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                return None
    return None


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
