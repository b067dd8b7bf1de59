"""The chat's metrics: the GenAI conventions' client histograms (tokens, operation duration)
and the chat's own (messages per chat, time spent waiting for a person).

Made by :class:`~groupchat.tracing.spans.ChatSpans` from the same events as the spans. Imported
only when tracing is on.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics

from groupchat.messages import Usage
from groupchat.tracing import conventions as c

__all__ = ["ChatMetrics"]

_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)


class _Instruments:
    """The instruments of one meter provider, made once and shared by its chats."""

    def __init__(self, provider: Any) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter(c.SCOPE)
        self.tokens = meter.create_histogram(
            c.TOKEN_USAGE,
            unit="{token}",
            description="Tokens used per model call",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            c.OPERATION_DURATION,
            unit="s",
            description="Duration of model calls",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.messages = meter.create_histogram(
            c.CHAT_MESSAGES, unit="{message}", description="Messages per chat run"
        )
        self.wait = meter.create_histogram(
            c.HUMAN_WAIT, unit="s", description="Time the chat waited for a person"
        )


_MADE: dict[int, tuple[Any, _Instruments]] = {}


class ChatMetrics:
    """Records one chat's measurements through ``provider`` (default: the global one)."""

    def __init__(self, provider: Any = None) -> None:
        key = id(provider) if provider is not None else id(metrics.get_meter_provider())
        made = _MADE.get(key)
        if made is None:
            made = _MADE[key] = (provider, _Instruments(provider))
        self._made = made[1]

    def model_call(
        self, model: str | None, start: int, end: int, usage: Usage | None, error: str | None
    ) -> None:
        attributes: dict[str, str] = {c.OPERATION: c.CHAT}
        if model is not None:
            attributes[c.REQUEST_MODEL] = model
        if error is not None:
            attributes[c.ERROR_TYPE] = error.split(":", 1)[0]
        self._made.duration.record(max(0, end - start) / 1e9, attributes)
        if usage is not None:
            made = self._made.tokens
            made.record(usage.input_tokens, {**attributes, c.TOKEN_TYPE: "input"})
            made.record(usage.output_tokens, {**attributes, c.TOKEN_TYPE: "output"})

    def chat_ended(self, messages: int, policy: str) -> None:
        self._made.messages.record(messages, {c.POLICY: policy})

    def human_wait(self, request: str, start: int, end: int) -> None:
        self._made.wait.record(max(0, end - start) / 1e9, {c.REQUEST: request})
