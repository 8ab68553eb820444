"""OpenTelemetry: a span per request and per attempt with the GenAI conventions, the GenAI client metrics, and
the caller's traceparent continued; against the SDK's in-memory exporter, and against a real OTLP/HTTP receiver
started here on 127.0.0.1 (it decodes the protobuf the exporter sends)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import anthropic
import pytest
from gateway_support import FALLBACK_ROUTE, KEY

pytest.importorskip("opentelemetry.sdk", reason="the tiered[otel] extra is not installed")

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tiered.config import parse_config_text
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.gateway import build_gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway
from tiered.telemetry.otel import OtelSink

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
BODY: Any = {"model": "tiered/default", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def gateway(upstream: str, tmp_path: Path, sinks: list[Any]) -> Any:
    text = (f'[backend]\nkind = "emulator"\nbase_url = "{upstream}"\n'
            f'[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\npath = "{tmp_path / "r.db"}"\n{FALLBACK_ROUTE}')
    return build_gateway(parse_config_text(text, source="test"), GatewaySettings(keys=frozenset({KEY})),
                         sinks=sinks, env={})


def test_spans_and_metrics_in_memory(start_emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # opus is overloaded: the fallback answers on sonnet, so the request has two attempts
    upstream = start_emulator(EmulatorConfig(per_model={"claude-opus-4-7": Behaviour(error_rates={"529": 1.0})}))
    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    app = gateway(upstream, tmp_path, [OtelSink(tp, mp)])
    with running_gateway(app) as url:
        client = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)
        client.messages.create(**BODY, extra_headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        client.messages.create(**BODY)  # no traceparent: a trace of its own
        app.core.recorder.flush()
    finished = spans.get_finished_spans()
    requests = [s for s in finished if s.parent is None or s.attributes.get("tiered.route")]
    first = next(s for s in requests if s.context.trace_id == int(TRACE, 16))
    assert first.parent is not None and first.parent.span_id == int(PARENT, 16)  # the caller's trace, continued
    a = first.attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "tiered/default"
    assert a["gen_ai.response.model"].startswith("claude-sonnet") and a["tiered.tier"] == "sonnet"
    assert a["tiered.route"] == "default" and a["tiered.fell_back"] is True and a["tiered.cost_usd"] > 0
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["tiered.decision.reason"] and a["tiered.key_name"].startswith("key_")
    children = sorted((s for s in finished if s.parent is not None and s.parent.span_id == first.context.span_id),
                      key=lambda s: s.start_time)
    assert [c.attributes["gen_ai.request.model"].split("-")[1] for c in children] == ["opus", "sonnet"]
    assert children[0].attributes["error.type"] == "overloaded_error"
    assert children[1].attributes["tiered.attempt.kind"] == "fallback"
    assert all(first.start_time <= c.start_time <= c.end_time <= first.end_time for c in children)
    other = [s for s in requests if s is not first and s.attributes.get("tiered.route")]
    assert other and other[0].context.trace_id != int(TRACE, 16)
    metrics = {m.name: m for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics}
    usage = metrics["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    kinds = {p.attributes["gen_ai.token.type"] for p in usage.data.data_points}
    assert kinds == {"input", "output"}
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    errors = [p for p in duration.data.data_points if p.attributes.get("error.type") == "overloaded_error"]
    assert errors and errors[0].count == 2


class _Receiver(http.server.BaseHTTPRequestHandler):
    traces: ClassVar[list[ExportTraceServiceRequest]] = []
    metrics: ClassVar[list[ExportMetricsServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.path == "/v1/traces":
            msg = ExportTraceServiceRequest()
            msg.ParseFromString(body)
            self.traces.append(msg)
        elif self.path == "/v1/metrics":
            msg2 = ExportMetricsServiceRequest()
            msg2.ParseFromString(body)
            self.metrics.append(msg2)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.traces, _Receiver.metrics = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_a_real_otlp_receiver_gets_the_spans_and_metrics(emulator_url: str, tmp_path: Path, receiver: str) -> None:
    sink = OtelSink.from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver, "OTEL_SERVICE_NAME": "gw-test"})
    app = gateway(emulator_url, tmp_path, [sink])
    with running_gateway(app) as url:  # leaving the block closes the sinks: the exporters flush
        client = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)
        client.messages.create(**BODY, extra_headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    spans = [s for req in _Receiver.traces for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    service = {a.value.string_value for req in _Receiver.traces for rs in req.resource_spans
               for a in rs.resource.attributes if a.key == "service.name"}
    assert service == {"gw-test"}
    request = next(s for s in spans if s.parent_span_id == bytes.fromhex(PARENT))
    assert request.trace_id == bytes.fromhex(TRACE)
    attrs = {a.key: a.value for a in request.attributes}
    assert attrs["gen_ai.operation.name"].string_value == "chat"
    assert attrs["tiered.route"].string_value == "default" and attrs["tiered.cost_usd"].double_value > 0
    assert any(s.parent_span_id == request.span_id for s in spans)  # the attempt
    names = {m.name for req in _Receiver.metrics for rm in req.resource_metrics for sm in rm.scope_metrics
             for m in sm.metrics}
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= names
