"""Cost/quality points and their Pareto frontier: data in, data out (rendering lives in `report.py`).

A point is better when it costs less and scores more. The frontier keeps the points that no other
point dominates (at most the cost and at least the quality, one of them strictly), sorted by cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Point:
    """One policy setting on a dataset: its mean quality and its cost relative to always-the-top-tier."""

    policy: str
    cost_ratio: float
    quality: float
    params: Mapping[str, Any] = field(default_factory=dict)
    """The setting that made this point (thresholds, ...), for the report."""
    cost_usd: float = 0.0
    """Total USD over the dataset."""
    escalation_rate: float = 0.0
    tier_mix: Mapping[str, float] = field(default_factory=dict)
    """Share of requests served by each tier."""
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    per_task: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """task -> {"quality", "cost_ratio", "n"}."""

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "cost_ratio": self.cost_ratio,
            "quality": self.quality,
            "cost_usd": self.cost_usd,
            "escalation_rate": self.escalation_rate,
            "tier_mix": dict(self.tier_mix),
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "params": dict(self.params),
        }


def dominates(a: Point, b: Point) -> bool:
    """`a` costs no more and scores no less than `b`, and is strictly better in one of the two."""
    return (a.cost_ratio <= b.cost_ratio and a.quality >= b.quality
            and (a.cost_ratio < b.cost_ratio or a.quality > b.quality))


def frontier(points: Iterable[Point]) -> list[Point]:
    """The non-dominated points, cheapest first; among equal points the first one given is kept."""
    ordered = sorted(enumerate(points), key=lambda ip: (ip[1].cost_ratio, -ip[1].quality, ip[0]))
    out: list[Point] = []
    best = float("-inf")
    for _, p in ordered:
        if p.quality > best:
            out.append(p)
            best = p.quality
    return out


def dominated(points: Sequence[Point]) -> list[Point]:
    """The points that some other point dominates (everything off the frontier but its exact ties)."""
    return [p for p in points if any(dominates(q, p) for q in points)]


def cheapest_reaching(points: Iterable[Point], quality: float) -> Point | None:
    """The cheapest point whose quality is at least `quality` (None if no point reaches it)."""
    hits = [p for p in points if p.quality >= quality - 1e-12]
    return min(hits, key=lambda p: (p.cost_ratio, -p.quality)) if hits else None


def best_within(points: Iterable[Point], cost_ratio: float) -> Point | None:
    """The best-quality point that costs at most `cost_ratio` (None if every point costs more)."""
    hits = [p for p in points if p.cost_ratio <= cost_ratio + 1e-12]
    return max(hits, key=lambda p: (p.quality, -p.cost_ratio)) if hits else None
