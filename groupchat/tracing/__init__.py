"""OpenTelemetry traces and metrics of every chat, made from its events (the ``otel`` extra).

A tracer is one more subscriber of the chat's bus (:mod:`groupchat.tracing.spans`): it turns
the events into spans with the events' own times, so a live, resumed, replayed or distributed
chat traces the same way. Nothing of OpenTelemetry is imported until tracing is on: by default
it is on when the application has set a tracer provider (the SDK's, not the API's no-op
default); ``GroupChat(..., tracing=False)`` turns it off, ``tracing=Tracing(...)`` tunes it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from groupchat.tracing.conventions import CAPTURE_ENV

__all__ = [
    "Tracing",
    "capture_from_env",
    "cli_tracing",
    "provider_is_set",
    "resolve",
    "wanted_by_env",
]


@dataclass(frozen=True, slots=True)
class Tracing:
    """How a chat is traced.

    ``enabled``: ``None`` traces when a real tracer provider is set, ``True`` always (through
    the global provider, or ``tracer_provider``), ``False`` never. ``capture_content`` records
    message text, tool arguments and results (``None``: as
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` says). Keys are never recorded.
    ``tracer_provider`` / ``meter_provider`` replace the global ones.
    """

    enabled: bool | None = None
    capture_content: bool | None = None
    tracer_provider: Any = None
    meter_provider: Any = None

    @property
    def captures(self) -> bool:
        return self.capture_content if self.capture_content is not None else capture_from_env()


def capture_from_env() -> bool:
    """Whether the environment opts in to recording message content."""
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def resolve(option: bool | Tracing | None) -> Tracing | None:
    """The tracing of a chat run given its ``tracing`` option, or ``None`` when it is off.

    Costs a dictionary lookup when OpenTelemetry was never imported (then no provider can
    have been set, so tracing is off)."""
    if option is False:
        return None
    options = option if isinstance(option, Tracing) else Tracing(enabled=option)
    if options.enabled is False:
        return None
    if options.enabled or options.tracer_provider is not None:
        return options
    if "opentelemetry.trace" not in sys.modules:
        return None
    return options if provider_is_set() else None


def provider_is_set() -> bool:
    """Whether the global tracer provider is a real one (not the API's default proxy)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def wanted_by_env() -> bool:
    """Whether the standard environment asks for traces (an OTLP endpoint, an exporter)."""
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


@contextlib.contextmanager
def cli_tracing() -> Iterator[None]:
    """Around a command: set up the SDK if the environment asks for traces, and flush it at
    the end. Without the ``otel`` extra, says so on standard error and runs untraced."""
    if not wanted_by_env():
        yield
        return
    try:
        from groupchat.tracing.setup import configure
    except ImportError:
        print(
            "groupchat: tracing asked for, but the otel extra is not installed "
            "(pip install 'groupchat[otel]')",
            file=sys.stderr,
        )
        yield
        return
    shutdown = configure()
    try:
        yield
    finally:
        if shutdown is not None:
            shutdown()
