"""Cache-blind against cache-aware routing on an agentic workload, through the emulator, in one run.

Every policy replays the same conversations (`tiered.evaluation.agentic`) through the driver, over
real HTTP to the local emulator, whose prompt cache reports reads and writes as the API does and
expires entries on the workload's simulated clock. Each policy starts from a cold cache. The cache-aware
router gets `Request.warm` from a `PromptCacheTracker` on the same clock; the others route blind.

    runs = compare_cache_routing(agentic_workload(24))
    print(cache_table(runs))

Reported per policy: cost per conversation, the share of turns served on another tier than the
cache-blind router chose (moved), quality as the share of turns served at or above the tier they
need, the tier mix on the turns that matter (those needing Sonnet or better), and the cache tokens.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tiered.catalog import Catalog
from tiered.emulator.app import Emulator
from tiered.emulator.server import make_server
from tiered.emulator.tokens import PromptCache
from tiered.evaluation.agentic import TIERS, Conversation, labelled_scorer
from tiered.models.registry import ModelSet
from tiered.policies.affinity import MemoryAffinity
from tiered.policies.base import Policy
from tiered.policies.cache_aware import CacheAware
from tiered.policies.direct import as_policy
from tiered.policies.router import ComplexityRouter
from tiered.runtime.driver import Resolver, run
from tiered.runtime.prompt_cache import MemoryCacheLedger, PromptCacheTracker
from tiered.scoring.base import Thresholds
from tiered.serving import serving_in_thread

CUTS = (1 / 3, 2 / 3)


class SimClock:
    """The workload's clock: set to each turn's time before it runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class PolicyRun:
    name: str
    conversations: int = 0
    cost_usd: Decimal = Decimal(0)
    tiers: list[str] = field(default_factory=list)
    """The tier that served each turn, in workload order."""
    needed: list[str] = field(default_factory=list)
    cache_read: int = 0
    cache_write: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def per_conversation(self) -> Decimal:
        return self.cost_usd / max(1, self.conversations)

    @property
    def quality(self) -> float:
        """The share of turns served at or above the tier they need."""
        met = sum(TIERS.index(t) >= TIERS.index(n) for t, n in zip(self.tiers, self.needed, strict=True))
        return met / max(1, len(self.tiers))

    def mix(self, *, hard_only: bool = False) -> dict[str, float]:
        served = [t for t, n in zip(self.tiers, self.needed, strict=True) if not hard_only or n != "haiku"]
        counts = Counter(served)
        return {t: counts[t] / max(1, len(served)) for t in TIERS}

    def moved(self, baseline: PolicyRun) -> float:
        """The share of turns served on another tier than `baseline` served them."""
        diff = sum(a != b for a, b in zip(self.tiers, baseline.tiers, strict=True))
        return diff / max(1, len(self.tiers))


def routing_policies(workload: Sequence[Conversation], catalog: Catalog, clock: SimClock,
                     ) -> dict[str, tuple[Callable[[], Policy], bool]]:
    """name -> (a fresh policy, whether it is given the cache ledger's knowledge)."""
    scorer = labelled_scorer(list(workload))
    thresholds = Thresholds.of(TIERS, CUTS)
    return {
        "cache-blind router": (lambda: ComplexityRouter(scorer, thresholds), False),
        "cache-aware router": (lambda: ComplexityRouter(scorer, thresholds, cache=CacheAware(catalog)), True),
        "sticky router (affinity)": (
            lambda: ComplexityRouter(scorer, thresholds, affinity=MemoryAffinity(clock=clock)), False),
        "always haiku": (lambda: as_policy("haiku"), False),
        "always sonnet": (lambda: as_policy("sonnet"), False),
        "always opus": (lambda: as_policy("opus"), False),
    }


async def _replay(name: str, policy: Policy, aware: bool, workload: Sequence[Conversation], models: ModelSet,
                  clock: SimClock, catalog: Catalog) -> PolicyRun:
    out = PolicyRun(name, conversations=len(workload))
    tracker = PromptCacheTracker(MemoryCacheLedger(clock=clock), clock=clock) if aware else None
    resolver: Resolver = tracker.wrap(models) if tracker is not None else models
    for conv in workload:
        for turn in conv.turns:
            clock.now = turn.at_s
            request = tracker.annotate(turn.request) if tracker is not None else turn.request
            result = await run(policy, request, resolver, catalog=catalog)
            record = result.record
            if result.response is None:
                raise RuntimeError(f"{name}: turn of {conv.id} failed: {record.outcome}")
            out.cost_usd += record.cost_usd
            out.tiers.append(record.tier or "")
            out.needed.append(turn.needed)
            out.cache_read += sum(a.cache_read_input_tokens for a in record.attempts)
            out.cache_write += sum(a.cache_creation_input_tokens for a in record.attempts)
            out.reasons.append(record.decision.reason)
    return out


def compare_cache_routing(workload: Sequence[Conversation], *, catalog: Catalog | None = None,
                          only: Sequence[str] | None = None) -> dict[str, PolicyRun]:
    """Replay `workload` under each routing policy (`only`: a subset by name), each from a cold cache."""
    catalog = catalog or Catalog.load()
    clock = SimClock()
    app = Emulator(catalog=catalog, cache_clock=clock)
    policies = routing_policies(workload, catalog, clock)
    names = list(only) if only is not None else list(policies)
    with serving_in_thread(lambda host, port: make_server(app, host=host, port=port), name="emulator") as url:
        async def all_runs() -> dict[str, PolicyRun]:
            models = ModelSet.build(catalog, backend="emulator", base_url=url)
            try:
                runs: dict[str, PolicyRun] = {}
                for name in names:
                    app.cache = PromptCache(clock=clock)  # every policy starts cold
                    make, aware = policies[name]
                    runs[name] = await _replay(name, make(), aware, workload, models, clock, catalog)
                return runs
            finally:
                await models.aclose()

        return asyncio.run(all_runs())


def cache_table(runs: Mapping[str, PolicyRun], baseline: str = "cache-blind router") -> str:
    """A text table of the runs, with cost and moved turns against `baseline`."""
    base = runs.get(baseline)
    lines = [f"{'policy':<26} {'$/conversation':>14} {'vs blind':>9} {'moved':>6} {'quality':>8} "
             f"{'mix on turns needing sonnet+ (h/s/o)':>38} {'cache read':>11} {'cache write':>12}"]
    for run_ in runs.values():
        vs = f"{float(run_.cost_usd / base.cost_usd - 1):+.1%}" if base is not None and base.cost_usd else "-"
        moved = f"{run_.moved(base):.0%}" if base is not None else "-"
        mix = run_.mix(hard_only=True)
        mix_text = " / ".join(f"{mix[t]:.0%}" for t in TIERS)
        lines.append(f"{run_.name:<26} {float(run_.per_conversation):>14.4f} {vs:>9} {moved:>6} "
                     f"{run_.quality:>8.1%} {mix_text:>38} {run_.cache_read:>11,} {run_.cache_write:>12,}")
    return "\n".join(lines)


def saving_line(runs: Mapping[str, PolicyRun]) -> str:
    """One line: what cache-aware routing saves against cache-blind routing at the same quality floor."""
    blind, aware = runs["cache-blind router"], runs["cache-aware router"]
    saving = 1 - aware.cost_usd / blind.cost_usd if blind.cost_usd else Decimal(0)
    change = f"{float(saving):.1%} less" if saving >= 0 else f"{float(-saving):.1%} more"
    return (f"prompt-cache-aware routing: ${float(aware.per_conversation):.4f} per agent conversation against "
            f"${float(blind.per_conversation):.4f} cache-blind ({change}, quality "
            f"{aware.quality:.0%} vs {blind.quality:.0%}; {aware.moved(blind):.0%} of turns kept on a warm tier)")

