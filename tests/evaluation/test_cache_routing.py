"""The agentic workload and the cache-blind / cache-aware replay through the emulator."""

from __future__ import annotations

import itertools

from tiered.evaluation.agentic import TIERS, agentic_workload
from tiered.evaluation.cache_routing import cache_table, compare_cache_routing, saving_line
from tiered.prompt_cache import PromptShape


def test_the_workload_is_a_growing_cached_agent_loop() -> None:
    workload = agentic_workload(3, seed=7)
    assert workload == agentic_workload(3, seed=7)  # deterministic
    conv = workload[0]
    shapes = [PromptShape.of(t.request) for t in conv.turns]
    assert shapes[0].total_tokens > 13_000  # the tools + system prefix
    assert all(a.total_tokens < b.total_tokens for a, b in itertools.pairwise(shapes))
    assert all(len(s.breakpoints) == 2 for s in shapes)  # the system prompt and the last block
    times = [t.at_s for t in conv.turns]
    assert times == sorted(times)
    blocks = [b for m in conv.turns[-1].request.messages for b in m["content"]]
    assert any(b.get("type") == "tool_result" for b in blocks) and any(b.get("type") == "tool_use" for b in blocks)


def test_cache_aware_routing_never_serves_below_the_blind_floor() -> None:
    workload = agentic_workload(3, seed=3, max_turns=12)
    runs = compare_cache_routing(workload, only=("cache-blind router", "cache-aware router"))
    blind, aware = runs["cache-blind router"], runs["cache-aware router"]
    assert len(blind.tiers) == len(aware.tiers) == sum(len(c.turns) for c in workload)
    assert blind.quality == 1.0 and aware.quality == 1.0
    assert all(TIERS.index(a) >= TIERS.index(b) for a, b in zip(aware.tiers, blind.tiers, strict=True))
    moved = [r for r, a, b in zip(aware.reasons, aware.tiers, blind.tiers, strict=True) if a != b]
    assert all("stay on" in r and "cache warm" in r for r in moved)  # a move is always explained
    assert blind.cache_read > 0 and blind.cache_write > 0 and blind.cost_usd > 0
    assert "cache-aware router" in cache_table(runs) and "cache-blind" in saving_line(runs)
