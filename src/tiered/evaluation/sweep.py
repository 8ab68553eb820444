"""Run policies over a dataset through the replay driver and sweep their parameters into points.

Sweeps never re-score: each item is scored once (`score_all`), and every threshold setting runs the
real policy with a `PrecomputedScorer` that looks the stored score up. Confidence sweeps do the same
with stored confidence readings (see `tiered.evaluation.policies`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tiered.datasets import Item
from tiered.evaluation.pareto import Point
from tiered.evaluation.replay import ItemRun, ReplayDriver
from tiered.policies.base import Policy
from tiered.scoring.base import Scorer, Thresholds
from tiered.types import Request

Progress = Callable[[int], None]
"""Called with the number of items just finished (drives a progress bar)."""


@dataclass(frozen=True, slots=True)
class PrecomputedScorer:
    """A scorer that answers from stored scores, keyed by the request's prompt text.

    A prompt not in the table goes to `fallback` (or raises KeyError): a sweep never scores twice.
    `known` maps the driver's own request objects (by identity, the object kept alive beside its score) to
    their scores, which spares rebuilding the prompt text a million times in a sweep.
    """

    scores: Mapping[str, float]
    fallback: Scorer | None = None
    known: Mapping[int, tuple[Request, float]] = field(default_factory=dict)

    def score(self, request: Request) -> float:
        hit = self.known.get(id(request))
        if hit is not None and hit[0] is request:
            return hit[1]
        key = request.prompt_text
        value = self.scores.get(key)
        if value is not None:
            return value
        if self.fallback is None:
            raise KeyError(f"no stored score for prompt {key[:60]!r}")
        return self.fallback.score(request)

    def __repr__(self) -> str:
        return f"PrecomputedScorer({len(self.scores)} scores)"


def score_all(scorer: Scorer, driver: ReplayDriver, items: Sequence[Item]) -> np.ndarray:
    """Each item's score, once, in item order."""
    return np.array([float(scorer.score(driver.request_for(i))) for i in items], dtype=np.float64)


def precomputed(driver: ReplayDriver, items: Sequence[Item], scores: np.ndarray) -> PrecomputedScorer:
    requests = [driver.request_for(i) for i in items]
    table = {r.prompt_text: float(s) for r, s in zip(requests, scores, strict=True)}
    return PrecomputedScorer(table, known={id(r): (r, float(s)) for r, s in zip(requests, scores, strict=True)})


def threshold_grid(scores: np.ndarray, tiers: Sequence[str], steps: int = 20) -> list[Thresholds]:
    """Thresholds whose cuts sit at quantiles of `scores` (step 1/steps), every non-decreasing combination.

    Two tiers give `steps + 1` settings; three give about `(steps + 1)(steps + 2) / 2`. Cuts at the
    ends lie beyond every score, so "always the cheapest" and "always the top" are on the grid.
    """
    qs = np.quantile(scores, np.linspace(0.0, 1.0, steps + 1))
    span = float(np.max(scores) - np.min(scores)) or 1.0
    levels = sorted({float(np.min(scores)) - span, *(float(q) for q in qs[1:-1]), float(np.max(scores)) + span})
    out: list[Thresholds] = []

    def rec(start: int, cuts: list[float]) -> None:
        if len(cuts) == len(tiers) - 1:
            out.append(Thresholds.of(tiers, cuts))
            return
        for j in range(start, len(levels)):
            rec(j, [*cuts, levels[j]])

    rec(0, [])
    return out


def run_items(driver: ReplayDriver, policy: Policy, items: Sequence[Item],
              progress: Progress | None = None) -> list[ItemRun]:
    runs = []
    for item in items:
        runs.append(driver.run(policy, item))
        if progress is not None:
            progress(1)
    return runs


def summarize(name: str, runs: Sequence[ItemRun], top_cost_usd: float, tiers: Sequence[str],
              params: Mapping[str, Any] | None = None) -> Point:
    """One point from the runs of one policy setting; cost relative to `top_cost_usd` (always-top)."""
    n = len(runs)
    if n == 0:
        raise ValueError("no items to summarize")
    cost = sum(r.cost_usd for r in runs)
    mix = {t: 0.0 for t in tiers}
    for r in runs:
        key = r.tier if r.tier is not None else "failed"
        mix[key] = mix.get(key, 0.0) + 1.0 / n
    lat = np.array([r.latency_ms for r in runs])
    per_task: dict[str, dict[str, float]] = {}
    by_task: dict[str, list[ItemRun]] = {}
    for r in runs:
        by_task.setdefault(r.task, []).append(r)
    for task, rs in sorted(by_task.items()):
        per_task[task] = {"quality": float(np.mean([r.quality for r in rs])),
                          "cost_usd": float(sum(r.cost_usd for r in rs)), "n": float(len(rs))}
    return Point(
        policy=name,
        cost_ratio=cost / top_cost_usd if top_cost_usd > 0 else float("nan"),
        quality=float(np.mean([r.quality for r in runs])),
        params=dict(params or {}),
        cost_usd=cost,
        escalation_rate=sum(r.escalated for r in runs) / n,
        tier_mix=mix,
        latency_p50_ms=float(np.percentile(lat, 50)),
        latency_p95_ms=float(np.percentile(lat, 95)),
        per_task=per_task,
    )


def sweep(name: str, driver: ReplayDriver, items: Sequence[Item], top_cost_usd: float,
          settings: Iterable[tuple[Mapping[str, Any], Policy]], progress: Progress | None = None) -> list[Point]:
    """One point per (params, policy) setting, each run over every item."""
    return [summarize(name, run_items(driver, policy, items, progress), top_cost_usd, driver.tiers.names, params)
            for params, policy in settings]
