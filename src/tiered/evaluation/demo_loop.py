"""The demo's learning loop: savings at the target quality as labels arrive (0, 100, 300, 1,000).

The demo's workload is treated as traffic, two tiers (haiku and opus, played by the recorded models of
`tiered.evaluation.demo.DEFAULT_TIERS`). For each K, the labels of K random prompts are revealed, as the shadow
judge would reveal them, and the router is learned from the shipped prior and measured on the other prompts:
the very code of `tiered eval --adapt` and of the gateway's loop (`tiered.learning.adapt.learning_curve`).
The saving is against always-opus, at 95% of always-opus quality, with opus priced 5x haiku (Claude's price
ratio). Next to it: what the labels would have cost from the shadow judge (`tiered.online.costing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tiered.catalog import Catalog
from tiered.datasets import Dataset

KS = (0, 100, 300, 1000)
WEAK_TIER, STRONG_TIER = "haiku", "opus"


@dataclass(frozen=True, slots=True)
class LoopPoint:
    k: int
    apgr: float
    saving_at_95: float
    """1 - cost ratio to always-opus at 95% of its quality."""
    prior_apgr: float
    labels_cost_usd: Decimal
    """What the shadow judge would have spent to produce these K labels."""

    def to_json(self) -> dict[str, Any]:
        return {"k": self.k, "apgr": self.apgr, "saving_at_95": self.saving_at_95, "prior_apgr": self.prior_apgr,
                "labels_cost_usd": float(self.labels_cost_usd)}


def run_loop(data: Dataset, tiers: dict[str, str], *, ks: Sequence[int] = KS, repeats: int = 1,
             catalog: Catalog | None = None) -> list[LoopPoint]:
    from tiered.learning.adapt import learning_curve
    from tiered.learning.examples import examples_from_items
    from tiered.online.costing import shadow_cost
    from tiered.scoring.learned import LearnedScorer

    catalog = catalog or Catalog.load()
    weak, strong = tiers[WEAK_TIER], tiers[STRONG_TIER]
    examples = examples_from_items(data.with_models((weak, strong)).items, (weak, strong))
    usable = [k for k in ks if k < len(examples)]
    curve = learning_curve(LearnedScorer.default(), examples, weak, strong, usable, repeats=repeats)
    per_label = shadow_cost(catalog, WEAK_TIER, (WEAK_TIER, STRONG_TIER)).per_sampled_request
    return [LoopPoint(int(r["k"]), float(r["apgr"]), 1.0 - float(r["cost_ratio_at_95"]), float(r["prior_apgr"]),
                      per_label * int(r["k"])) for r in curve]
