"""What the policy layer costs per request, next to calling a model directly: it must be negligible.

Calls a `FakeModel` (no network, answers at once) N times directly, then through `run()` with
`Direct`, `Fallback` (healthy), `Cascade` (confident at the first tier) and `ComplexityRouter`
(heuristic scorer), and prints microseconds per request for each and, last, one JSON line with the
worst overhead in microseconds and its ratio to a 500 ms model call (Haiku's p50 time to first
token), the budget we hold it to: {"worst_overhead_us": ..., "ratio_to_500ms": ..., "target_ratio": 0.01}.

    .venv/bin/python bench/driver_overhead.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from tiered.catalog import Catalog
from tiered.models.fake import FakeModel
from tiered.models.registry import ModelSet
from tiered.policies import Cascade, ComplexityRouter, Direct, Fallback
from tiered.policies.base import Policy
from tiered.runtime import run
from tiered.scoring.base import Thresholds
from tiered.scoring.heuristic import HeuristicScorer
from tiered.types import Request


async def main(n: int) -> None:
    catalog = Catalog.load()
    models = ModelSet(catalog, {catalog.resolve(t).id: FakeModel(lambda r: "Paris.", name=catalog.resolve(t).id)
                                for t in ("haiku", "sonnet", "opus")})
    request = Request.user("What is the capital of France? Answer in one word.")
    haiku = models.resolve("haiku")
    started = time.perf_counter()
    for _ in range(n):
        await haiku.complete(request)
    direct_us = (time.perf_counter() - started) / n * 1e6
    print(f"model.complete directly: {direct_us:8.1f} us/request")
    policies: dict[str, Policy] = {
        "Direct": Direct("haiku"),
        "Fallback": Fallback("haiku", "sonnet"),
        "Cascade": Cascade(("haiku", "sonnet"), self_report=False),
        "ComplexityRouter": ComplexityRouter(HeuristicScorer(), Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6))),
    }
    worst = 0.0
    for name, policy in policies.items():
        started = time.perf_counter()
        for _ in range(n):
            await run(policy, request, models, catalog=catalog)
        us = (time.perf_counter() - started) / n * 1e6
        worst = max(worst, us - direct_us)
        print(f"run({name}): {us:8.1f} us/request  (+{us - direct_us:.1f} us)")
    print(json.dumps({"worst_overhead_us": round(worst, 1), "ratio_to_500ms": round(worst / 500_000, 6),
                      "target_ratio": 0.01}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
