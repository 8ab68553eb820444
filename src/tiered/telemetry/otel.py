"""An OpenTelemetry sink: a span per request and per attempt, and the GenAI client metrics, from each record.

    pip install 'tiered[otel]'
    [telemetry]
    sinks = ["sqlite", "otel"]      # OTLP over HTTP to $OTEL_EXPORTER_OTLP_ENDPOINT (default localhost:4318)

Like every sink it only sees finished `Record`s (the core imports no OpenTelemetry), so spans are
written after the fact with the record's own times: the request span starts at `created_at` and lasts
`latency_ms`; attempt spans are its children, laid end to end in call order (a record keeps each
attempt's duration, not its start, so parallel attempts show as sequential).

Attributes follow the GenAI semantic conventions: `gen_ai.operation.name` ("chat"), `gen_ai.provider.name`
(and the older `gen_ai.system`), `gen_ai.request.model`, `gen_ai.response.model`,
`gen_ai.usage.input_tokens` / `output_tokens` (and cache reads / writes), `error.type`; plus tiered's own
under `tiered.*`: route, tier, policy, decision tier and reason, cost in USD, escalated / fell back /
degraded, the attempt's kind and reason, the gateway key's name. Metrics: the histograms
`gen_ai.client.token.usage` ({token}, by `gen_ai.token.type`) and `gen_ai.client.operation.duration` (s),
one observation per attempt.

The caller's `traceparent` (kept on the record by the gateway) is continued: the request span is its
child, in its trace. Without one, each request starts a trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import MeterProvider, get_meter_provider
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tiered.records import Attempt, Record

SCOPE = "tiered"
PROVIDER = "anthropic"
OPERATION = "chat"
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class OtelSink:
    """Records -> spans and GenAI metrics, through the given providers (default: the global ones)."""

    def __init__(self, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None,
                 *, owned: bool = False) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._owned = owned
        """Whether `close` shuts the providers down (it built them: `from_environment`)."""
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(SCOPE)
        meter = (meter_provider or get_meter_provider()).get_meter(SCOPE)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self._propagator = TraceContextTextMapPropagator()

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> OtelSink:
        """SDK providers exporting OTLP over HTTP/protobuf to `$OTEL_EXPORTER_OTLP_ENDPOINT` (the SDK's default
        endpoint when unset), with service.name `$OTEL_SERVICE_NAME` or "tiered"."""
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        env = os.environ if env is None else env
        base = (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").rstrip("/")
        resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "tiered"})
        spans = OTLPSpanExporter(endpoint=f"{base}/v1/traces") if base else OTLPSpanExporter()
        metrics = OTLPMetricExporter(endpoint=f"{base}/v1/metrics") if base else OTLPMetricExporter()
        tp = SdkTracerProvider(resource=resource)
        tp.add_span_processor(BatchSpanProcessor(spans))
        mp = SdkMeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(metrics)])
        return cls(tp, mp, owned=True)

    def emit(self, record: Record) -> None:
        parent = self._propagator.extract({"traceparent": record.traceparent}) if record.traceparent else None
        start = _ns(record.created_at)
        end = start + _ns(record.latency_ms / 1000.0)
        requested = record.requested_model or record.route
        span = self._tracer.start_span(f"{OPERATION} {requested}", context=parent, kind=SpanKind.SERVER,
                                       start_time=start, attributes=self._request_attributes(record))
        if record.outcome != "ok":
            span.set_attribute("error.type", record.outcome)
            span.set_status(Status(StatusCode.ERROR, record.outcome))
        context = trace.set_span_in_context(span)
        at = start
        for i, a in enumerate(record.attempts):
            length = _ns(a.latency_ms / 1000.0)
            child = self._tracer.start_span(f"{OPERATION} {a.model}", context=context, kind=SpanKind.CLIENT,
                                            start_time=min(at, end), attributes=self._attempt_attributes(a, i))
            if not a.ok:
                child.set_attribute("error.type", a.outcome)
                child.set_status(Status(StatusCode.ERROR, a.outcome))
            child.end(end_time=min(at + length, end) if length else min(at, end))
            at += length
            self._measure(record, a)
        span.end(end_time=end)

    def _request_attributes(self, record: Record) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": OPERATION, "gen_ai.provider.name": PROVIDER, "gen_ai.system": PROVIDER,
            "gen_ai.request.model": record.requested_model or record.route,
            "gen_ai.usage.input_tokens": sum(a.input_tokens for a in record.attempts),
            "gen_ai.usage.output_tokens": sum(a.output_tokens for a in record.attempts),
            "tiered.trace_id": record.trace_id, "tiered.route": record.route, "tiered.policy": record.policy,
            "tiered.decision.policy": record.decision.policy, "tiered.decision.reason": record.decision.reason,
            "tiered.cost_usd": float(record.cost_usd), "tiered.outcome": record.outcome,
            "tiered.escalated": record.escalated, "tiered.fell_back": record.fell_back,
            "tiered.degraded": record.degraded, "tiered.attempts": len(record.attempts),
        }
        optional = {"gen_ai.response.model": record.model, "tiered.tier": record.tier,
                    "tiered.decision.tier": record.decision.tier, "tiered.task": record.task,
                    "tiered.key_name": record.key_name, "tiered.team": record.team}
        attrs.update({k: v for k, v in optional.items() if v is not None})
        return attrs

    @staticmethod
    def _attempt_attributes(a: Attempt, index: int) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": OPERATION, "gen_ai.provider.name": PROVIDER, "gen_ai.system": PROVIDER,
            "gen_ai.request.model": a.model, "gen_ai.usage.input_tokens": a.input_tokens,
            "gen_ai.usage.output_tokens": a.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": a.cache_read_input_tokens,
            "gen_ai.usage.cache_creation.input_tokens": a.cache_creation_input_tokens,
            "tiered.attempt.index": index, "tiered.attempt.kind": a.kind, "tiered.attempt.purpose": a.purpose,
            "tiered.attempt.reason": a.reason, "tiered.cost_usd": float(a.cost_usd), "tiered.outcome": a.outcome,
        }
        if a.ok:
            attrs["gen_ai.response.model"] = a.model
        if a.tier is not None:
            attrs["tiered.tier"] = a.tier
        if a.ttft_ms is not None:
            attrs["tiered.time_to_first_token_s"] = a.ttft_ms / 1000.0
        if a.status is not None:
            attrs["http.response.status_code"] = a.status
        return attrs

    def _measure(self, record: Record, a: Attempt) -> None:
        base: dict[str, Any] = {"gen_ai.operation.name": OPERATION, "gen_ai.provider.name": PROVIDER,
                                "gen_ai.request.model": a.model, "tiered.route": record.route}
        if a.ok:
            base["gen_ai.response.model"] = a.model
        else:
            base["error.type"] = a.outcome
        self._duration.record(a.latency_ms / 1000.0, base)
        if a.ok or a.input_tokens or a.output_tokens:
            self._tokens.record(a.input_tokens + a.cache_read_input_tokens + a.cache_creation_input_tokens,
                                {**base, "gen_ai.token.type": "input"})
            self._tokens.record(a.output_tokens, {**base, "gen_ai.token.type": "output"})

    def close(self) -> None:
        """Flush what is buffered; shut down the providers this sink built."""
        for provider in (self._tracer_provider, self._meter_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush()
            if self._owned:
                shutdown = getattr(provider, "shutdown", None)
                if shutdown is not None:
                    shutdown()

    def __repr__(self) -> str:
        return f"OtelSink(owned={self._owned})"
