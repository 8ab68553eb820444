"""Per-route figures from the request log: what each route costs, how fast and how good it is.

The numbers the routing skill says to track (cost per request, p50/p95 latency, quality where
labelled, escalation rate) plus the ones that say a route is unhealthy (fallback, degraded and error
rates), the tier mix, and whether the route is currently bypassed. Pure functions over records: a
sink reads them, this module computes, the CLI renders; so the math is tested on hand-made records.

Percentiles interpolate linearly between the two nearest ranks (NumPy's default): with latencies
[100, 200, 300, 400], p50 = 250 and p95 = 385.

The saving is an estimate and says so: given a `baseline` (what one attempt's tokens would cost on
the model the route would use without routing, usually the top tier), `baseline_cost_usd` prices
each served answer's own tokens there, and `cost_ratio` is the route's actual total (every attempt:
classifier calls, cheaper tries, failures) over it. Below 1 the routing paid for itself.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tiered.catalog import ModelInfo, Prices
from tiered.pricing import cost_usd, format_usd
from tiered.records import Attempt, Record
from tiered.types import Usage

Baseline = Callable[[Attempt], Decimal]
"""The cost of an attempt's tokens on the baseline model."""

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
    baseline_cost_usd: Decimal | None = None
    """The served answers' tokens priced on the baseline model (None without a baseline)."""

    @property
    def cost_ratio(self) -> float | None:
        """Actual cost over the baseline's: below 1 the routing saved money."""
        if not self.baseline_cost_usd:
            return None
        return float(self.cost_usd / self.baseline_cost_usd)

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
            "baseline_cost_usd": None if self.baseline_cost_usd is None else float(self.baseline_cost_usd),
            "cost_ratio": self.cost_ratio,
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


def served_attempt(record: Record) -> Attempt | None:
    """The attempt whose answer the caller got: the last successful one on the serving model."""
    for a in reversed(record.attempts):
        if a.ok and a.model == record.model:
            return a
    return None


def route_stats(route: str, records: Sequence[Record], *, baseline: Baseline | None = None) -> RouteStats:
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
        baseline_cost_usd=None if baseline is None else sum(
            (baseline(a) for a in map(served_attempt, records) if a is not None), Decimal(0)),
    )


def stats_by_route(records: Iterable[Record], *, baseline: Baseline | None = None) -> list[RouteStats]:
    """One `RouteStats` per route, routes in name order."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.route, []).append(r)
    return [route_stats(route, groups[route], baseline=baseline) for route in sorted(groups)]


def priced_on(prices: ModelInfo | Prices) -> Baseline:
    """A `Baseline` pricing an attempt's tokens with a catalog entry (`ModelInfo`) or `Prices`."""

    def baseline(a: Attempt) -> Decimal:
        usage = Usage(input_tokens=a.input_tokens, output_tokens=a.output_tokens,
                      cache_read_input_tokens=a.cache_read_input_tokens,
                      cache_creation_input_tokens=a.cache_creation_input_tokens)
        return cost_usd(prices, usage)

    return baseline
