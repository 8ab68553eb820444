"""The two-tier evaluation of one router on one weak/strong pair: RouteLLM's figures, as data.

Items missing either model are dropped (and counted). Costs per request are 1:5 (weak:strong) by
default, as RouteLLM reports them; `pricing` gives real per-item costs instead (Claude prices for
haiku/opus, or the dataset's own). Every figure comes from `tiered.evaluation.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tiered.catalog import Catalog
from tiered.datasets import Dataset
from tiered.evaluation import metrics
from tiered.evaluation.replay import ClaudePricing, DatasetPricing, Pricing, ReplayDriver, TierMap
from tiered.scoring.base import Scorer

CURVE_POINTS = 101


def two_tier(dataset: Dataset, weak: str, strong: str, scorer: Scorer, *, pricing: str | None = None,
             weak_tier: str = "haiku", strong_tier: str = "opus", target: float = 0.95,
             progress: Callable[[int], None] | None = None, name: str | None = None) -> dict[str, Any]:
    """Every two-tier figure for `scorer` routing between `weak` and `strong` on `dataset`."""
    kept = dataset.with_models([weak, strong])
    dropped = len(dataset) - len(kept)
    if len(kept) == 0:
        raise ValueError(f"no item of {dataset.name} has outcomes for both {weak!r} and {strong!r}")
    items = kept.items
    tiers = TierMap({weak_tier: weak, strong_tier: strong})
    price: Pricing | None = None
    if pricing == "claude":
        price = ClaudePricing(Catalog.load())
    elif pricing == "dataset":
        price = DatasetPricing(kept)
    driver = ReplayDriver(kept, tiers, price or DatasetPricing(kept))
    scores = []
    for item in items:
        scores.append(float(scorer.score(driver.request_for(item))))
        if progress is not None:
            progress(1)
    s = np.array(scores)
    qw = np.array([i.outcomes[weak].quality for i in items])
    qs = np.array([i.outcomes[strong].quality for i in items])
    if price is None:
        cw: Any = 1.0
        cs: Any = 5.0
    else:
        cw = np.array([float(price.cost(i, weak_tier, weak, i.input_tokens(weak), i.output_tokens(weak)))
                       for i in items])
        cs = np.array([float(price.cost(i, strong_tier, strong, i.input_tokens(strong), i.output_tokens(strong)))
                       for i in items])
    curve = metrics.routing_curve(s, qw, qs, cw, cs)
    q_strong = float(qs.mean())
    reach = next((p for p in curve if p.quality >= target * q_strong - 1e-12), curve[-1])
    out: dict[str, Any] = {
        "dataset": dataset.name, "n": len(items), "dropped": dropped, "weak": weak, "strong": strong,
        "router": name or repr(scorer)[:80], "pricing": pricing or "ratio 1:5",
        "weak_quality": float(qw.mean()), "strong_quality": q_strong,
        "oracle_quality": float(np.maximum(qw, qs).mean()),
    }
    try:
        out.update(metrics.summary(s, qw, qs))
    except ValueError:  # strong no better than weak: PGR is undefined
        out.update({"apgr": None, "cpt50": None, "cpt80": None})
    out.update({
        f"cost_ratio_at_{round(target * 100)}": reach.cost_ratio,
        f"share_strong_at_{round(target * 100)}": reach.share_strong,
        "curve": [{"share_strong": p.share_strong, "quality": p.quality, "cost_ratio": p.cost_ratio}
                  for p in _thin(curve)],
    })
    return out


def _thin(curve: list[metrics.CurvePoint]) -> list[metrics.CurvePoint]:
    """At most CURVE_POINTS points, evenly spaced in the share of strong calls, ends kept."""
    if len(curve) <= CURVE_POINTS:
        return curve
    idx = np.unique(np.round(np.linspace(0, len(curve) - 1, CURVE_POINTS)).astype(int))
    return [curve[int(i)] for i in idx]
