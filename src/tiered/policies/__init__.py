"""Routing policies: small sans-I/O objects that decide, and nest (a policy's child may be any policy).

    Fallback(Cascade(("haiku", "sonnet")), "opus")
    TaskMap.default_map(default=ComplexityRouter(HeuristicScorer(), thresholds))
    Bypass(ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS))
    Delegate(planner="opus", worker="haiku", synthesizer="opus", agents=load_agents(".claude/agents"))

They yield steps (`tiered.policies.base`); `tiered.runtime` performs them.
"""

from tiered.policies.affinity import AffinityStore, MemoryAffinity
from tiered.policies.agents import Agent, load_agents
from tiered.policies.base import Call, Outcome, Parallel, Policy, Result, Sleep
from tiered.policies.bypass import Bypass, BypassState
from tiered.policies.cascade import Cascade
from tiered.policies.delegate import Delegate
from tiered.policies.direct import Direct, as_policy
from tiered.policies.fallback import Backoff, Fallback
from tiered.policies.router import ComplexityRouter
from tiered.policies.taskmap import TaskMap
from tiered.policies.triggers import (
    at_tier,
    elapsed_over,
    hedged,
    invalid_report,
    low_confidence,
    on,
    refused,
    retryable,
    spent_over,
)

__all__ = [
    "AffinityStore", "Agent", "Backoff", "Bypass", "BypassState", "Call", "Cascade", "ComplexityRouter", "Delegate",
    "Direct", "Fallback", "MemoryAffinity", "Outcome", "Parallel", "Policy", "Result", "Sleep", "TaskMap",
    "as_policy", "at_tier", "elapsed_over", "hedged", "invalid_report", "load_agents", "low_confidence", "on",
    "refused", "retryable", "spent_over",
]
