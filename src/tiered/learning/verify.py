"""Verify a router on labelled rows it was not fitted on: APGR with a bootstrap interval, and the cost at target.

Only examples that know both the weak and the strong outcome count (a cascade's weak label alone cannot say
what the strong tier would have gained). Cost is per request, weak:strong = 1:5 by default (as RouteLLM and
`tiered eval` report it); the cost at target is the cost ratio to always-strong at which quality first reaches
`target` x the always-strong quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tiered.evaluation import metrics
from tiered.learning.examples import Example
from tiered.scoring.base import Scorer
from tiered.types import Request


@dataclass(frozen=True, slots=True)
class Verification:
    n: int
    """Held-out rows with both outcomes."""
    apgr: float | None
    """None when there are no such rows or the strong tier gains nothing on them (PGR undefined)."""
    apgr_ci: tuple[float, float] | None
    """Bootstrap percentile interval (`level`, default 90%) of the APGR over resampled rows."""
    cpt50: float | None
    cost_ratio_at_target: float | None
    target: float

    def to_json(self) -> dict[str, Any]:
        """The router file's `metadata.heldout`."""
        return {"n": self.n, "apgr": self.apgr, "apgr_ci": None if self.apgr_ci is None else list(self.apgr_ci),
                "cpt50": self.cpt50, "cost_ratio_at_target": self.cost_ratio_at_target, "target": self.target}


def score_examples(router: Scorer, examples: Sequence[Example]) -> list[float]:
    """The router's score of each example's prompt, with its declared task."""
    return [float(router.score(Request.user(e.prompt, task=e.task))) for e in examples]


def verify(router: Scorer, examples: Sequence[Example], *, weak: str | None = None, strong: str | None = None,
           target: float = 0.95, cost_weak: float = 1.0, cost_strong: float = 5.0, resamples: int = 200,
           level: float = 0.9, seed: int = 0, scores: Sequence[float] | None = None) -> Verification:
    """APGR, its bootstrap interval and the cost ratio at `target` of `router` on `examples`.

    `weak`/`strong` default to the router's metadata (a router learned by `learn`). `scores` may be given when
    the caller has already scored the examples (in their order).
    """
    meta = getattr(router, "metadata", None) or {}
    weak = weak or meta.get("weak")
    strong = strong or meta.get("strong")
    if not weak or not strong:
        raise ValueError("verify: name the weak and the strong outcome (the router's metadata does not)")
    keep = [i for i, e in enumerate(examples) if e.has(weak, strong)]
    if not keep:
        return Verification(0, None, None, None, None, target)
    rows = [examples[i] for i in keep]
    s = np.array([scores[i] for i in keep] if scores is not None else score_examples(router, rows))
    qw = np.array([e.outcomes[weak] for e in rows])
    qs = np.array([e.outcomes[strong] for e in rows])
    curve = metrics.routing_curve(s, qw, qs, cost_weak, cost_strong)
    reach = next((p for p in curve if p.quality >= target * float(qs.mean()) - 1e-12), curve[-1])
    if float(np.sum(qs - qw)) <= 0:
        return Verification(len(rows), None, None, None, reach.cost_ratio, target)
    value = metrics.apgr(s, qw, qs)
    cpt50 = metrics.cpt(s, qw, qs, 0.5)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(resamples):
        idx = rng.integers(0, len(rows), len(rows))
        if float(np.sum(qs[idx] - qw[idx])) > 0:
            boots.append(metrics.apgr(s[idx], qw[idx], qs[idx]))
    ci = None
    if boots:
        lo, hi = np.quantile(boots, [(1 - level) / 2, 1 - (1 - level) / 2])
        ci = (float(lo), float(hi))
    return Verification(len(rows), value, ci, cpt50, reach.cost_ratio, target)
