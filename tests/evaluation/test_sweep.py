from __future__ import annotations

import numpy as np
import pytest

from tiered.catalog import Catalog
from tiered.datasets import Dataset
from tiered.evaluation.oracle import Oracle, fit_task_map
from tiered.evaluation.replay import ClaudePricing, ReplayDriver, TierMap
from tiered.evaluation.suite import evaluate
from tiered.evaluation.sweep import precomputed, score_all, threshold_grid
from tiered.policies.router import ComplexityRouter
from tiered.types import Request

TIERS = TierMap({"haiku": "small-7b", "sonnet": "mid-70b", "opus": "big-1t"})  # as in conftest


class CountingScorer:
    def __init__(self) -> None:
        self.calls = 0

    def score(self, request: Request) -> float:
        self.calls += 1
        return float(request.prompt_text[-1])  # "prompt q2" -> 2.0


def test_threshold_grid_covers_every_ordered_pair_and_the_ends() -> None:
    scores = np.array([0.0, 1.0, 2.0, 3.0])
    grid = threshold_grid(scores, ("haiku", "sonnet", "opus"), steps=4)
    levels = 2 + 3  # below-all, 3 inner quantiles, above-all
    assert len(grid) == levels * (levels + 1) // 2
    assert all(th.cuts[0] <= th.cuts[1] for th in grid)
    tiers_used = {tuple(th.tier_for(s) for s in scores) for th in grid}
    assert ("haiku",) * 4 in tiers_used and ("opus",) * 4 in tiers_used


def test_a_sweep_scores_each_prompt_once(synthetic: Dataset) -> None:
    catalog = Catalog.load()
    driver = ReplayDriver(synthetic, TIERS, ClaudePricing(catalog), catalog=catalog)
    scorer = CountingScorer()
    scores = score_all(scorer, driver, synthetic.items)
    table = precomputed(driver, synthetic.items, scores)
    for th in threshold_grid(scores, TIERS.names, steps=4):
        for item in synthetic:
            driver.run(ComplexityRouter(table, th), item)
    assert scorer.calls == len(synthetic)
    with pytest.raises(KeyError):
        table.score(Request.user("never seen"))


def test_oracle_and_task_map(synthetic: Dataset) -> None:
    oracle = Oracle.from_items(synthetic.items, TIERS)
    # q0: all pass -> haiku; q1: mid and big -> sonnet; q2: only big -> opus; q3: none -> cheapest = haiku
    assert [oracle.best[Request.user(i.prompt).prompt_text] for i in synthetic] == ["haiku", "sonnet", "opus", "haiku"]
    assert fit_task_map(synthetic.items, TIERS, 0.0) == {"easy": "sonnet", "hard": "opus"}
    assert fit_task_map(synthetic.items, TIERS, 0.5) == {"easy": "haiku", "hard": "opus"}
    assert fit_task_map(synthetic.items, TIERS, 1.0) == {"easy": "haiku", "hard": "haiku"}


def test_evaluate_on_the_synthetic_set(synthetic: Dataset) -> None:
    ev = evaluate(synthetic, TIERS, policies=("always", "oracle", "random", "taskmap"), steps=4)
    assert ev.n == 4 and ev.dropped == 0
    assert ev.always["opus"].cost_ratio == pytest.approx(1.0)
    assert ev.always["haiku"].quality == pytest.approx(0.25)
    assert ev.always["opus"].quality == pytest.approx(0.75)
    oracle = next(c for c in ev.curves if c.name == "oracle").points[0]
    assert oracle.quality == pytest.approx(0.75)
    assert oracle.tier_mix == pytest.approx({"haiku": 0.5, "sonnet": 0.25, "opus": 0.25})
    assert all(p.policy != "oracle" for p in ev.frontier)
    data = ev.to_json()
    assert {c["name"] for c in data["policies"]} >= {"always-haiku", "always-opus", "random", "taskmap", "oracle"}
    assert data["at_95_of_top"]["quality"] >= 0.95 * 0.75


def test_router_per_task_points_are_task_maps_of_routers(synthetic: Dataset) -> None:
    from tiered.policies.taskmap import TaskMap

    ev = evaluate(synthetic, TIERS, policies=("always", "router-per-task", "router"), steps=4,
                  scorers={"default": CountingScorer()})
    per_task = next(c for c in ev.curves if c.name == "router per task")
    single = next(c for c in ev.curves if c.name == "router")
    assert all(set(p.params["cuts"]) == {"easy", "hard"} for p in per_task.points)
    # per-task cuts reach the best quality (0.75: q0, q1, q2 answered) at least as cheaply as one set of cuts
    best_q = max(p.quality for p in single.points)
    assert best_q == pytest.approx(0.75)
    cheapest = min(p.cost_ratio for p in per_task.points if p.quality >= best_q - 1e-9)
    assert cheapest <= min(p.cost_ratio for p in single.points if p.quality >= best_q - 1e-9) + 1e-12
    from tiered.evaluation.per_task import per_task_settings
    from tiered.evaluation.policies import Context

    catalog = Catalog.load()
    driver = ReplayDriver(synthetic, TIERS, ClaudePricing(catalog), catalog=catalog)
    ctx = Context(driver, synthetic.items, synthetic.items, TIERS, steps=4, scorers={"default": CountingScorer()})
    assert all(isinstance(s.policy, TaskMap) for s in per_task_settings(ctx))


def test_cascade_family_replays_the_real_cascade_with_stored_confidence(synthetic: Dataset) -> None:
    from tiered.evaluation.cascade import StoredConfidence, cascade_settings, make_cascade
    from tiered.evaluation.policies import Context
    from tiered.policies.cascade import Cascade

    catalog = Catalog.load()
    driver = ReplayDriver(synthetic, TIERS, ClaudePricing(catalog), catalog=catalog)
    ctx = Context(driver, synthetic.items, synthetic.items, TIERS, scorers={"default": CountingScorer()})
    settings = cascade_settings(ctx)
    assert settings and all(isinstance(s.policy, Cascade) for s in settings)
    assert {s.name for s in settings} == {"cascade haiku>opus", "cascade sonnet>opus", "cascade haiku>sonnet>opus"}
    estimator = settings[0].policy.confidence
    assert isinstance(estimator, StoredConfidence)
    assert len(estimator.readings) == 2 * len(synthetic)  # haiku's and sonnet's answers, read once
    never = make_cascade(("haiku", "opus"), {"haiku": 0.0}, estimator)
    always = make_cascade(("haiku", "opus"), {"haiku": 1.01}, estimator)
    assert [driver.run(never, i).answer_tiers for i in synthetic] == [("haiku",)] * 4
    runs = [driver.run(always, i) for i in synthetic]
    assert all(r.answer_tiers == ("haiku", "opus") and r.escalated for r in runs)
    assert [r.quality for r in runs] == [1.0, 1.0, 1.0, 0.0]
