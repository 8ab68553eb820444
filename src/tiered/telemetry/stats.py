"""Per-route figures from the request log: what each route costs, how fast and how good it is.

The numbers the routing skill says to track (cost per request, p50/p95 latency, quality where
labelled, escalation rate) plus the ones that say a route is unhealthy (fallback, degraded and error
rates), the tier mix, and whether the route is currently bypassed. Pure functions over records: a
sink reads them, this module computes, the CLI renders; so the math is tested on hand-made records.

Percentiles interpolate linearly between the two nearest ranks (NumPy's default): with latencies
[100, 200, 300, 400], p50 = 250 and p95 = 385.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tiered.pricing import format_usd
from tiered.records import Record

BYPASS_MARK = "bypass: "
PROBE_MARK = "[bypass probe]"


@dataclass(frozen=True, slots=True)
class RouteStats:
    route: str
    requests: int
    cost_usd: Decimal
    cost_per_request_usd: Decimal
    p50_ms: float
    p95_ms: float
    quality: float | None
    """Mean quality over the requests that carry a label; None when none does."""
    labelled: int
    escalation_rate: float
    fallback_rate: float
    degraded_rate: float
    error_rate: float
    tier_mix: Mapping[str, float]
    """Share of requests served by each tier ("none" for the ones nothing served)."""
    bypass: str | None
    """The latest decision's reason when it says the route is bypassed, else None."""

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "requests": self.requests,
            "cost_usd": float(self.cost_usd),
            "cost_usd_exact": format_usd(self.cost_usd),
            "cost_per_request_usd": float(self.cost_per_request_usd),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "quality": self.quality,
            "labelled": self.labelled,
            "escalation_rate": self.escalation_rate,
            "fallback_rate": self.fallback_rate,
            "degraded_rate": self.degraded_rate,
            "error_rate": self.error_rate,
            "tier_mix": dict(self.tier_mix),
            "bypass": self.bypass,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (q in [0, 1]) by linear interpolation between closest ranks; NaN when empty."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def bypass_state(record: Record) -> str | None:
    """Whether the record's route had its router bypassed, from the decision's reason.

    `Bypass` writes "bypass: 86% of last 200 on haiku" (or tags a re-measuring request "[bypass
    probe]"), and wrapping policies keep it after their own part ("no task -> default; bypass: ...").
    """
    reason = record.decision.reason
    at = reason.find(BYPASS_MARK)
    if at >= 0:
        return reason[at:]
    if PROBE_MARK in reason:
        return "bypass: engaged (this request was a probe)"
    return None


def route_stats(route: str, records: Sequence[Record]) -> RouteStats:
    """Figures for one route's records (given oldest first: the last one is the route's current state)."""
    if not records:
        raise ValueError(f"route {route!r} has no records")
    n = len(records)
    total = sum((r.cost_usd for r in records), Decimal(0))
    labels = [r.quality for r in records if r.quality is not None]
    tiers = Counter(r.tier or "none" for r in records)
    latest = max(records, key=lambda r: r.created_at)
    return RouteStats(
        route=route,
        requests=n,
        cost_usd=total,
        cost_per_request_usd=total / n,
        p50_ms=percentile([r.latency_ms for r in records], 0.5),
        p95_ms=percentile([r.latency_ms for r in records], 0.95),
        quality=sum(labels) / len(labels) if labels else None,
        labelled=len(labels),
        escalation_rate=sum(r.escalated for r in records) / n,
        fallback_rate=sum(r.fell_back for r in records) / n,
        degraded_rate=sum(r.degraded for r in records) / n,
        error_rate=sum(r.outcome != "ok" for r in records) / n,
        tier_mix={t: c / n for t, c in sorted(tiers.items())},
        bypass=bypass_state(latest),
    )


def stats_by_route(records: Iterable[Record]) -> list[RouteStats]:
    """One `RouteStats` per route, routes in name order."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.route, []).append(r)
    return [route_stats(route, groups[route]) for route in sorted(groups)]
