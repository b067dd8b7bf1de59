"""Tracing's edges: spans over OTLP/HTTP and OTLP/gRPC to receivers on loopback, the SDK set up
from the environment for the command line (console too), a real worker process whose turn spans
join the manager's trace, and no OpenTelemetry imported by ``import groupchat``."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from distributed_support import Procs, eventually, write_spec

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


class Received(NamedTuple):
    """One span as a collector received it."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


def decode(request: ExportTraceServiceRequest) -> list[Received]:
    got: list[Received] = []
    for resource in request.resource_spans:
        service = next(
            (a.value.string_value for a in resource.resource.attributes if a.key == "service.name"),
            "",
        )
        for scope in resource.scope_spans:
            got.extend(
                Received(
                    service,
                    span.name,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex(),
                )
                for span in scope.spans
            )
    return got


class Receiver(HTTPServer):
    """Accepts ``POST /v1/traces`` and keeps the spans it decodes."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Received] = []
        self.got = threading.Event()

    @property
    def names(self) -> list[str]:
        return [span.name for span in self.spans]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.server.spans.extend(decode(request))
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


# ------------------------------------------------------------------------------- OTLP/gRPC


class GrpcReceiver:
    """An OTLP/gRPC trace collector on a loopback port, keeping the spans it decodes."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        receiver = self
        self.spans: list[Received] = []
        self.got = threading.Event()

        class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                receiver.spans.extend(decode(request))
                receiver.got.set()
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None)


def test_the_cli_sends_over_otlp_grpc_when_the_protocol_says_so() -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    receiver = GrpcReceiver()
    try:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_METRICS_EXPORTER": "none",
            "NO_PROXY": "127.0.0.1",
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
        assert receiver.got.wait(5), done.stderr
        names = [span.name for span in receiver.spans]
        assert "invoke_workflow group_chat" in names
        assert any(name.startswith("invoke_agent ") for name in names)
        assert {span.service for span in receiver.spans} == {"groupchat"}
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "http/json",
            "OTEL_EXPORTER_OTLP_PROTOCOL=http/json is not",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon", "TRACES_PROTOCOL=carrier-pigeon"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER=zipkin is not supported"),
    ],
)
def test_a_tracing_setting_that_cannot_be_honoured_is_named_and_the_chat_runs(
    variable: str, value: str, said: str
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_METRICS_EXPORTER": "none",
        variable: value,
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
    assert said in done.stderr
    assert "DEBATE OVER" in done.stdout


def test_the_console_exporter_writes_the_spans_to_standard_error() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "groupchat", "run", SPEC, "--headless", "--no-store"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    decoder = json.JSONDecoder()
    spans: list[dict[str, Any]] = []
    text, at = done.stderr, 0
    while (start := text.find("{", at)) != -1:
        span, at = decoder.raw_decode(text, start)
        spans.append(span)
    names = [span["name"] for span in spans]
    assert "invoke_workflow group_chat" in names
    root = next(span for span in spans if span["name"] == "invoke_workflow group_chat")
    turns = [span for span in spans if span["name"].startswith("invoke_agent ")]
    assert turns and all(span["parent_id"] == root["context"]["span_id"] for span in turns)
    assert "DEBATE OVER" in done.stdout  # the chat's own output stays on standard output


# -------------------------------------------------------------------- a worker's real process


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    started = Procs(tmp_path)
    yield started
    started.stop_all()


def test_a_worker_process_turn_spans_join_the_managers_trace(
    redis_url: str, receiver: Receiver, tmp_path: Path, procs: Procs
) -> None:
    """``groupchat worker`` hosting pro and con, ``groupchat run --bus`` the rest: each sends
    its spans to the collector under its own service name, and every worker turn span is a child
    of the manager's span of that turn, in the chat's one trace."""
    host, port = receiver.server_address[:2]
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host!s}:{port}",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    spec = write_spec(
        tmp_path / "team.json",
        {
            "name": "trio",
            "task": "Say something",
            "participants": [
                {"kind": "scripted", "name": "host", "script": ["Go @pro", "Now @con", "END"]},
                {"kind": "scripted", "name": "pro", "script": ["For it."]},
                {"kind": "scripted", "name": "con", "script": ["Against it."]},
            ],
            "policy": {"kind": "mention"},
            "termination": {"text_mention": {"text": "END"}, "max_messages": 8},
        },
    )
    worker = procs.start(
        "worker",
        "worker",
        spec,
        "--bus",
        redis_url,
        "--only",
        "pro",
        "con",
        env={**otel, "OTEL_SERVICE_NAME": "gpu-host"},
    )
    worker.wait_err(r"hosting pro, con for the chats of team 'trio'")
    run = procs.start(
        "run",
        "run",
        spec,
        "--bus",
        redis_url,
        "--headless",
        "--no-store",
        "--wait-for",
        "pro",
        "con",
        env={**otel, "OTEL_SERVICE_NAME": "manager"},
    )
    assert run.wait() == 0, run.err

    def both_workers_turns() -> list[Received] | None:
        spans = [s for s in receiver.spans if s.service == "gpu-host"]
        return spans if len(spans) >= 2 else None

    worker_spans = eventually(both_workers_turns, "the worker's two turn spans arrive")
    manager = [s for s in receiver.spans if s.service == "manager"]
    root = next(s for s in manager if s.name == "invoke_workflow group_chat")
    by_id = {s.span_id: s for s in manager}
    assert {s.name for s in worker_spans} == {"worker_turn con", "worker_turn pro"}
    for span in worker_spans:
        assert span.trace_id == root.trace_id
        parent = by_id[span.parent_id]
        assert parent.name == "invoke_agent " + span.name.removeprefix("worker_turn ")
        assert parent.parent_id == root.span_id
