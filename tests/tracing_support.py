"""Helpers of the tracing tests: an SDK provider with an in-memory exporter, and the tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from groupchat.tracing import Tracing


@dataclass
class Traced:
    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    provider: TracerProvider = field(default_factory=TracerProvider)

    def __post_init__(self) -> None:
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def options(self, **more: Any) -> Tracing:
        return Tracing(tracer_provider=self.provider, **more)

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name.startswith(prefix)]

    def root(self) -> ReadableSpan:
        [root] = [s for s in self.spans if s.parent is None]
        return root

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        assert span.context is not None
        found = [
            s
            for s in self.spans
            if s.parent is not None and s.parent.span_id == span.context.span_id
        ]
        return sorted(found, key=lambda s: s.start_time or 0)

    def tree(self, span: ReadableSpan | None = None) -> list[Any]:
        """``[name, [children...]]`` from the root (children in start order)."""
        span = span or self.root()
        return [span.name, [self.tree(child) for child in self.children(span)]]

    def parent_of(self, span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None
        [parent] = [s for s in self.spans if s.context and s.context.span_id == span.parent.span_id]
        return parent


def tokens(span: ReadableSpan) -> tuple[int, int]:
    attributes = span.attributes or {}
    return (
        int(attributes.get("gen_ai.usage.input_tokens", 0)),  # type: ignore[arg-type]
        int(attributes.get("gen_ai.usage.output_tokens", 0)),  # type: ignore[arg-type]
    )
