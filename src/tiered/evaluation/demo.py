"""The workload behind `tiered demo`: routerbench3's test split as a Claude workload, every policy replayed.

No key and no network: `load_dataset("routerbench3")` (the shared data when present, else the sample
packaged with tiered), mistral-7b / gpt-3.5 / gpt-4 playing haiku / sonnet / opus, tokens priced at
Claude prices. Operating points are chosen on the train split when there is one (else on the test
items themselves, and the result says so), then every policy runs over the test split through the
replay driver. Latency is the replay driver's `LatencyModel` (per-tier time to first token plus time
per output token), not a measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tiered.catalog import Catalog
from tiered.datasets import Dataset, Item, load_dataset
from tiered.errors import TieredError
from tiered.evaluation import pareto
from tiered.evaluation.calibrate import StoredScores, Target, fit_thresholds
from tiered.evaluation.oracle import fit_task_map
from tiered.evaluation.pareto import Point
from tiered.evaluation.policies import Context, Setting, policy_class
from tiered.evaluation.replay import ClaudePricing, LatencyModel, ReplayDriver, TierMap
from tiered.evaluation.sweep import run_items, summarize
from tiered.scoring.base import Scorer, Thresholds

DEFAULT_TIERS = {"haiku": "mistralai/mistral-7b-chat", "sonnet": "gpt-3.5-turbo-1106", "opus": "gpt-4-1106-preview"}
QUALITY_TARGET = 0.95
TUNE_ITEMS = 800
"""Operating points are tuned on at most this many train items (a seeded sample): the demo stays fast."""
"""Routers and cascades are set to the cheapest point at 95% of always-opus quality on the train split."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    dataset: str
    n: int
    tuned_on: str
    points: tuple[Point, ...]
    latency: LatencyModel
    notes: tuple[str, ...]

    @property
    def frontier(self) -> list[Point]:
        return pareto.frontier(self.points)


def _scorer() -> tuple[Scorer, str]:
    from tiered.evaluation.scorers import resolve_scorer

    try:
        return resolve_scorer(None), "the shipped learned router"
    except (TieredError, OSError):
        return resolve_scorer("heuristic"), "the heuristic scorer (no shipped router here)"


def _cost_table(driver: ReplayDriver, items: tuple[Item, ...], tiers: TierMap) -> np.ndarray:
    out = np.zeros((len(items), len(tiers.names)))
    for i, item in enumerate(items):
        for k, (tier, model) in enumerate(tiers.tiers.items()):
            answer = driver.answer(item, tier, model)
            out[i, k] = float(answer.cost) if answer is not None else 0.0
    return out


def _tuned_router(scorer: Scorer, train: ReplayDriver, tiers: TierMap) -> Any:
    items = train.dataset.items
    scores = np.array([scorer.score(train.request_for(i)) for i in items])
    quality = np.array([[i.outcomes[m].quality for m in tiers.models] for i in items])
    fit = fit_thresholds(StoredScores(scores, quality, _cost_table(train, items, tiers)), tiers.names,
                         Target(min_quality=QUALITY_TARGET), steps=60)
    return policy_class("ComplexityRouter")(scorer, fit.thresholds)


def _best_on_train(train_ctx: Context, settings: Sequence[Setting]) -> Point:
    """On train, the point of the setting cheapest at QUALITY_TARGET x always-top quality, else the best-quality one."""
    top = run_items(train_ctx.driver, policy_class("Direct")(train_ctx.tiers.names[-1]), train_ctx.items)
    top_cost = sum(r.cost_usd for r in top)
    top_q = float(np.mean([r.quality for r in top]))
    points = [summarize(s.name, run_items(train_ctx.driver, s.policy, train_ctx.items), top_cost,
                        train_ctx.tiers.names, s.params) for s in settings]
    return pareto.cheapest_reaching(points, QUALITY_TARGET * top_q) or max(points, key=lambda p: p.quality)


def _tuned_cascade(train_ctx: Context, test_ctx: Context) -> tuple[dict[str, float], Any]:
    """The haiku>sonnet>opus cascade thresholds cheapest at the quality target on train, applied on test."""
    from tiered.evaluation import cascade as family

    best = _best_on_train(train_ctx, family.cascade_settings(train_ctx, grid=5, shapes=[train_ctx.tiers.names]))
    thresholds: dict[str, float] = dict(best.params["thresholds"])
    estimator, _ = family.stored_confidence(test_ctx)
    return thresholds, family.make_cascade(test_ctx.tiers.names, thresholds, estimator)


def tuned_per_task(scorer: Scorer, train_ctx: Context) -> tuple[dict[str, list[float]], Any]:
    """Per-task cuts cheapest at the quality target on train, as a TaskMap of routers with the live scorer."""
    from tiered.evaluation.per_task import per_task_settings

    best = _best_on_train(train_ctx, per_task_settings(train_ctx))
    cuts: dict[str, list[float]] = dict(best.params["cuts"])
    router = policy_class("ComplexityRouter")
    names = train_ctx.tiers.names
    routes = {task: router(scorer, Thresholds.of(names, c)) for task, c in cuts.items()}
    return cuts, policy_class("TaskMap")(routes, default=names[-1])


def run_demo(dataset: Dataset | None = None, tiers: dict[str, str] | None = None, *,
             progress: Callable[[int], None] | None = None) -> DemoResult:
    data = dataset if dataset is not None else load_dataset("routerbench3")
    tier_map = TierMap(tiers or DEFAULT_TIERS)
    catalog = Catalog.load()
    pricing = ClaudePricing(catalog)
    test = data.split("test").with_models(tier_map.models)
    if len(test) == 0:
        test = data.with_models(tier_map.models)
    train = data.split("train").with_models(tier_map.models)
    if len(train) > TUNE_ITEMS:
        pick = np.random.default_rng(0).choice(len(train), TUNE_ITEMS, replace=False)
        train = Dataset(train.name, tuple(train.items[int(i)] for i in sorted(pick)), train.models)
    tuned_on = f"{len(train)} prompts of the train split"
    notes: list[str] = []
    if len(train) == 0:
        train, tuned_on = test, "the test items themselves (this copy of the data has no train split)"
        notes.append("operating points were tuned on the evaluated items: optimistic for router/cascade/task map")
    driver = ReplayDriver(test, tier_map, pricing, catalog=catalog)
    train_driver = ReplayDriver(train, tier_map, pricing, catalog=catalog)
    scorer, scorer_name = _scorer()
    notes.append(f"router and cascade difficulty: {scorer_name}")
    test_ctx = Context(driver, test.items, train.items, tier_map, scorers={"default": scorer})
    train_ctx = Context(train_driver, train.items, train.items, tier_map, scorers={"default": scorer})
    direct = policy_class("Direct")
    policies: list[tuple[str, dict[str, Any], Any]] = [
        (f"always-{t}", {}, direct(t)) for t in tier_map.names
    ]
    router = _tuned_router(scorer, train_driver, tier_map)
    policies.append(("router", {"cuts": [round(c, 4) for c in router.thresholds.cuts]}, router))
    cascade_thresholds, cascade = _tuned_cascade(train_ctx, test_ctx)
    policies.append(("cascade", {"thresholds": cascade_thresholds}, cascade))
    table = fit_task_map(train.items, tier_map, 0.05)
    policies.append(("taskmap", {"map": table}, policy_class("TaskMap")(table, default=tier_map.names[-1])))
    policies.append(("taskmap+router", {"map": {k: v for k, v in table.items() if v != tier_map.names[-1]}},
                     policy_class("TaskMap")({k: v for k, v in table.items() if v != tier_map.names[-1]},
                                             default=router)))
    per_task_cuts, per_task = tuned_per_task(scorer, train_ctx)
    policies.append(("router per task", {"cuts": {t: [round(c, 4) for c in v] for t, v in per_task_cuts.items()}},
                     per_task))
    runs = {name: (params, run_items(driver, policy, test.items, progress)) for name, params, policy in policies}
    top_cost = sum(r.cost_usd for r in runs[f"always-{tier_map.names[-1]}"][1])
    points = tuple(summarize(name, rs, top_cost, tier_map.names, params) for name, (params, rs) in runs.items())
    return DemoResult(data.name, len(test), tuned_on, points, driver.latency, tuple(notes))
