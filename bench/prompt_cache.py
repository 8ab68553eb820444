"""Cache-blind against cache-aware routing on a multi-turn agentic workload, measured side by side in one run.

The workload (`tiered.evaluation.agentic`): coding-agent conversations with a ~14,000-token stable
prefix (tools + system prompt), a growing history of tool calls and results, a cache breakpoint on
the last block of each turn, and per-turn labels of the tier each turn needs. Every policy replays
exactly the same prompts through the async driver, over real HTTP, to the local emulator, whose
prompt cache reports reads and writes as the API does and expires entries on the workload's clock.
Both routers use the same scorer (it knows each turn's needed tier), so they route at the same quality
floor; the cache-aware one may only serve a turn on a stronger tier than the floor, when its warm
cache makes that cheaper over `horizon_turns`.

Two traffic shapes: agent-paced turns (4-40 s apart, occasional pauses longer than the 5-minute cache
lifetime) and user-paced turns (1-4 minutes apart). Prints the table per shape and, last, one JSON
line: {"agent_paced_saving": ..., "user_paced_saving": ..., "target": 0.25, ...}.

    .venv/bin/python bench/prompt_cache.py [--conversations 16]
"""

from __future__ import annotations

import argparse
import json
import time

from tiered.evaluation.agentic import agentic_workload
from tiered.evaluation.cache_routing import cache_table, compare_cache_routing, saving_line


def main(conversations: int) -> None:
    shapes = {"agent_paced": (4.0, 40.0), "user_paced": (60.0, 240.0)}
    out: dict[str, object] = {"conversations": conversations, "target": 0.25}
    for name, gap in shapes.items():
        workload = agentic_workload(conversations, gap_s=gap)
        turns = sum(len(c.turns) for c in workload)
        started = time.perf_counter()
        runs = compare_cache_routing(workload)
        took = time.perf_counter() - started
        print(f"\n{name}: {conversations} conversations, {turns} turns, turns {gap[0]:g}-{gap[1]:g} s apart "
              f"({took:.0f} s for {len(runs)} policies)")
        print(cache_table(runs))
        print(saving_line(runs))
        blind, aware = runs["cache-blind router"], runs["cache-aware router"]
        out[f"{name}_saving"] = round(float(1 - aware.cost_usd / blind.cost_usd), 4)
        out[f"{name}_quality"] = [round(blind.quality, 4), round(aware.quality, 4)]
        out[f"{name}_moved"] = round(aware.moved(blind), 4)
    print(json.dumps(out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=16)
    main(parser.parse_args().conversations)
