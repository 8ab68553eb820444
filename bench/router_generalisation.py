"""Does the learned router transfer across sources? Leave-one-source-out over the three outcome datasets.

For each fold, the shipped recipe (`tiered.training.fit.RECIPE`) is trained on two of routerbench3 / mmlu_pro /
llmrouter and judged on the third, on one weak/strong pair, next to three baselines: random routing (APGR 0.5 by
construction), the prompt's length in characters (untrained), and a TF-IDF (word 1-2 grams) ridge regressor
fitted on the same two sources to the same item target. Prints a table, then one JSON line.

    .venv/bin/python bench/router_generalisation.py [--data-dir ../shared/data] [--pairs]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tiered.datasets import Dataset, load_dataset
from tiered.evaluation.metrics import apgr, cpt
from tiered.training.fit import RECIPE, train
from tiered.training.targets import general_models, item_targets

FOLDS: dict[str, tuple[str | None, str, str]] = {
    "routerbench3": ("test", "mistralai/mistral-7b-chat", "gpt-4-1106-preview"),
    "mmlu_pro": (None, "Meta-Llama-3_1-8B-Instruct", "gemini-1.5-pro-002"),
    "llmrouter": (None, "mistral-7b-instruct-v0.3", "llama-3.1-nemotron-51b-instruct"),
}


def tfidf_scores(train_sets: Sequence[Dataset], texts: Sequence[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge

    prompts = [i.prompt for d in train_sets for i in d]
    target = np.concatenate([item_targets(d, RECIPE.target, min_gap=RECIPE.min_gap,
                                          exclude_models=RECIPE.exclude_models) for d in train_sets])
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=3, sublinear_tf=True, max_features=200_000)
    model = Ridge(alpha=1.0).fit(vec.fit_transform(prompts), target)
    return np.asarray(model.predict(vec.transform(list(texts))), dtype=np.float64)


def pair_sweep(held_out: str, data: Dataset, split: str | None, scores_of: Callable[[str], float]) -> dict[str, Any]:
    """APGR of the learned router and of length over every generalist pair of the held-out set whose weak model
    is at or above the median model's accuracy and at least 0.1 below the strong one (tier-like pairs)."""
    items = list(data.split(split))
    learned = np.array([scores_of(i.prompt) for i in items])
    length = np.array([len(i.prompt) for i in items], dtype=np.float64)
    models = general_models(data, RECIPE.exclude_models)
    acc = {m: float(np.mean([i.outcomes[m].quality for i in items if m in i.outcomes])) for m in models}
    median = float(np.median(list(acc.values())))
    results = []
    for weak, strong in itertools.permutations(models, 2):
        if acc[weak] < median or acc[strong] - acc[weak] < 0.1:
            continue
        keep = np.array([weak in i.outcomes and strong in i.outcomes for i in items])
        q_weak = np.array([i.outcomes[weak].quality for i in items if weak in i.outcomes and strong in i.outcomes])
        q_strong = np.array([i.outcomes[strong].quality for i in items if weak in i.outcomes and strong in i.outcomes])
        results.append((apgr(learned[keep], q_weak, q_strong), apgr(length[keep], q_weak, q_strong)))
    if not results:
        return {"held_out": held_out, "pairs": 0}
    arr = np.array(results)
    return {"held_out": held_out, "pairs": len(results), "learned_apgr_mean": round(float(arr[:, 0].mean()), 4),
            "learned_apgr_min": round(float(arr[:, 0].min()), 4), "length_apgr_mean": round(float(arr[:, 1].mean()), 4),
            "learned_beats_length_share": round(float(np.mean(arr[:, 0] > arr[:, 1])), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="Folder holding the three datasets (default: lookup).")
    parser.add_argument("--pairs", action="store_true",
                        help="Also sweep every tier-like generalist pair of each held-out set.")
    args = parser.parse_args()
    if args.data_dir:
        os.environ["TIERED_DATA_DIR"] = args.data_dir
    data = {name: load_dataset(name) for name in FOLDS}
    rows: list[dict[str, Any]] = []
    sweeps: list[dict[str, Any]] = []
    print(f"recipe: {RECIPE}")
    print(f"{'held out':<14}{'n':>6}  {'router':<10}{'APGR':>7}{'CPT50':>8}{'CPT80':>8}")
    for held_out, (split, weak, strong) in FOLDS.items():
        train_sets = [d for n, d in data.items() if n != held_out]
        items = [i for i in data[held_out].split(split) if weak in i.outcomes and strong in i.outcomes]
        texts = [i.prompt for i in items]
        q_weak = np.array([i.outcomes[weak].quality for i in items])
        q_strong = np.array([i.outcomes[strong].quality for i in items])
        started = time.perf_counter()
        scorer = train(train_sets, RECIPE)
        fit_s = time.perf_counter() - started
        candidates = {
            "random": np.zeros(len(items)),  # ties are averaged: exactly the random-routing expectation
            "length": np.array([len(t) for t in texts], dtype=np.float64),
            "tfidf": tfidf_scores(train_sets, texts),
            "learned": np.array([scorer.score_text(t) for t in texts]),
        }
        for router, scores in candidates.items():
            row = {"held_out": held_out, "pair": f"{weak} -> {strong}", "n": len(items), "router": router,
                   "apgr": round(apgr(scores, q_weak, q_strong), 4),
                   "cpt50": round(cpt(scores, q_weak, q_strong, 0.5), 4),
                   "cpt80": round(cpt(scores, q_weak, q_strong, 0.8), 4)}
            rows.append(row)
            print(f"{held_out:<14}{len(items):>6}  {router:<10}{row['apgr']:>7.3f}{row['cpt50']:>8.1%}"
                  f"{row['cpt80']:>8.1%}")
        print(f"{'':<22}(learned: trained on {', '.join(d.name for d in train_sets)} in {fit_s:.0f} s)")
        if args.pairs:
            sweep = pair_sweep(held_out, data[held_out], split, scorer.score_text)
            sweeps.append(sweep)
            print(f"{'':<22}pair sweep: {sweep}")
    learned = [r for r in rows if r["router"] == "learned"]
    mean_apgr = float(np.mean([r["apgr"] for r in learned]))
    beats = all(
        r["apgr"] > b["apgr"]
        for r in learned for b in rows
        if b["held_out"] == r["held_out"] and b["router"] in ("length", "tfidf")
    )
    print(f"learned mean APGR {mean_apgr:.3f}; beats length and TF-IDF on every fold: {beats}")
    print(json.dumps({"mean_apgr_learned": round(mean_apgr, 4), "beats_baselines_every_fold": beats,
                      "rows": rows, "pair_sweeps": sweeps}))


if __name__ == "__main__":
    main()
