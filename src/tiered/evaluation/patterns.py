"""The five routing patterns, each run once through the real async driver against tiered's emulator.

No key, no network beyond 127.0.0.1: an emulator starts on a free local port (with 529s injected
on Opus for the fallback), the catalog's models point at it, and each pattern answers one request.
The emulator invents its answers, so this shows what each pattern *does* (which tiers it calls, why,
what it costs, how long the driver took), not how good the answers are: that is the replay section.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from tiered.policies.base import Policy
from tiered.types import Request


@dataclass(frozen=True, slots=True)
class PatternRun:
    pattern: str
    policy: str
    calls: tuple[str, ...]
    """"tier:purpose:outcome" for every attempt, in order."""
    served_by: str | None
    reason: str
    cost_usd: float
    wall_ms: float


async def _run_all() -> list[PatternRun]:
    from tiered.catalog import Catalog
    from tiered.emulator.config import Behaviour, EmulatorConfig
    from tiered.emulator.testing import running_emulator
    from tiered.models.registry import ModelSet
    from tiered.policies.cascade import Cascade
    from tiered.policies.delegate import Delegate
    from tiered.policies.fallback import Fallback
    from tiered.policies.router import ComplexityRouter
    from tiered.policies.taskmap import TaskMap
    from tiered.runtime.clock import ManualClock
    from tiered.runtime.driver import run
    from tiered.scoring.base import Thresholds
    from tiered.scoring.heuristic import HeuristicScorer

    catalog = Catalog.load()
    opus = catalog.resolve("opus").id
    config = EmulatorConfig(seed=7, per_model={opus: Behaviour(error_rates={"529": 1.0})})
    hard = ("Prove that the sum of the reciprocals of the primes diverges, then write a Python function that "
            "checks the partial sums numerically and explain the asymptotics with LaTeX: $\\sum 1/p$.")
    cases: list[tuple[str, Policy, Request]] = [
        ("task map", TaskMap({"commit-message": "haiku"}, default="sonnet"),
         Request.user("Write a commit message for: fix typo in README", task="commit-message", max_tokens=64)),
        ("complexity router", ComplexityRouter(HeuristicScorer(), Thresholds.of(("haiku", "sonnet", "opus"),
                                                                                 (0.3, 0.6))),
         Request.user(hard, max_tokens=64)),
        ("cascade", Cascade(("haiku", "sonnet")), Request.user("What is the capital of Australia?", max_tokens=64)),
        ("fallback (Opus answers 529)", Fallback("opus", "sonnet", retries=1),
         Request.user("Summarise the plot of Hamlet in two sentences.", max_tokens=64)),
        ("delegate", Delegate(planner="sonnet", worker="haiku", synthesizer="sonnet", concurrency=4),
         Request.user("Summarise documents set 3", max_tokens=64)),
    ]
    out: list[PatternRun] = []
    with running_emulator(config) as url:
        models = ModelSet.build(catalog, backend="emulator", base_url=url)
        clock = ManualClock()  # back-off sleeps are recorded, not waited
        try:
            for name, policy, request in cases:
                started = time.perf_counter()
                result = await run(policy, request, models, clock=clock, sleep=clock.sleep)
                wall = (time.perf_counter() - started) * 1000
                rec = result.record
                out.append(PatternRun(
                    pattern=name, policy=repr(policy)[:70],
                    calls=tuple(f"{a.tier or a.model}:{a.purpose}:{a.outcome}" for a in rec.attempts),
                    served_by=rec.tier or rec.model, reason=rec.decision.reason[:90],
                    cost_usd=float(rec.cost_usd), wall_ms=wall,
                ))
        finally:
            await models.aclose()
    return out


def run_patterns() -> list[PatternRun]:
    """Run every pattern once against a local emulator (about a second)."""
    return asyncio.run(_run_all())
