"""The trace context of a hosted turn: the manager's side puts its turn span's W3C
``traceparent`` on the :class:`~groupchat.distributed.wire.Turn` request; the worker runs the
turn under it, so whatever the worker traces joins the chat's trace.

Importing this module imports no OpenTelemetry: without a traced chat in this process the
manager's side is a dictionary lookup, and a request without a ``traceparent`` runs as is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groupchat.tracing import Tracing

__all__ = ["register", "turn_traceparent", "unregister", "worker_turn_span"]

_LIVE: dict[str, Callable[[str], str | None]] = {}
"""Chat id -> the traceparent of a turn (by message id), for the chats traced here."""


def register(chat_id: str, lookup: Callable[[str], str | None]) -> None:
    _LIVE[chat_id] = lookup


def unregister(chat_id: str, lookup: Callable[[str], str | None]) -> None:
    if _LIVE.get(chat_id) is lookup:
        del _LIVE[chat_id]


def turn_traceparent(chat_id: str, message_id: str) -> str | None:
    """The ``traceparent`` of the span of turn ``message_id``, if the chat is traced here."""
    lookup = _LIVE.get(chat_id)
    return lookup(message_id) if lookup is not None else None


def inject(span: Any) -> str | None:
    """The W3C ``traceparent`` of ``span``."""
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(span))
    return carrier.get("traceparent")


@contextlib.contextmanager
def worker_turn_span(
    traceparent: str | None, name: str, worker: str, tracing: Tracing | None = None
) -> Iterator[None]:
    """Run a worker's turn of ``name`` in a span that is a child of the manager's turn span
    (``traceparent``); without one, or when tracing is off (``tracing``, by default on with a
    tracer provider), nothing happens."""
    from groupchat.tracing import resolve

    options = resolve(tracing) if traceparent is not None else None
    if traceparent is None or options is None:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from groupchat.tracing import conventions as c

    parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    tracer = (options.tracer_provider or trace.get_tracer_provider()).get_tracer(c.SCOPE)
    attributes = {c.OPERATION: c.INVOKE_AGENT, c.AGENT_NAME: name, c.WORKER: worker}
    with tracer.start_as_current_span(f"worker_turn {name}", parent, attributes=attributes):
        yield
