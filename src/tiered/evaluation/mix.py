"""How far a policy sits from the random mix of its own tiers: does its routing beat a coin?

Sending each request to tier A with probability 1-f and to tier B with probability f costs and scores
the straight-line mix of always-A and always-B. So the straight line between the always-points of the
tiers a policy uses (for three tiers, the upper hull of their three points: the best random mix at
each cost) is what a policy must beat to be worth its complexity. `distance` is the policy's quality
minus that line's at the policy's cost: above 0 its choices carry information; below 0 it pays for
being told nothing (a cascade's wasted cheap calls, a router whose score does not separate the
prompts). A policy's own tiers are its `tiers` parameter (a cascade's shape) or, for the rest, every
tier of the evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from tiered.evaluation.pareto import Point


def mix_line(always: Mapping[str, Point], tiers: Sequence[str]) -> list[tuple[float, float]]:
    """The upper concave hull of the tiers' always-points as (cost ratio, quality), cheapest first."""
    best_at: dict[float, float] = {}
    for t in tiers:
        if t in always:
            c, q = always[t].cost_ratio, always[t].quality
            best_at[c] = max(q, best_at.get(c, q))
    hull: list[tuple[float, float]] = []
    for p in sorted(best_at.items()):
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()  # keep the hull concave (the upper one: the best mix at each cost)
        hull.append(p)
    top = max(range(len(hull)), key=lambda i: (hull[i][1], -i)) if hull else 0
    return hull[: top + 1]  # past the best tier, mixing in a costlier one only loses quality


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def mix_quality(line: Sequence[tuple[float, float]], cost_ratio: float) -> float:
    """The line's quality at `cost_ratio` (flat beyond its ends: no mix is cheaper than its cheapest tier,
    and spending more than the best tier buys nothing)."""
    if not line:
        raise ValueError("mix_quality: an empty line")
    if cost_ratio <= line[0][0]:
        return line[0][1]
    for (c0, q0), (c1, q1) in pairwise(line):
        if cost_ratio <= c1:
            return q0 + (q1 - q0) * (cost_ratio - c0) / (c1 - c0) if c1 > c0 else max(q0, q1)
    return line[-1][1]


def own_tiers(point: Point, names: Sequence[str]) -> tuple[str, ...]:
    tiers = point.params.get("tiers")
    if isinstance(tiers, list | tuple) and tiers:
        return tuple(str(t) for t in tiers)
    tier = point.params.get("tier")
    return (str(tier),) if isinstance(tier, str) else tuple(names)


def distance(point: Point, always: Mapping[str, Point], names: Sequence[str]) -> float:
    """Quality above (> 0) or below (< 0) the random mix of the point's own tiers, at its cost."""
    return point.quality - mix_quality(mix_line(always, own_tiers(point, names)), point.cost_ratio)


@dataclass(frozen=True, slots=True)
class VsMix:
    """One policy's settings against the random mix of its own tiers."""

    policy: str
    tiers: tuple[str, ...]
    points: int
    mean: float
    best: float
    above: float
    """Share of its settings strictly above the line."""

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "tiers": list(self.tiers), "points": self.points, "mean": self.mean,
                "best": self.best, "above": self.above}


def vs_mix(policy: str, points: Sequence[Point], always: Mapping[str, Point], names: Sequence[str]) -> VsMix:
    if not points:
        raise ValueError(f"vs_mix: {policy} has no points")
    d = [distance(p, always, names) for p in points]
    return VsMix(policy, own_tiers(points[0], names), len(d), sum(d) / len(d), max(d),
                 sum(1 for x in d if x > 1e-9) / len(d))
