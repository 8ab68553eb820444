"""Latency of a router learned from traffic (tiered.learning) on 2,000-character prompts, next to its prior.

A router is learned on mmlu_pro's Llama-3.1-8B -> gemini-1.5-pro outcomes with 1,000 labels, with every component
forced on (evidence 0: length, declared tasks and prompt clusters: the most expensive case to score), then both
it and the shipped prior score the same prompts, interleaved round by round so a noisy neighbour hits both.
Target (issue 11): p50 <= 100 µs. The LAST line is JSON with both p50s and p99s and their ratio.

    .venv/bin/python bench/learned_router_latency.py [--calls 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics

from scorer_latency import pct, prompts, timings_us

from tiered.datasets import load_dataset
from tiered.learning.examples import examples_from_items
from tiered.learning.learn import LearnConfig, learn
from tiered.scoring.learned import LearnedScorer

WEAK, STRONG = "Meta-Llama-3_1-8B-Instruct", "gemini-1.5-pro-002"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    prior = LearnedScorer.default()
    examples = examples_from_items(load_dataset("mmlu_pro"), [WEAK, STRONG])
    rng = random.Random(0)
    labelled = rng.sample([e for e in examples if e.has(WEAK, STRONG)], 1000)
    router = learn(prior, labelled, [e.prompt for e in examples], WEAK, STRONG, config=LearnConfig(evidence=0.0))
    print(f"router: {router!r}; clusters: {router.clusters is not None}")
    texts = prompts(1000, rng)
    tasks = [e.task for e in examples[:1000]]
    lookup = dict(zip(texts, tasks, strict=True))

    def learned(text: str) -> float:
        return router.score_text(text, lookup[text])

    results: dict[str, list[tuple[float, float]]] = {"prior": [], "learned": []}
    for _ in range(args.rounds):
        p = timings_us(prior.score_text, texts, args.calls)
        r = timings_us(learned, texts, args.calls)
        results["prior"].append((pct(p, 0.5), pct(p, 0.99)))
        results["learned"].append((pct(r, 0.5), pct(r, 0.99)))
    out: dict[str, object] = {}
    for name, rows in results.items():
        p50 = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        out[name] = {"p50_us": round(p50, 1), "p99_us": round(p99, 1)}
        print(f"{name:<8} p50 {p50:7.1f} µs   p99 {p99:7.1f} µs")
    ratio = statistics.median(r[0] for r in results["learned"]) / statistics.median(r[0] for r in results["prior"])
    out["learned_over_prior_p50"] = round(ratio, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
