"""A chat-completions server on 127.0.0.1 for tests: real HTTP, real SSE, scripted answers.

It speaks enough of ``POST /v1/chat/completions`` for the OpenAI SDK: JSON answers and
streamed ones (``data: {...}`` chunks with text and tool-call deltas, a final usage chunk when
``stream_options.include_usage`` is set, ``data: [DONE]``), and the failures a client must
survive: an error status with a JSON body, a stream cut off mid-answer, an answer that never
comes. Each request takes the next scripted :data:`Step`; every request is kept in
:attr:`ChatCompletionsServer.requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = ["Answer", "Broken", "Call", "ChatCompletionsServer", "Hang", "Status", "Step"]


@dataclass(frozen=True)
class Call:
    """A tool call in an answer."""

    name: str
    arguments: dict[str, Any]
    id: str = "call_1"


@dataclass(frozen=True)
class Answer:
    """A successful answer, streamed in ``pieces`` (default: word by word) when asked."""

    text: str = ""
    calls: Sequence[Call] = ()
    usage: tuple[int, int] = (10, 5)
    pieces: Sequence[str] | None = None


@dataclass(frozen=True)
class Status:
    """An error status with OpenAI's JSON error body."""

    code: int
    message: str = "error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Broken:
    """Start streaming ``text``, then drop the connection in the middle of the body."""

    text: str = "partial answer"


@dataclass(frozen=True)
class Hang:
    """Never answer (until the server stops)."""


Step: TypeAlias = Answer | Status | Broken | Hang


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ChatCompletionsServer:
    """Serves ``steps`` in order (the last one repeats). ``api_key``: requests without
    ``Authorization: Bearer <api_key>`` get a 401 whose body quotes part of the key they sent,
    as OpenAI's does."""

    def __init__(self, steps: Sequence[Step] = (), *, api_key: str | None = None) -> None:
        self.steps: deque[Step] = deque(steps)
        self.api_key = api_key
        self.requests: list[Request] = []
        self._server: asyncio.Server | None = None
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> ChatCompletionsServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()

    def _next(self) -> Step:
        if len(self.steps) > 1:
            return self.steps.popleft()
        return self.steps[0] if self.steps else Answer("ok")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        _method, path, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
        }
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        body = json.loads(raw or b"{}")
        self.requests.append(Request(path, headers, body))
        if path != "/v1/chat/completions":
            await self._status(writer, Status(404, f"no route {path}"))
            return
        sent = headers.get("authorization", "")
        if self.api_key is not None and sent != f"Bearer {self.api_key}":
            key = sent.removeprefix("Bearer ")
            shown = f"{key[:6]}***{key[-4:]}" if len(key) > 10 else key
            await self._status(writer, Status(401, f"Incorrect API key provided: {shown}"))
            return
        step = self._next()
        if isinstance(step, Hang):
            await self._stop.wait()
        elif isinstance(step, Status):
            await self._status(writer, step)
        elif isinstance(step, Broken):
            await self._broken(writer, step, body)
        elif body.get("stream"):
            await self._stream(writer, step, body)
        else:
            await self._json(writer, step, body)

    async def _status(self, writer: asyncio.StreamWriter, step: Status) -> None:
        payload = json.dumps(
            {"error": {"message": step.message, "type": "error", "code": str(step.code)}}
        ).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in step.headers.items())
        writer.write(
            f"HTTP/1.1 {step.code} Error\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{extra}Connection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()

    async def _json(self, writer: asyncio.StreamWriter, step: Answer, body: dict[str, Any]) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": step.text or None}
        if step.calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in step.calls
            ]
        payload = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if step.calls else "stop",
                    }
                ],
                "usage": _usage(step.usage),
            }
        ).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()

    @staticmethod
    def _start_stream(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )

    @staticmethod
    async def _event(writer: asyncio.StreamWriter, data: str) -> None:
        frame = f"data: {data}\n\n".encode()
        writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        await writer.drain()

    async def _stream(
        self, writer: asyncio.StreamWriter, step: Answer, body: dict[str, Any]
    ) -> None:
        model = body.get("model", "")
        self._start_stream(writer)
        pieces = step.pieces if step.pieces is not None else _words(step.text)
        first = True
        for piece in pieces:
            delta: dict[str, Any] = {"content": piece}
            if first:
                delta["role"] = "assistant"
                first = False
            await self._event(writer, _chunk(model, delta))
        for index, call in enumerate(step.calls):
            arguments = json.dumps(call.arguments)
            half = len(arguments) // 2
            opening = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments[:half]},
            }
            await self._event(writer, _chunk(model, {"tool_calls": [opening]}))
            rest = {"index": index, "function": {"arguments": arguments[half:]}}
            await self._event(writer, _chunk(model, {"tool_calls": [rest]}))
        finish = "tool_calls" if step.calls else "stop"
        await self._event(writer, _chunk(model, {}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [],
                "usage": _usage(step.usage),
            }
            await self._event(writer, json.dumps(usage))
        await self._event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _broken(
        self, writer: asyncio.StreamWriter, step: Broken, body: dict[str, Any]
    ) -> None:
        self._start_stream(writer)
        for piece in _words(step.text):
            await self._event(writer, _chunk(body.get("model", ""), {"content": piece}))
        writer.transport.abort()  # no terminating chunk: the body is cut off


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words) if w or i == 0]


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
