"""Thresholds for a router on the logged traffic that keep the route's declared target.

A learned router's scores are on a scale of their own, so a promoted version carries its own cuts, fitted on
the route's logged prompts (`tiered.evaluation.calibrate.fit_thresholds`, the function `tiered calibrate`
uses on datasets):

- a quality or cost target (`min_quality`, `max_cost_ratio`) is judged on the labelled rows that know every
  tier's outcome (shadow comparisons give those), each tier's cost estimated at its catalog prices for the
  prompt's length and `OUTPUT_TOKENS` of answer; with fewer than `MIN_ROWS` such rows it cannot be judged;
- a share target (`max_share`), or none declared, is met on every logged prompt: the new router sends each
  tier at most its declared share, or (no target) the share that tier served so far, so that promoting a
  router changes which prompts go where, not how many.

`drift` compares what a route did with its target: what `tiered stats` shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from tiered.catalog import Catalog
from tiered.evaluation.calibrate import Fit, StoredScores, Target, fit_thresholds
from tiered.learning.examples import Example
from tiered.online.settings import DeclaredTarget
from tiered.scoring.base import Scorer
from tiered.types import Request

MIN_ROWS = 20
OUTPUT_TOKENS = 300
CHARS_PER_TOKEN = 4


def scores_of(router: Scorer, examples: Sequence[Example]) -> np.ndarray:
    return np.array([float(router.score(Request.user(e.prompt, task=e.task))) for e in examples])


def _cost(catalog: Catalog, tier: str, prompt: str) -> float:
    p = catalog.resolve(tier).prices
    tokens_in = Decimal(len(prompt) // CHARS_PER_TOKEN + 1)
    return float((tokens_in * p.input + OUTPUT_TOKENS * p.output) / Decimal(1_000_000))


@dataclass(frozen=True, slots=True)
class Calibrated:
    fit: Fit
    basis: str
    """What the cuts were fitted on, in words (for the CLI and the registry)."""
    rows: int

    def to_json(self) -> dict[str, Any]:
        f = self.fit
        return {"cuts": list(f.thresholds.cuts), "tiers": list(f.thresholds.tiers), "met": f.met,
                "share": dict(f.share), "quality": f.quality, "cost_ratio": f.cost_ratio, "basis": self.basis,
                "rows": self.rows}


def calibrate(router: Scorer, tiers: Sequence[str], target: DeclaredTarget, *, prompts: Sequence[Example],
              labelled: Sequence[Example], catalog: Catalog,
              served_shares: Mapping[str, float] | None = None) -> Calibrated:
    """Cuts for `router` on a route of `tiers` (cheapest first) that keep `target` (see the module docstring)."""
    tiers = tuple(tiers)
    if target.min_quality is not None or target.max_cost_ratio is not None:
        rows = [e for e in labelled if e.has(*tiers)]
        if len(rows) < MIN_ROWS:
            raise ValueError(f"calibrate: a quality or cost target needs at least {MIN_ROWS} labelled rows that "
                             f"know every tier's outcome ({', '.join(tiers)}); the log has {len(rows)} "
                             "(raise [learning] shadow_rate, or declare max_share instead)")
        quality = np.array([[e.outcomes[t] for t in tiers] for e in rows])
        cost = np.array([[_cost(catalog, t, e.prompt) for t in tiers] for e in rows])
        fit = fit_thresholds(StoredScores(scores_of(router, rows), quality, cost), tiers,
                             Target(target.max_cost_ratio, target.min_quality, dict(target.max_share)))
        return Calibrated(fit, f"{len(rows)} labelled rows with every tier's outcome", len(rows))
    shares = dict(target.max_share) or dict(served_shares or {})
    shares = {t: v for t, v in shares.items() if t in tiers}
    if not shares:
        raise ValueError("calibrate: declare a target ([learning] target = { min_quality | max_cost_ratio | "
                         "max_share }), or log some traffic on the route to keep its tier shares")
    if not prompts:
        raise ValueError("calibrate: the log keeps no prompt of this route ([learning] keep_prompts)")
    fit = fit_thresholds(StoredScores(scores_of(router, prompts)), tiers, Target(max_share=shares))
    what = "declared shares" if target.max_share else "the shares the route served"
    return Calibrated(fit, f"{len(prompts)} logged prompts, at most {what}", len(prompts))


@dataclass(frozen=True, slots=True)
class Drift:
    """What the route did against what it declared; positive `over` = past the target."""

    measure: str
    target: float
    actual: float | None

    @property
    def over(self) -> float | None:
        if self.actual is None:
            return None
        return self.target - self.actual if self.measure == "quality" else self.actual - self.target

    def to_json(self) -> dict[str, Any]:
        return {"measure": self.measure, "target": self.target, "actual": self.actual, "over": self.over}


def drift(target: DeclaredTarget, *, tier_mix: Mapping[str, float], cost_ratio: float | None,
          quality: float | None) -> list[Drift]:
    """Each declared bound against the route's figures (`tiered.telemetry.stats.RouteStats`); quality is the
    mean label of the served answers, read as a share of a perfect answer."""
    out = []
    if target.min_quality is not None:
        out.append(Drift("quality", target.min_quality, quality))
    if target.max_cost_ratio is not None:
        out.append(Drift("cost_ratio", target.max_cost_ratio, cost_ratio))
    for tier, cap in target.max_share.items():
        out.append(Drift(f"share.{tier}", cap, tier_mix.get(tier, 0.0)))
    return out
