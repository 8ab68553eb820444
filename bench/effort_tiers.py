"""Effort-blind against effort-aware ladders on the same requests, through the emulator, in one run.

The same 240 requests (questions of growing difficulty; the router's score is their difficulty) go
through two complexity routers over real HTTP to the local emulator:

- effort-blind: haiku / sonnet / opus at cuts 1/3, 2/3;
- effort-aware: haiku / sonnet@low / sonnet / opus at cuts 1/3, 1/2, 2/3: the easier half of
  Sonnet's band is asked at `output_config.effort: low`.

Prints cost, output tokens and the tier mix of each, and one JSON line. The emulator models effort as
answer length only (`tiered.emulator.reply.EFFORT_LENGTH`: low = 0.35x); what low effort does to
quality needs recorded answers at each effort, which the offline data does not have, so this measures
the cost side of the rung, not its quality.

    .venv/bin/python bench/effort_tiers.py [--requests 240]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from decimal import Decimal

from tiered.catalog import Catalog
from tiered.emulator.testing import running_emulator
from tiered.models.registry import ModelSet
from tiered.policies.router import ComplexityRouter
from tiered.runtime.driver import run
from tiered.scoring.base import Thresholds
from tiered.types import Request


async def replay(url: str, n: int) -> dict[str, dict[str, object]]:
    catalog = Catalog.load()
    models = ModelSet.build(catalog, backend="emulator", base_url=url)
    requests = [Request.user(f"Question {i}: explain step by step why case {i} behaves as it does, "
                             f"with an example.", max_tokens=1024, task=str(i / n)) for i in range(n)]
    ladders = {
        "effort-blind": Thresholds.of(("haiku", "sonnet", "opus"), (1 / 3, 2 / 3)),
        "effort-aware": Thresholds.of(("haiku", "sonnet@low", "sonnet", "opus"), (1 / 3, 1 / 2, 2 / 3)),
    }
    out: dict[str, dict[str, object]] = {}
    try:
        for name, thresholds in ladders.items():
            router = ComplexityRouter(lambda r: float(r.task or 0), thresholds)
            cost, output, mix = Decimal(0), 0, Counter[str]()
            for request in requests:
                result = await run(router, request, models, catalog=catalog)
                cost += result.record.cost_usd
                output += sum(a.output_tokens for a in result.record.attempts)
                mix[result.record.tier or "failed"] += 1
            out[name] = {"cost_usd": float(cost), "output_tokens": output,
                         "mix": {t: round(c / n, 3) for t, c in sorted(mix.items())}}
    finally:
        await models.aclose()
    return out


def main(n: int) -> None:
    with running_emulator() as url:
        runs = asyncio.run(replay(url, n))
    for name, r in runs.items():
        print(f"{name:<13} ${r['cost_usd']:.4f}  output tokens {r['output_tokens']:>7}  mix {r['mix']}")
    blind, aware = runs["effort-blind"]["cost_usd"], runs["effort-aware"]["cost_usd"]
    print(json.dumps({"requests": n, "effort_blind_usd": blind, "effort_aware_usd": aware,
                      "saving": round(1 - float(aware) / float(blind), 4)}))  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=240)
    main(parser.parse_args().requests)
