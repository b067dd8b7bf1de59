"""The OpenTelemetry SDK set up from the standard environment, for the command line.

``groupchat run/demo/resume/fork/worker`` call :func:`configure` when the environment asks for
traces (:func:`~groupchat.tracing.wanted_by_env`): ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its
``_TRACES_`` form) sends spans and metrics over OTLP, by HTTP (``http/protobuf``, the default) or
gRPC as ``OTEL_EXPORTER_OTLP_PROTOCOL`` (or its ``_TRACES_``/``_METRICS_`` form) says — gRPC
needs the extra ``groupchat[otel-grpc]``; ``OTEL_TRACES_EXPORTER`` chooses ``otlp`` or
``console`` (standard error), ``OTEL_SERVICE_NAME`` names the service (default ``groupchat``).
A setting that cannot be honoured is said on standard error, naming the variable, and the chat
runs without that exporter. Under ``opentelemetry-instrument``, or when the application set a
provider, that one is used and nothing is set up here. Imported only then: it imports the SDK.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from opentelemetry import metrics, trace
from opentelemetry.sdk.environment_variables import OTEL_SERVICE_NAME
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from groupchat.tracing import provider_is_set

__all__ = ["configure"]


def _names(variable: str, default: str) -> list[str]:
    value = os.environ.get(variable, "").strip() or default
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def _say(problem: str) -> None:
    print(f"groupchat: {problem}", file=sys.stderr)


def _protocol(signal: str) -> tuple[str | None, str]:
    """``grpc`` or ``http/protobuf`` for ``signal`` (``TRACES`` or ``METRICS``) and the variable
    that said so; ``None`` (said) when it asks for one this cannot send."""
    for variable in (f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(variable, "").strip().lower()
        if not value:
            continue
        if value in ("grpc", "http/protobuf"):
            return value, variable
        _say(f"{variable}={value} is not supported: use http/protobuf or grpc")
        return None, variable
    return "http/protobuf", ""


def _grpc_missing(variable: str) -> None:
    _say(
        f"{variable}=grpc needs opentelemetry-exporter-otlp-proto-grpc "
        "(pip install 'groupchat[otel-grpc]'); not exporting over OTLP"
    )


def _span_exporter(name: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr)
    if name != "otlp":
        _say(f"OTEL_TRACES_EXPORTER={name} is not supported: use otlp, console or none")
        return None
    protocol, variable = _protocol("TRACES")
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError:
            _grpc_missing(variable)
            return None
        return GrpcSpanExporter()  # reads the OTEL_EXPORTER_OTLP_* variables itself
    if protocol is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _metric_exporter(name: str) -> MetricExporter | None:
    if name == "console":
        return ConsoleMetricExporter(out=sys.stderr)
    if name != "otlp":
        if name != "none":
            _say(f"OTEL_METRICS_EXPORTER={name} is not supported: use otlp, console or none")
        return None
    protocol, variable = _protocol("METRICS")
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetricExporter,
            )
        except ImportError:
            _grpc_missing(variable)
            return None
        return GrpcMetricExporter()
    if protocol is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def configure() -> Callable[[], None] | None:
    """Set the global tracer and meter providers as the environment says; returns what
    flushes and shuts them down at exit, or ``None`` if a provider was already set."""
    if provider_is_set():
        return None
    if not os.environ.get(OTEL_SERVICE_NAME):
        os.environ[OTEL_SERVICE_NAME] = "groupchat"
    resource = Resource.create()
    endpoint = bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    tracer_provider = TracerProvider(resource=resource)
    for name in _names("OTEL_TRACES_EXPORTER", "otlp"):
        exporter = _span_exporter(name) if name != "none" else None
        if exporter is not None:
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    readers = []
    for name in _names("OTEL_METRICS_EXPORTER", "otlp" if endpoint else "none"):
        metric_exporter = _metric_exporter(name)
        if metric_exporter is not None:
            readers.append(PeriodicExportingMetricReader(metric_exporter))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers) if readers else None
    if meter_provider is not None:
        metrics.set_meter_provider(meter_provider)

    def shutdown() -> None:
        tracer_provider.shutdown()
        if meter_provider is not None:
            meter_provider.shutdown()

    return shutdown
