"""Experiment (not shipped): do word-rarity dense features help the learned router transfer across sources?

Word rarity is read from the `wordfreq` package's English Zipf frequencies (code Apache-2.0, data CC BY-SA 4.0;
needed here only, `.venv/bin/pip install wordfreq`): a table of the top `--top` words (Zipf x 10, one byte a
word), and five features of the prompt's final question part (`tiered.scoring.features.final_part`): mean Zipf
(a word missing from the table counts as 2.0), share of words under Zipf 3 and under 4, minimum Zipf, log1p of
the number of words missing from the table. They are appended to the 16 dense features in this process only
(the module globals `DENSE_NAMES` / `extract` of features, learned and fit are swapped), so training and scoring
see the same vector, the trees can split on them, and nothing in the package changes.

For each `--length-priors` value, with and without the features, it prints one JSON line: leave-one-source-out
APGR / CPT(50%) on bench/router_generalisation.py's folds and pairs (plus its `--pairs` sweep means), and two
proxies for unseen MMLU- / GSM8K-like sets: mmlu_pro with half its subjects held out (each half in turn; trained
on routerbench3 + llmrouter + the other half; Llama-3.1-8B-Instruct -> gemini-1.5-pro), and llmrouter's `math`
task held out (trained on everything else; mistral-7b-v0.3 -> nemotron-51b).

Result (Nov 2026, the shipped RECIPE, length prior 0.25): LOSO mean APGR 0.605 without, 0.605 with
(routerbench3 0.559 -> 0.563, mmlu_pro 0.568 -> 0.569, llmrouter 0.689 -> 0.683); proxies within +-0.01
(mmlu_pro halves 0.556 / 0.519 -> 0.557 / 0.520, llmrouter math 0.482 -> 0.491). Variants (linear part only,
whole prompt instead of final part, unique words, two features only, dense scale 1.0, no token views) moved the
mean by -0.005 to +0.003; length priors 0.5 / 0.75 lower the mean with or without them (0.598 / 0.592). Cost:
about +6 µs p50 per 2,000-char prompt (bench/scorer_latency.py harness: p50 ~71 µs, p99 ~216 µs, against
~65 / ~170 µs for the shipped scorer). The token weights of the "q" view already carry what rarity says; the
features were not wired in.

    .venv/bin/python scripts/word_rarity_experiment.py [--length-priors 0.25,0.5,0.75] [--top 50000]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tiered.scoring.features as features
import tiered.scoring.learned as learned
import tiered.training.fit as fit
from tiered.datasets import Dataset, Item, load_dataset
from tiered.evaluation.metrics import apgr, cpt

RARITY_NAMES: tuple[str, ...] = ("q_zipf_mean", "q_rare3_share", "q_rare4_share", "q_zipf_min", "log_q_oov")
OOV = 20
"""Zipf x 10 of a word missing from the table (the table's rarest word is about 2.6)."""
BASE_NAMES = features.DENSE_NAMES
BASE_EXTRACT = features.extract


def zipf_table(top: int) -> dict[bytes, int]:
    """tiered token (lowercased bytes, punctuation split) -> Zipf x 10, for wordfreq's `top` English words."""
    wordfreq: Any = importlib.import_module("wordfreq")
    table: dict[bytes, int] = {}
    for word in wordfreq.top_n_list("en", top):
        tokens = word.lower().encode("utf-8").translate(features._TO_SPACE).split()
        if len(tokens) == 1:
            value = round(wordfreq.zipf_frequency(word, "en") * 10)
            table[tokens[0]] = max(value, table.get(tokens[0], 0))
    return table


def rarity(table: dict[bytes, int], words: Sequence[bytes]) -> list[float]:
    if not words:
        return [0.0] * len(RARITY_NAMES)
    get = table.get
    values = sorted([get(w, OOV) for w in words])
    n = len(values)
    return [sum(values) / (10.0 * n), bisect_left(values, 30) / n, bisect_left(values, 40) / n, values[0] / 10.0,
            math.log1p(bisect_left(values, OOV + 1))]


def use_rarity(table: dict[bytes, int] | None) -> None:
    """Swap the dense feature set of this process: the base 16, or those plus RARITY_NAMES (table given)."""
    def extract_plus(text: str, views: Collection[str] = features.VIEWS) -> features.PromptFeatures:
        assert table is not None
        f = BASE_EXTRACT(text, views)
        words = features._tokens(features.final_part(text).lower().encode("utf-8", "surrogatepass"))
        return dataclasses.replace(f, dense=f.dense + rarity(table, words))

    names = BASE_NAMES if table is None else BASE_NAMES + RARITY_NAMES
    extract = BASE_EXTRACT if table is None else extract_plus
    for module in (features, learned, fit):  # each imported the names into its own namespace
        vars(module).update(DENSE_NAMES=names, extract=extract)


def judge(score: Callable[[str], float], items: Sequence[Item], weak: str, strong: str) -> tuple[float, float]:
    items = [i for i in items if weak in i.outcomes and strong in i.outcomes]
    s = np.array([score(i.prompt) for i in items])
    q_weak = np.array([i.outcomes[weak].quality for i in items])
    q_strong = np.array([i.outcomes[strong].quality for i in items])
    return round(apgr(s, q_weak, q_strong), 4), round(cpt(s, q_weak, q_strong, 0.5), 4)


def without_tasks(ds: Dataset, tasks: Collection[str]) -> Dataset:
    return Dataset(ds.name, tuple(i for i in ds if i.task not in tasks), ds.models)


def evaluate(bench: Any, data: dict[str, Dataset], config: fit.TrainConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"loso": {}, "pairs": {}, "proxy": {}}
    for held, (split, weak, strong) in bench.FOLDS.items():
        scorer = fit.train([d for n, d in data.items() if n != held], config)
        out["loso"][held] = judge(scorer.score_text, list(data[held].split(split)), weak, strong)
        sweep = bench.pair_sweep(held, data[held], split, scorer.score_text)
        out["pairs"][held] = sweep.get("learned_apgr_mean")
    out["loso_mean_apgr"] = round(float(np.mean([v[0] for v in out["loso"].values()])), 4)
    mmlu = data["mmlu_pro"]
    subjects = sorted({i.task for i in mmlu})
    _, weak, strong = bench.FOLDS["mmlu_pro"]
    for tag, held_out in (("mmlu_pro_half_a", set(subjects[0::2])), ("mmlu_pro_half_b", set(subjects[1::2]))):
        scorer = fit.train([data["routerbench3"], data["llmrouter"], without_tasks(mmlu, held_out)], config)
        out["proxy"][tag] = judge(scorer.score_text, [i for i in mmlu if i.task in held_out], weak, strong)
    routed = data["llmrouter"]
    _, weak, strong = bench.FOLDS["llmrouter"]
    scorer = fit.train([data["routerbench3"], data["mmlu_pro"], without_tasks(routed, {"math"})], config)
    out["proxy"]["llmrouter_math"] = judge(scorer.score_text, [i for i in routed if i.task == "math"], weak, strong)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length-priors", default="0.25")
    parser.add_argument("--top", type=int, default=50000)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    bench: Any = importlib.import_module("router_generalisation")
    data = {name: load_dataset(name) for name in bench.FOLDS}
    table = zipf_table(args.top)
    for prior in (float(p) for p in args.length_priors.split(",")):
        config = dataclasses.replace(fit.RECIPE, length_prior=prior)
        for with_rarity in (False, True):
            started = time.perf_counter()
            use_rarity(table if with_rarity else None)
            result = evaluate(bench, data, config)
            print(json.dumps({"length_prior": prior, "rarity": with_rarity, **result,
                              "seconds": round(time.perf_counter() - started)}), flush=True)
    use_rarity(None)


if __name__ == "__main__":
    main()
