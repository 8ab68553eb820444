"""The Prometheus text the gateway writes by hand: names, labels, cumulative buckets, exact costs."""

from __future__ import annotations

from decimal import Decimal

from tiered.gateway.metrics import BUCKETS, Metrics
from tiered.records import Decision, Record


def record(route: str, *, tier: str | None = "haiku", outcome: str = "ok", cost: str = "0.001", ms: float = 30.0,
           fell_back: bool = False, escalated: bool = False) -> Record:
    return Record(trace_id="t", route=route, policy="p", decision=Decision("p", tier, "r"), attempts=(),
                  cost_usd=Decimal(cost), latency_ms=ms, degraded=False, created_at=0.0, tier=tier,
                  outcome=outcome, fell_back=fell_back, escalated=escalated)


def test_exposition() -> None:
    m = Metrics()
    m.emit(record("default", ms=30.0))
    m.emit(record("default", tier="opus", cost="0.0000001", ms=2000.0, fell_back=True, escalated=True))
    m.emit(record("default", tier=None, outcome="overloaded_error", cost="0", ms=7.0))
    m.refused("", "authentication_error", 0.001)
    text = m.render().decode()
    lines = text.splitlines()
    assert 'tiered_requests_total{route="default",tier="haiku",outcome="ok"} 1' in lines
    assert 'tiered_requests_total{route="default",tier="",outcome="overloaded_error"} 1' in lines
    assert 'tiered_requests_total{route="",tier="",outcome="authentication_error"} 1' in lines
    assert 'tiered_cost_usd_total{route="default",tier="opus"} 0.0000001' in lines  # exact, no float noise
    assert 'tiered_fallbacks_total{route="default"} 1' in lines
    assert 'tiered_escalations_total{route="default"} 1' in lines
    buckets = [int(x.rsplit(" ", 1)[1]) for x in lines
               if x.startswith('tiered_request_duration_seconds_bucket{route="default"')]
    assert len(buckets) == len(BUCKETS) + 1 and buckets == sorted(buckets)  # cumulative, +Inf last
    assert buckets[BUCKETS.index(0.01)] == 1 and buckets[BUCKETS.index(0.05)] == 2 and buckets[-1] == 3
    assert 'tiered_request_duration_seconds_count{route="default"} 3' in lines
    assert "# TYPE tiered_request_duration_seconds histogram" in lines


def test_label_values_are_escaped() -> None:
    m = Metrics()
    m.emit(record('we"ird\\route\n'))
    assert 'route="we\\"ird\\\\route\\n"' in m.render().decode()
