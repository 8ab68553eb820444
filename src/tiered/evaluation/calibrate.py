"""Fit a router's thresholds to a target: a pure function over stored scores (and, when known, outcomes).

    fit_thresholds(StoredScores(scores, quality, cost), ("haiku", "sonnet", "opus"),
                   Target(min_quality=0.95))            # cheapest cuts at >= 95% of always-opus quality
    fit_thresholds(StoredScores(scores), tiers, Target(max_share={"opus": 0.15}))   # from a request log

With per-tier quality and cost (a dataset), every candidate setting is judged exactly: items sorted
by score, a cut is a position between two distinct scores, and prefix sums give each setting's
quality and cost in O(tiers). The objective: the cheapest setting that meets `min_quality`, or else
the best quality within `max_cost_ratio` (and the share caps). With scores alone (a log), quality is
unknown; the setting then spends what the caps allow, top tier first: the hardest prompts go as high
as their tier's cap permits. Cuts sit midway between neighbouring scores, so `Thresholds.tier_for`
reproduces the split exactly on these scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tiered.scoring.base import Thresholds


@dataclass(frozen=True, slots=True)
class Target:
    max_cost_ratio: float | None = None
    """Cost at most this share of always-the-top-tier."""
    min_quality: float | None = None
    """Quality at least this fraction of always-the-top-tier's."""
    max_share: Mapping[str, float] = field(default_factory=dict)
    """tier -> the largest share of requests it may serve."""

    def __post_init__(self) -> None:
        if self.max_cost_ratio is None and self.min_quality is None and not self.max_share:
            raise ValueError("calibrate: give a target (max cost ratio, min quality or a max share)")


@dataclass(frozen=True, slots=True)
class StoredScores:
    scores: np.ndarray
    """(n,) one score per request."""
    quality: np.ndarray | None = None
    """(n, tiers) each tier's recorded quality, when known."""
    cost: np.ndarray | None = None
    """(n, tiers) each tier's cost, when known."""


@dataclass(frozen=True, slots=True)
class Fit:
    thresholds: Thresholds
    share: Mapping[str, float]
    met: bool
    """Whether the target is met (else the closest setting found)."""
    quality: float | None = None
    cost_ratio: float | None = None
    top_quality: float | None = None


def _positions(sorted_scores: np.ndarray, steps: int) -> list[int]:
    """Cut positions (0..n) that fall between distinct scores, thinned to about `steps` + 1."""
    n = sorted_scores.size
    valid = [0, *(int(i) for i in np.flatnonzero(sorted_scores[1:] > sorted_scores[:-1]) + 1), n]
    if len(valid) <= steps + 1:
        return valid
    pick = np.unique(np.round(np.linspace(0, len(valid) - 1, steps + 1)).astype(int))
    return [valid[int(i)] for i in pick]


def _cut_value(s: np.ndarray, p: int) -> float:
    span = float(abs(s[-1]) + abs(s[0]) + 1.0)
    if p == 0:
        return float(s[0]) - span
    if p == s.size:
        return float(s[-1]) + span
    return float((s[p - 1] + s[p]) / 2.0)


def _combos(positions: list[int], k: int) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []

    def rec(start: int, acc: tuple[int, ...]) -> None:
        if len(acc) == k:
            out.append(acc)
            return
        for j in range(start, len(positions)):
            rec(j, (*acc, positions[j]))

    rec(0, ())
    return out


def fit_thresholds(data: StoredScores, tiers: Sequence[str], target: Target, *, steps: int = 200) -> Fit:
    """The thresholds that best meet `target` on `data` (see the module docstring)."""
    unknown = set(target.max_share) - set(tiers)
    if unknown:
        raise ValueError(f"calibrate: --max-share names {sorted(unknown)[0]!r}, not one of {list(tiers)}")
    order = np.argsort(data.scores, kind="stable")
    s = np.asarray(data.scores, dtype=np.float64)[order]
    n, k = s.size, len(tiers)
    if n == 0:
        raise ValueError("calibrate: no scores")
    has_outcomes = data.quality is not None and data.cost is not None
    if (target.max_cost_ratio is not None or target.min_quality is not None) and not has_outcomes:
        raise ValueError("calibrate: a cost or quality target needs outcomes (a dataset); a log gives --max-share")
    q_cum = c_cum = None
    top_q = top_c = 1.0
    if data.quality is not None and data.cost is not None:
        q = np.asarray(data.quality, dtype=np.float64)[order]
        c = np.asarray(data.cost, dtype=np.float64)[order]
        q_cum = np.vstack([np.zeros(k), np.cumsum(q, axis=0)])
        c_cum = np.vstack([np.zeros(k), np.cumsum(c, axis=0)])
        top_q, top_c = float(q[:, -1].mean()), float(c[:, -1].sum())
    caps = [target.max_share.get(t, 1.0) for t in tiers]
    best: tuple[tuple[float, ...], tuple[int, ...], bool] | None = None
    for combo in _combos(_positions(s, steps), k - 1):
        key: tuple[float, ...]
        bounds = (0, *combo, n)
        counts = [bounds[t + 1] - bounds[t] for t in range(k)]
        over = sum(max(0.0, counts[t] / n - caps[t]) for t in range(k))
        if q_cum is not None and c_cum is not None:
            quality = sum(q_cum[bounds[t + 1], t] - q_cum[bounds[t], t] for t in range(k)) / n
            ratio = sum(c_cum[bounds[t + 1], t] - c_cum[bounds[t], t] for t in range(k)) / top_c
            short = 0.0 if target.min_quality is None else max(0.0, target.min_quality * top_q - quality)
            dear = 0.0 if target.max_cost_ratio is None else max(0.0, ratio - target.max_cost_ratio)
            met = over == 0 and short <= 1e-12 and dear <= 1e-12
            goal = (ratio, -quality) if target.min_quality is not None else (-quality, ratio)
            key = (0.0, *goal) if met else (1.0, over + short + dear, *goal)
        else:
            met = over == 0
            # no quality known: spend the caps, top tier first (higher tiers' shares, most senior first)
            key = (0.0 if met else 1.0, over, *(-float(counts[t]) for t in reversed(range(k))))
        if best is None or key < best[0]:
            best = (key, combo, met)
    assert best is not None
    _, combo, met = best
    bounds = (0, *combo, n)
    th = Thresholds.of(tiers, [_cut_value(s, p) for p in combo])
    share = {t: (bounds[i + 1] - bounds[i]) / n for i, t in enumerate(tiers)}
    if q_cum is None or c_cum is None:
        return Fit(th, share, met)
    quality = float(sum(q_cum[bounds[t + 1], t] - q_cum[bounds[t], t] for t in range(k)) / n)
    ratio = float(sum(c_cum[bounds[t + 1], t] - c_cum[bounds[t], t] for t in range(k)) / top_c)
    return Fit(th, share, met, quality=quality, cost_ratio=ratio, top_quality=top_q)
