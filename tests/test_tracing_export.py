"""Tracing's edges: spans over OTLP/HTTP to a receiver on loopback, the SDK set up from the
environment for the command line, and no OpenTelemetry imported by ``import groupchat``."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from groupchat.agents import ScriptedAgent
from groupchat.chat import GroupChat
from groupchat.tracing import Tracing

SPEC = str(Path(__file__).parent.parent / "examples" / "debate.yaml")


class Receiver(HTTPServer):
    """Accepts ``POST /v1/traces`` and keeps the span names it decodes."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.names: list[str] = []
        self.got = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    self.server.names.extend(span.name for span in scope.spans)
            self.server.got.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_spans_go_over_otlp_http_to_a_collector(receiver: Receiver) -> None:
    host, port = receiver.server_address[:2]
    exporter = OTLPSpanExporter(endpoint=f"http://{host!s}:{port}/v1/traces", timeout=5)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    agents = [ScriptedAgent("ann", ["hi"]), ScriptedAgent("ben", ["hello"])]
    chat = GroupChat(agents, max_turns=2, tracing=Tracing(tracer_provider=provider))
    await chat.run("go")
    provider.shutdown()
    assert receiver.got.wait(5)
    assert sorted(receiver.names) == [
        "invoke_agent ann",
        "invoke_agent ben",
        "invoke_workflow group_chat",
    ]


def test_the_cli_sets_up_the_sdk_from_one_variable(receiver: Receiver) -> None:
    host, port = receiver.server_address[:2]
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host!s}:{port}",
        "OTEL_METRICS_EXPORTER": "none",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "groupchat", "run", SPEC, "--headless", "--no-store"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert receiver.got.wait(5)
    assert "invoke_workflow group_chat" in receiver.names
    assert any(name.startswith("invoke_agent ") for name in receiver.names)


def test_the_cli_under_opentelemetry_instrument_uses_its_provider(receiver: Receiver) -> None:
    """``opentelemetry-instrument`` sets the provider up itself: the CLI sends through it."""
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    host, port = receiver.server_address[:2]
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host!s}:{port}",
        "OTEL_SERVICE_NAME": "team-under-test",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    }
    done = subprocess.run(
        [
            str(instrument),
            "--traces_exporter",
            "otlp_proto_http",
            "--metrics_exporter",
            "none",
            "--logs_exporter",
            "none",
            sys.executable,
            "-m",
            "groupchat",
            "run",
            SPEC,
            "--headless",
            "--no-store",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert receiver.got.wait(5)
    assert "invoke_workflow group_chat" in receiver.names


def test_import_groupchat_imports_no_opentelemetry() -> None:
    code = (
        "import sys, groupchat; from groupchat import GroupChat; import groupchat.chat; "
        "import groupchat.tracing; import groupchat.distributed.wire; "
        "print([m for m in sys.modules if m.startswith('opentelemetry')])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
