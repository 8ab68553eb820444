"""Prometheus metrics of the gateway, kept from the request records and written out by hand.

The driver hands every request's `Record` to its sinks; `Metrics` is one of them, so the counters
see exactly what the request log sees (one record per request, never two). Requests refused before
a policy ran (bad body, auth, rate limit) have no record and are counted with `refused`.

    tiered_requests_total{route,tier,outcome}
    tiered_request_duration_seconds{route}    histogram
    tiered_cost_usd_total{route,tier}
    tiered_fallbacks_total{route}             requests answered after falling back
    tiered_escalations_total{route}           requests escalated to a stronger tier
    tiered_state_store_*                      with [state] redis: up, failures, outages, local decisions,
                                              503 refusals, settlements pending / dropped (gateway.state_store)
    tiered_served_requests_total{route,model,tier}   answered requests, by the model that served them
    tiered_tokens_total{model,direction,cache}       tokens of every attempt: direction input|output,
                                              cache none|read|write (input read from / written to the cache)
    tiered_time_to_first_token_seconds{route,model}  histogram, streamed attempts
    tiered_upstream_errors_total{model,type}  failed upstream attempts by API error type
    tiered_key_cost_usd_total{key,team}       upstream cost by gateway key name (never the secret)
    tiered_build_info{version,python}         1; the running tiered's version

Names follow Prometheus conventions (one `tiered_` prefix, base units, `_total` on counters). Labels
are bounded: routes and tiers come from the config and the catalog, outcomes are API error types.
Each process keeps its own counters (scrape every replica); exposition is the text format 0.0.4, so
no client library is needed.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from tiered.records import Record

if TYPE_CHECKING:
    from tiered.gateway.state_store import StoreStats

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: defaultdict[Labels, int] = defaultdict(int)
        self._cost: defaultdict[Labels, Decimal] = defaultdict(Decimal)
        self._fallbacks: defaultdict[Labels, int] = defaultdict(int)
        self._escalations: defaultdict[Labels, int] = defaultdict(int)
        self._duration = Histogram()
        self.state_store: StoreStats | None = None
        """The shared state's health, when there is one (`tiered.gateway.state_store`)."""
        self._served: defaultdict[Labels, int] = defaultdict(int)
        self._tokens: defaultdict[Labels, int] = defaultdict(int)
        self._upstream_errors: defaultdict[Labels, int] = defaultdict(int)
        self._key_cost: defaultdict[Labels, Decimal] = defaultdict(Decimal)
        self._ttft = Histogram()

    def emit(self, record: Record) -> None:
        """The sink side: count one finished request."""
        route = (("route", record.route),)
        with self._lock:
            self._requests[(*route, ("tier", record.tier or ""), ("outcome", record.outcome))] += 1
            if record.cost_usd:
                self._cost[(*route, ("tier", record.tier or ""))] += record.cost_usd
            if record.fell_back:
                self._fallbacks[route] += 1
            if record.escalated:
                self._escalations[route] += 1
            self._observe(route, record.latency_ms / 1000.0)
            if record.model:
                self._served[(*route, ("model", record.model), ("tier", record.tier or ""))] += 1
            if record.key_name is not None:
                self._key_cost[(("key", record.key_name), ("team", record.team or ""))] += record.cost_usd
            for a in record.attempts:
                model = ("model", a.model)
                for direction, cache, n in (("input", "none", a.input_tokens), ("input", "read",
                                            a.cache_read_input_tokens),
                                            ("input", "write", a.cache_creation_input_tokens),
                                            ("output", "none", a.output_tokens)):
                    if n:
                        self._tokens[(model, ("direction", direction), ("cache", cache))] += n
                if not a.ok:
                    self._upstream_errors[(model, ("type", a.outcome))] += 1
                if a.ttft_ms is not None:
                    self._ttft.observe((*route, model), a.ttft_ms / 1000.0)

    def refused(self, route: str, outcome: str, seconds: float) -> None:
        """A request answered with an error before any policy ran (it has no record)."""
        with self._lock:
            self._requests[(("route", route), ("tier", ""), ("outcome", outcome))] += 1
            self._observe((("route", route),), seconds)

    def _observe(self, labels: Labels, seconds: float) -> None:
        self._duration.observe(labels, seconds)

    def close(self) -> None:
        return None

    def render(self) -> bytes:
        out: list[str] = []
        with self._lock:
            self._counter(out, "tiered_requests_total", "Requests answered, by route, serving tier and outcome.",
                          {k: str(v) for k, v in self._requests.items()})
            self._counter(out, "tiered_cost_usd_total", "Upstream cost in USD, by route and serving tier.",
                          {k: format(v, "f") for k, v in self._cost.items()})
            self._counter(out, "tiered_fallbacks_total", "Requests answered after falling back.",
                          {k: str(v) for k, v in self._fallbacks.items()})
            self._counter(out, "tiered_escalations_total", "Requests escalated to a stronger tier.",
                          {k: str(v) for k, v in self._escalations.items()})
            self._counter(out, "tiered_served_requests_total", "Answered requests, by route, serving model and tier.",
                          {k: str(v) for k, v in self._served.items()})
            self._counter(out, "tiered_tokens_total", "Tokens of every upstream attempt, by model, direction "
                          "(input, output) and cache (none, read, write).",
                          {k: str(v) for k, v in self._tokens.items()})
            self._counter(out, "tiered_upstream_errors_total", "Failed upstream attempts, by model and error type.",
                          {k: str(v) for k, v in self._upstream_errors.items()})
            self._counter(out, "tiered_key_cost_usd_total", "Upstream cost in USD, by gateway key name and team.",
                          {k: format(v, "f") for k, v in self._key_cost.items()})
            self._ttft.render(out, "tiered_time_to_first_token_seconds",
                              "Time from an upstream call to its first content, streamed attempts.")
            out += ["# HELP tiered_build_info The running tiered.", "# TYPE tiered_build_info gauge",
                    f"tiered_build_info{_labels(build_labels())} 1"]
            self._duration.render(out, "tiered_request_duration_seconds",
                                  "Time from request to the end of the answer.")
        if self.state_store is not None:
            self._store(out, self.state_store)
        return ("\n".join(out) + "\n").encode()

    @staticmethod
    def _store(out: list[str], st: StoreStats) -> None:
        for name, kind, help_text, value in (
            ("up", "gauge", "1 while the state store (Redis) answers, 0 during an outage.", int(st.up)),
            ("outages_total", "counter", "Outages of the state store.", st.outages),
            ("failures_total", "counter", "Calls to the state store that failed or timed out.", st.failures),
            ("local_total", "counter", "Limit decisions taken in this process while the store was down "
             "(fail open).", st.local),
            ("refused_total", "counter", "Requests refused with 503 while the store was down (fail closed).",
             st.refused),
            ("pending_settlements", "gauge", "Budget settlements queued until the store answers.", st.pending),
            ("dropped_settlements_total", "counter", "Queued settlements dropped (queue full).", st.dropped),
        ):
            out += [f"# HELP tiered_state_store_{name} {help_text}", f"# TYPE tiered_state_store_{name} {kind}",
                    f"tiered_state_store_{name} {value}"]

    @staticmethod
    def _counter(out: list[str], name: str, help_text: str, values: dict[Labels, str]) -> None:
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        out += [f"{name}{_labels(labels)} {value}" for labels, value in sorted(values.items())]

    def __repr__(self) -> str:
        return "Metrics()"


class Histogram:
    """One histogram family with `BUCKETS` (the caller holds the lock)."""

    def __init__(self) -> None:
        self._buckets: defaultdict[Labels, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self._sum: defaultdict[Labels, float] = defaultdict(float)
        self._count: defaultdict[Labels, int] = defaultdict(int)

    def observe(self, labels: Labels, seconds: float) -> None:
        counts = self._buckets[labels]
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        self._sum[labels] += seconds
        self._count[labels] += 1

    def render(self, out: list[str], name: str, help_text: str) -> None:
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for labels, counts in sorted(self._buckets.items()):
            for bound, n in zip(BUCKETS, counts, strict=True):
                le = 'le="' + format(bound, "g") + '"'
                out.append(f"{name}_bucket{_labels(labels, le)} {n}")
            inf = 'le="+Inf"'
            out.append(f"{name}_bucket{_labels(labels, inf)} {self._count[labels]}")
            out.append(f"{name}_sum{_labels(labels)} {self._sum[labels]:.6f}")
            out.append(f"{name}_count{_labels(labels)} {self._count[labels]}")


@functools.cache
def build_labels() -> Labels:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("tiered")
    except PackageNotFoundError:
        v = "unknown"
    return (("version", v), ("python", platform.python_version()))

