"""Does learning from the traffic pay? The learning curve, leave-one-source-out, with and without declared tasks.

For each fold (routerbench3 on all its rows, mmlu_pro, llmrouter; the pairs of bench/router_generalisation.py),
the prior is the shipped recipe trained on the two other sources; then `tiered.learning.adapt.learning_curve`
reveals K labels (K in --ks), learns from the prior and measures APGR on the other prompts, next to the prior
on the same prompts. Targets (issue 11): mean APGR over the folds >= 0.65 at K = 1,000; at every K and on every
fold, never more than 0.01 below the prior. Prints a table, then one JSON line.

    .venv/bin/python bench/learning_curve.py [--ks 0,100,300,1000] [--repeats 5] [--cache DIR] [--folds a,b]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from tiered.datasets import load_dataset
from tiered.learning.adapt import learning_curve, parse_ks
from tiered.learning.examples import examples_from_items
from tiered.scoring.learned import LearnedScorer

FOLDS: dict[str, tuple[str, str]] = {
    "routerbench3": ("mistralai/mistral-7b-chat", "gpt-4-1106-preview"),
    "mmlu_pro": ("Meta-Llama-3_1-8B-Instruct", "gemini-1.5-pro-002"),
    "llmrouter": ("mistral-7b-instruct-v0.3", "llama-3.1-nemotron-51b-instruct"),
}


def loso_prior(held_out: str, cache: Path | None) -> LearnedScorer:
    """The shipped recipe trained without `held_out` (cached as a file when --cache is given)."""
    path = cache / f"prior-without-{held_out}.json.gz" if cache else None
    if path is not None and path.exists():
        return LearnedScorer.load(path)
    from tiered.training.fit import RECIPE, train

    others = [load_dataset(n) for n in FOLDS if n != held_out]
    scorer = train(others, RECIPE, meta={"datasets": [d.name for d in others], "split": "all"})
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        scorer.save(path)
    return scorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="0,100,300,1000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=None, help="Keep the fold priors here between runs.")
    parser.add_argument("--folds", default=",".join(FOLDS))
    parser.add_argument("--modes", default="task,no-task")
    args = parser.parse_args()
    ks = parse_ks(args.ks)
    results: list[dict[str, Any]] = []
    print(f"{'fold':<14}{'mode':<9}{'K':>6}{'APGR':>8}{'sd':>7}{'prior':>8}{'delta':>8}{'CPT50':>8}{'cost@95':>9}")
    for fold in args.folds.split(","):
        weak, strong = FOLDS[fold]
        prior = loso_prior(fold, args.cache)
        examples = examples_from_items(load_dataset(fold), [weak, strong])
        for mode in args.modes.split(","):
            started = time.perf_counter()
            curve = learning_curve(prior, examples, weak, strong, ks, repeats=args.repeats,
                                   use_tasks=mode == "task")
            for row in curve:
                delta = row["apgr"] - row["prior_apgr"]
                print(f"{fold:<14}{mode:<9}{row['k']:>6}{row['apgr']:>8.3f}{row['apgr_sd']:>7.3f}"
                      f"{row['prior_apgr']:>8.3f}{delta:>+8.3f}{row['cpt50']:>8.1%}{row['cost_ratio_at_95']:>9.3f}")
                results.append({"fold": fold, "mode": mode, **row})
            print(f"{'':<14}({time.perf_counter() - started:.0f} s)", flush=True)
    summary: dict[str, Any] = {}
    for mode in args.modes.split(","):
        for k in ks:
            rows = [r for r in results if r["mode"] == mode and r["k"] == k]
            if rows:
                summary[f"{mode}@{k}"] = {
                    "mean_apgr": round(float(np.mean([r["apgr"] for r in rows])), 4),
                    "mean_prior_apgr": round(float(np.mean([r["prior_apgr"] for r in rows])), 4),
                    "worst_delta": round(min(r["apgr"] - r["prior_apgr"] for r in rows), 4),
                }
    for key, s in summary.items():
        print(f"{key:<16} mean APGR {s['mean_apgr']:.3f} (prior {s['mean_prior_apgr']:.3f}); "
              f"worst fold delta {s['worst_delta']:+.3f}")
    print(json.dumps({"summary": summary, "rows": results}))


if __name__ == "__main__":
    main()
