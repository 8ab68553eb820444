"""Latency of the shipped default scorer on 2,000-character prompts, in process, next to two peers.

Peers: a bare `len(text)` call (the floor: the cost of a Python call) and an sklearn TF-IDF `transform` of one
prompt (what a typical "small learned router" pays before any model). Prompts are real dataset prompts cut or
repeated to 2,000 characters when the datasets are found, else synthetic text. The LAST line is JSON with the
default scorer's `p50_us` and `p99_us`.

    .venv/bin/python bench/scorer_latency.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence

from tiered.scoring.learned import LearnedScorer

PROMPT_CHARS = 2000


def prompts(n: int, rng: random.Random) -> list[str]:
    try:
        from tiered.datasets import load_dataset

        texts = [i.prompt for name in ("routerbench3", "mmlu_pro", "llmrouter") for i in load_dataset(name)]
    except Exception:  # noqa: BLE001 - any failure to find the data falls back to synthetic prompts
        words = ["the", "of", "a", "to", "solve", "integral", "function", "python", "why", "42", "3.5", "=", "x^2"]
        texts = [" ".join(rng.choice(words) for _ in range(400)) for _ in range(200)]
    out = []
    for _ in range(n):
        t = rng.choice(texts)
        while len(t) < PROMPT_CHARS:
            t = t + "\n\n" + rng.choice(texts)
        out.append(t[:PROMPT_CHARS])
    return out


def timings_us(fn: Callable[[str], object], texts: Sequence[str], calls: int) -> list[float]:
    for t in texts[:200]:  # warm up
        fn(t)
    out = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(calls):
            t = texts[i % len(texts)]
            start = clock()
            fn(t)
            out.append((clock() - start) / 1000.0)
    finally:
        gc.enable()
    return out


def pct(values: Sequence[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[round(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="Calls per round for each scorer.")
    parser.add_argument("--rounds", type=int, default=5,
                        help="Rounds; the figures are the median over rounds (a noisy neighbour spoils one round).")
    args = parser.parse_args()
    rng = random.Random(0)
    texts = prompts(1000, rng)
    scorer = LearnedScorer.default()
    peers: dict[str, Callable[[str], object]] = {"len(text)": len, "default scorer": scorer.score_text}
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        peers["sklearn TF-IDF transform"] = lambda t: vec.transform([t])
    except ImportError:
        print("(sklearn not installed: no TF-IDF peer)")
    results = {}
    for name, fn in peers.items():
        calls = args.calls if name != "sklearn TF-IDF transform" else max(500, args.calls // 20)
        rounds = [timings_us(fn, texts, calls) for _ in range(args.rounds)]
        results[name] = (statistics.median(pct(us, 0.5) for us in rounds),
                         statistics.median(pct(us, 0.99) for us in rounds))
    p50, p99 = results["default scorer"]
    print(f"{'scorer':<28}{'p50 µs':>10}{'p99 µs':>10}{'p50 / default':>15}")
    for name, (a, b) in results.items():
        print(f"{name:<28}{a:>10.1f}{b:>10.1f}{a / p50:>15.2f}")
    tokens = sum(len(v) for v in scorer.views.values())
    print(f"default scorer: {tokens} token weights; {PROMPT_CHARS}-char prompts; {args.rounds} rounds of "
          f"{args.calls} calls; median over rounds")
    print(json.dumps({"p50_us": round(p50, 1), "p99_us": round(p99, 1), "prompt_chars": PROMPT_CHARS,
                      "peers_p50_us": {k: round(v[0], 1) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
