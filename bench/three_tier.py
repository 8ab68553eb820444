"""Three tiers at Claude prices on routerbench3's test split: every policy, its frontier, and the 95% point.

    python bench/three_tier.py [--report DIR] [--steps N]

haiku = mistralai/mistral-7b-chat, sonnet = gpt-3.5-turbo-1106, opus = gpt-4-1106-preview. Costs are the
tokens of each recorded answer at the Claude price of its tier, as a ratio to always-opus. Policies
tuned on data (task map, operating points) learn from the train split only.

The shipped router was trained on every row of routerbench3 (mmlu_pro and llmrouter too), so on this
split its curve is in-sample. The run therefore also trains a router leave-one-source-out (on mmlu_pro
and llmrouter only, the shipped recipe) and replays the router families with it: that is the held-out
figure. Prints the frontier table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import time

from tiered.catalog import Catalog
from tiered.datasets import Dataset, load_dataset
from tiered.evaluation import pareto
from tiered.evaluation.demo import tuned_per_task
from tiered.evaluation.pareto import Point
from tiered.evaluation.policies import Context, policy_class
from tiered.evaluation.replay import ClaudePricing, ReplayDriver, TierMap
from tiered.evaluation.report import HEADER, point_row, write_html
from tiered.evaluation.scorers import Labelled
from tiered.evaluation.suite import Curve, Evaluation, evaluate
from tiered.evaluation.sweep import run_items, summarize
from tiered.scoring.base import Scorer
from tiered.scoring.learned import load_router
from tiered.training.fit import RECIPE, train

TIERS = TierMap({"haiku": "mistralai/mistral-7b-chat", "sonnet": "gpt-3.5-turbo-1106", "opus": "gpt-4-1106-preview"})
TARGET = 0.95


def _renamed(points: tuple[Point, ...], suffix: str) -> tuple[Point, ...]:
    from dataclasses import replace

    return tuple(replace(p, policy=p.policy + suffix) for p in points)


def _tuned_on_train(data: Dataset, scorers: dict[str, Scorer]) -> dict[str, dict[str, float]]:
    """Per-task cuts picked on the whole train split, then the TaskMap of routers replayed on the test split."""
    catalog = Catalog.load()
    pricing = ClaudePricing(catalog)
    train_set = data.split("train").with_models(TIERS.models)
    test_set = data.split("test").with_models(TIERS.models)
    test_driver = ReplayDriver(test_set, TIERS, pricing, catalog=catalog)
    top = run_items(test_driver, policy_class("Direct")("opus"), test_set.items)
    top_cost = sum(r.cost_usd for r in top)
    out = {}
    for name, scorer in scorers.items():
        ctx = Context(ReplayDriver(train_set, TIERS, pricing, catalog=catalog), train_set.items, train_set.items,
                      TIERS, scorers={"default": scorer})
        _, policy = tuned_per_task(scorer, ctx)
        point = summarize(name, run_items(test_driver, policy, test_set.items), top_cost, TIERS.names)
        out[name] = {"cost_ratio": round(point.cost_ratio, 4), "quality": round(point.quality, 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", default=None, help="Write the HTML report (and PNGs) here.")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    started = time.perf_counter()
    data = load_dataset("routerbench3")
    ev = evaluate(data, TIERS, pricing="claude", split="test", steps=args.steps)
    loso_scorer = Labelled(train([load_dataset("mmlu_pro"), load_dataset("llmrouter")], RECIPE), "loso")
    loso = evaluate(data, TIERS, pricing="claude", split="test", steps=args.steps,
                    policies=("router", "taskmap+router", "router-per-task", "cascade"),
                    scorers={"default": loso_scorer})
    curves = list(ev.curves) + [Curve(c.name + " [loso]", _renamed(c.points, " [loso]")) for c in loso.curves
                                if not c.name.startswith("always-")]
    both = Evaluation(ev.dataset, ev.split, ev.n, ev.dropped, ev.tiers, ev.pricing, ev.always, tuple(curves),
                      ev.skipped)
    top = both.top
    target = TARGET * top.quality
    print(f"routerbench3 test: {both.n} prompts; always-opus quality {top.quality:.3f}, ${top.cost_usd:.4f}; "
          f"target {target:.3f} (95%)")
    print("\nPareto frontier (oracle aside; [loso] = router trained without routerbench3)")
    print(HEADER)
    print("-" * len(HEADER))
    for p in both.frontier:
        print(point_row(p))
    print("\nCheapest point at >= 95% of always-opus quality, per policy family:")
    per_family: dict[str, dict[str, float] | None] = {}
    for c in curves:
        best = pareto.cheapest_reaching(c.points, target)
        per_family[c.name] = None if best is None else {"cost_ratio": round(best.cost_ratio, 4),
                                                          "quality": round(best.quality, 4)}
        print(f"  {c.name:<36} " + ("does not reach it" if best is None else
                                     f"cost ratio {best.cost_ratio:.3f} (quality {best.quality:.3f})"))
    best_all = pareto.cheapest_reaching(both.frontier, target)
    # held out: every point but the oracle and the families that use the shipped (in-sample) router
    in_sample = ("router", "taskmap+router", "router per task", "cascade")
    held_out = pareto.cheapest_reaching([p for p in both.points if p.policy != "oracle" and not (
        p.policy in in_sample or (p.policy.startswith("cascade ") and "[loso]" not in p.policy))], target)
    tuned = _tuned_on_train(data, {"shipped": Labelled(load_router(None), "shipped"), "loso": loso_scorer})
    print("\nRouter per task with its cuts chosen on the train split (95% target there), replayed on test:")
    for name, fig in tuned.items():
        print(f"  {name:<8} cost ratio {fig['cost_ratio']:.3f}, quality {fig['quality']:.3f} "
              f"({fig['quality'] / top.quality:.1%} of always-opus)")
    if args.report:
        print(f"\nreport: {write_html([both], args.report)}")
    print(json.dumps({
        "bench": "three_tier", "n": both.n, "always_opus_quality": top.quality, "target_quality": target,
        "always": {t: {"quality": round(p.quality, 4), "cost_ratio": round(p.cost_ratio, 4)}
                   for t, p in both.always.items()},
        "best_at_95": None if best_all is None else {"policy": best_all.policy, "cost_ratio": best_all.cost_ratio,
                                                     "quality": best_all.quality, "params": dict(best_all.params)},
        "best_at_95_held_out": None if held_out is None else {"policy": held_out.policy,
                                                              "cost_ratio": held_out.cost_ratio,
                                                              "quality": held_out.quality},
        "per_family_at_95": per_family,
        "oracle": next(({"cost_ratio": c.points[0].cost_ratio, "quality": c.points[0].quality}
                        for c in curves if c.name == "oracle"), None),
        "router_per_task_tuned_on_train": tuned,
        "meets_target_at_half_cost": best_all is not None and best_all.cost_ratio <= 0.5,
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
