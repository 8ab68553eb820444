"""Three tiers at Claude prices on routerbench3's test split: every policy, its frontier, and the 95% point.

    python bench/three_tier.py [--report DIR] [--steps N]

haiku = mistralai/mistral-7b-chat, sonnet = gpt-3.5-turbo-1106, opus = gpt-4-1106-preview. Costs are the
tokens of each recorded answer at the Claude price of its tier, as a ratio to always-opus. Policies
tuned on data (task map, operating points) learn from the train split only.

The shipped router was trained on every row of routerbench3 (mmlu_pro and llmrouter too), so on this
split its curve is in-sample. The run therefore also trains a router leave-one-source-out (on mmlu_pro
and llmrouter only, the shipped recipe) and replays the router families with it: that is the held-out
figure.

Last, "what would it take": how well a router must know, from the prompt, whether each tier will be
right for the 95% point to cost at most half of always-opus. A simulated router is handed every tier's
recorded pass/fail plus Gaussian noise and picks, per prompt, the tier with the best noisy pass minus a
price weight (swept); the largest noise that still reaches the target gives the discrimination needed,
as the AUC of its "haiku is right" signal. Next to it: the AUC of the real routers' scores, per task, and
what the cheap tier's one-letter answers say (a cascade reads nothing else here). Prints the frontier
table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from tiered.catalog import Catalog
from tiered.datasets import Dataset, load_dataset
from tiered.evaluation import pareto
from tiered.evaluation.demo import tuned_per_task
from tiered.evaluation.pareto import Point
from tiered.evaluation.policies import Context, policy_class
from tiered.evaluation.replay import ClaudePricing, ReplayDriver, TierMap
from tiered.evaluation.report import HEADER, point_row, write_html
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


NOISE_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.6)
SEEDS = 8


def _cheapest_at_target(passed: np.ndarray, cost: np.ndarray, signal: np.ndarray, target: float) -> float | None:
    """Per prompt, the tier with the best `signal - w * relative price`, swept over w; the cheapest sweep point
    whose recorded quality reaches `target`, as a cost ratio to always-top."""
    rel = cost / cost[:, -1:]
    rows = np.arange(len(passed))
    top_cost = cost[:, -1].sum()
    best = None
    for w in np.concatenate([np.linspace(0.0, 0.3, 121), np.linspace(0.3, 4.0, 75)]):
        pick = np.argmax(signal - w * rel, axis=1)
        if passed[rows, pick].mean() >= target:
            ratio = float(cost[rows, pick].sum() / top_cost)
            best = ratio if best is None else min(best, ratio)
    return best


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, score)) if 0 < positive.mean() < 1 else float("nan")


def what_it_would_take(data: Dataset, scorers: dict[str, Scorer], target_share: float) -> dict[str, Any]:
    """See the module docstring: the router strength needed for half cost, next to the real routers'."""
    from tiered.evaluation.replay import response_text

    catalog = Catalog.load()
    test = data.split("test").with_models(TIERS.models)
    driver = ReplayDriver(test, TIERS, ClaudePricing(catalog), catalog=catalog)
    names = TIERS.names
    items = list(test.items)
    passed = np.array([[item.outcomes[TIERS.tiers[t]].quality for t in names] for item in items])
    cost = np.empty_like(passed)
    for i, item in enumerate(items):
        for j, t in enumerate(names):
            answer = driver.answer(item, t, TIERS.tiers[t])
            cost[i, j] = float(answer.cost) if answer is not None else np.nan
    target = target_share * passed[:, -1].mean()
    tie_break = np.arange(len(names)) * 1e-9  # equal signals: the dearer tier
    rng = np.random.default_rng(0)
    needed: list[dict[str, float | None]] = []
    for sigma in NOISE_GRID:
        ratios, aucs = [], []
        for _ in range(SEEDS):
            noisy = passed + rng.normal(0.0, sigma, passed.shape) + tie_break
            ratios.append(_cheapest_at_target(passed, cost, noisy, target))
            aucs.append(_auc(passed[:, 0] > 0.5, noisy[:, 0]))
        reached = [r for r in ratios if r is not None]
        needed.append({"noise_sd": sigma, "auc_haiku_right": round(float(np.mean(aucs)), 3),
                       "cost_ratio_at_95": round(float(np.mean(reached)), 3) if len(reached) == SEEDS else None})
    half = [row for row in needed if row["cost_ratio_at_95"] is not None and row["cost_ratio_at_95"] <= 0.5]
    tasks = sorted({item.task for item in items})
    task_of = np.array([item.task for item in items])
    real: dict[str, dict[str, float]] = {}
    for label, scorer in scorers.items():
        score = np.array([scorer.score(driver.request_for(item)) for item in items])
        real[label] = {task: round(_auc(passed[task_of == task, 0] > 0.5, -score[task_of == task]), 3)
                       for task in tasks}
        real[label]["all"] = round(_auc(passed[:, 0] > 0.5, -score), 3)
    letters: dict[str, dict[str, float]] = {}
    for task in tasks:
        answers = [(response_text(item.outcomes[TIERS.tiers[names[0]]].response).strip(), passed[i, 0])
                   for i, item in enumerate(items) if item.task == task]
        rows = [(text, ok) for text, ok in answers if len(text) == 1]  # one-letter answers only
        by: dict[str, list[float]] = {}
        for letter, ok in rows:
            by.setdefault(letter, []).append(ok)
        letters[task] = {k: round(float(np.mean(v)), 3) for k, v in sorted(by.items()) if len(v) >= 20}
    return {"needed": needed,
            "max_noise_for_half_cost": half[-1]["noise_sd"] if half else None,
            "auc_needed_for_half_cost": half[-1]["auc_haiku_right"] if half else None,
            "real_router_auc_haiku_right": real,
            "haiku_accuracy_by_answer_letter": letters}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", default=None, help="Write the HTML report (and PNGs) here.")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    started = time.perf_counter()
    data = load_dataset("routerbench3")
    ev = evaluate(data, TIERS, pricing="claude", split="test", steps=args.steps)
    loso_scorer = train([load_dataset("mmlu_pro"), load_dataset("llmrouter")], RECIPE)
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
    tuned = _tuned_on_train(data, {"shipped": load_router(None), "loso": loso_scorer})
    print("\nRouter per task with its cuts chosen on the train split (95% target there), replayed on test:")
    for name, fig in tuned.items():
        print(f"  {name:<8} cost ratio {fig['cost_ratio']:.3f}, quality {fig['quality']:.3f} "
              f"({fig['quality'] / top.quality:.1%} of always-opus)")
    take = what_it_would_take(data, {"shipped (in-sample)": load_router(None), "loso": loso_scorer}, TARGET)
    print("\nWhat it would take: a router that knows each tier's pass/fail up to Gaussian noise")
    for row in take["needed"]:
        fig = row["cost_ratio_at_95"]
        print(f"  noise sd {row['noise_sd']:.1f}: AUC of 'haiku is right' {row['auc_haiku_right']:.3f}, "
              f"cost ratio at 95% {'not reached' if fig is None else f'{fig:.3f}'}")
    print(f"  half cost needs AUC >= {take['auc_needed_for_half_cost']} for 'haiku is right'; the real routers:")
    for label, aucs in take["real_router_auc_haiku_right"].items():
        print(f"    {label:<20} " + ", ".join(f"{k} {v:.3f}" for k, v in aucs.items()))
    print("  haiku accuracy by the letter it answered (a cascade's only evidence here):")
    for task, by in take["haiku_accuracy_by_answer_letter"].items():
        print(f"    {task:<14} " + ", ".join(f"{k} {v:.2f}" for k, v in by.items()))
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
        "what_it_would_take": take,
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
