"""Prompt-cache-aware tier choice: a cheaper tier must save more than rewriting the prompt cache costs.

A cache belongs to one model. An agent's turn carries a long stable prefix; continuing on Sonnet
with 20,000 warm tokens costs about $0.006 of input, moving the turn to Haiku writes them cold
there for about $0.025. So once a router has picked the tier a request needs (its quality floor),
`CacheAware.choose` prices every tier from that floor up with what is warm on each
(`Request.warm`, filled by `tiered.runtime.prompt_cache.PromptCacheTracker`) and takes the cheapest:

    cost(tier) = warm tokens x cache read + (cacheable - warm) x cache write
               + uncached tokens x input + expected output x output          (tiered.prompt_cache)

It never goes below the floor, so quality is never traded for a cache hit; it only stays on (or
moves up to) a stronger tier when that is cheaper this turn. The reason says which and by how much:
"stay on sonnet: cache warm, switching to haiku costs $0.019 more". A request without cache
breakpoints, or with nothing warm anywhere, is left at the floor untouched (no pricing at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tiered.catalog import Catalog
from tiered.prompt_cache import PromptShape, expected_cost
from tiered.types import Request


@dataclass(frozen=True, slots=True)
class Choice:
    tier: str
    note: str = ""
    saving_usd: Decimal = Decimal(0)
    """What the choice saves against the floor tier, by the estimate (0 when it is the floor)."""


@dataclass(frozen=True, slots=True)
class CacheAware:
    """The cache-aware step of a router (see the module docstring). Data only: a catalog and an estimate."""

    catalog: Catalog
    expected_output_tokens: int = 500
    """Output assumed per answer when pricing (capped by the request's max_tokens): the same for every tier."""
    horizon_turns: int = 1
    """Turns a choice is expected to last: a move to a cold tier pays its cache write once, then that
    tier's warm price on the following turns, so the cheaper tier must save more than the rewrite costs
    over this many turns. 1 (this turn only) measured best on the agentic workload (bench/prompt_cache.py:
    horizons 1, 2, 4, 8 saved 14.2%, 13.9%, 4.9%, 0% on user-paced turns and 0.2%, 0.5%, -0.3%, 0% on
    agent-paced ones): a longer horizon moves down to cold tiers that the next turn leaves again."""

    def choose(self, floor: str, ladder: Sequence[str], request: Request) -> Choice:
        """The cheapest tier of `ladder` from `floor` up, given what is warm; `floor` when nothing is."""
        if not request.warm or floor not in ladder:
            return Choice(floor)
        shape = PromptShape.of(request)
        if not shape.breakpoints:
            return Choice(floor)
        out = min(self.expected_output_tokens, max(0, request.max_tokens))
        known = max(request.warm.values(), default=0)
        later = max(0, self.horizon_turns - 1)
        costs: dict[str, Decimal] = {}
        warm_here: dict[str, int] = {}
        for tier in ladder[ladder.index(floor):]:
            info = self.catalog.get(tier)
            if info is None:
                continue
            warm_here[tier] = request.warm.get(info.id, 0)
            now = expected_cost(info, shape, warm_here[tier], out).total
            costs[tier] = now + later * expected_cost(info, shape, known, out).total
        if floor not in costs:
            return Choice(floor)
        best = min(costs, key=lambda t: (costs[t], ladder.index(t)))
        base = costs[floor]
        span = "" if later == 0 else f" over {self.horizon_turns} turns"
        if best == floor:
            warm_elsewhere = [t for t in costs if t != floor and warm_here[t] > warm_here[floor]]
            if not warm_elsewhere:
                return Choice(floor)
            other = warm_elsewhere[0]
            return Choice(floor, f"move to {floor}: {_usd(costs[other] - base)} cheaper{span} than staying on "
                                 f"{other} with its cache warm")
        state = "cache warm" if warm_here[best] else "cheaper"
        return Choice(best, f"stay on {best}: {state}, switching to {floor} costs {_usd(base - costs[best])} "
                            f"more{span}", base - costs[best])


def _usd(amount: Decimal) -> str:
    return f"${amount:.3f}" if abs(amount) >= Decimal("0.001") else f"${amount:.5f}"
