"""Router bypass: stop paying for scoring when it no longer changes where requests go.

The design note's anti-pattern "router overhead > savings": if more than 80% of a route's traffic
lands on one tier, or the scorer's own cost (a classifier call) exceeds what routing saves, the
route should skip the router and go straight to that tier. `Bypass` wraps a `ComplexityRouter`:

    Bypass(ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS), share=0.8, window=200, probe_every=10)

It keeps a sliding window of the last `window` scored decisions: the tier the score chose, what
scoring cost (the "classify" attempts, plus latency priced at `latency_usd_per_s` if you want time
to count), and what routing saved (the answer's tokens priced at the `baseline` tier, the one the
route would use with no router, default the top tier, minus what the answer cost). Once the window
holds `min_samples`, it engages when one tier's share exceeds `share`, or overhead exceeds savings;
then requests go straight to that tier (through the router's own child policy for it, and affinity
still applies) with `Decision.reason` "bypass: 86% of last 200 on haiku". Every `probe_every`-th
request is still scored, so the mix is re-measured, and the bypass lifts when it changes. Engaging
and lifting are logged (`logging`, logger `tiered.policies.bypass`); `state()` exposes the numbers
for `tiered stats`. One `Bypass` per route: its window is that route's traffic.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tiered.catalog import Catalog
from tiered.policies.base import Call, Flow, Outcome, Parallel, Result
from tiered.policies.router import ComplexityRouter
from tiered.pricing import cost_usd
from tiered.records import Attempt, Decision
from tiered.types import Request, Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BypassState:
    engaged: bool
    tier: str | None
    reason: str
    samples: int
    shares: Mapping[str, float] = field(default_factory=dict)
    overhead_usd: float = 0.0
    savings_usd: float = 0.0
    requests: int = 0
    bypassed: int = 0


@dataclass(frozen=True, slots=True)
class _Sample:
    tier: str
    overhead_usd: Decimal
    overhead_s: float
    savings_usd: Decimal


class Bypass:
    def __init__(
        self,
        router: ComplexityRouter,
        *,
        share: float = 0.8,
        window: int = 200,
        min_samples: int | None = None,
        probe_every: int = 10,
        baseline: str | None = None,
        latency_usd_per_s: float = 0.0,
        catalog: Catalog | None = None,
    ) -> None:
        self.router = router
        self.share = share
        self.window: deque[_Sample] = deque(maxlen=window)
        self.min_samples = min_samples if min_samples is not None else max(1, window // 4)
        self.probe_every = max(1, probe_every)
        self.baseline = baseline or router.thresholds.tiers[-1]
        self.latency_usd_per_s = Decimal(str(latency_usd_per_s))
        self._catalog = catalog
        self._tier: str | None = None
        self._why = ""
        self._requests = 0
        self._bypassed = 0

    def flow(self, request: Request) -> Flow:
        self._requests += 1
        if self._tier is not None and self._requests % self.probe_every != 0:
            self._bypassed += 1
            tier, floor = self.router.floored(self._tier, request)  # a floor holds even when scoring is skipped
            result: Result = yield from self.router.route_to(tier, request, f"bypass: {self._why}{floor}")
            return self._wrap(result, result.decision.reason)
        classify: list[Attempt] = []
        gen = self.router.flow(request)
        send: Any = None
        while True:
            try:
                step = gen.send(send)
            except StopIteration as stop:
                result = stop.value
                break
            send = yield step
            outcomes: tuple[Outcome, ...] = (
                (send,) if isinstance(step, Call) else send if isinstance(step, Parallel) else ()
            )
            classify.extend(o.attempt for o in outcomes if o.attempt.purpose == "classify")
        probing = self._tier is not None
        self._observe(result, classify)
        return self._wrap(result, result.decision.reason + (" [bypass probe]" if probing else ""))

    def _wrap(self, result: Result, reason: str) -> Result:
        d = result.decision
        return Result(result.outcome, Decision(repr(self), d.tier, reason, d.scores), result.degraded)

    def _observe(self, result: Result, classify: list[Attempt]) -> None:
        score = result.decision.scores.get("complexity")
        if score is None:
            return  # not scored (affinity held the conversation): says nothing about the mix
        tier = self.router.thresholds.tier_for(score)
        overhead = sum((a.cost_usd for a in classify), Decimal(0))
        self.window.append(_Sample(tier, overhead, sum(a.latency_ms for a in classify) / 1000.0,
                                   self._savings(result.outcome)))
        self._update()

    def _savings(self, outcome: Outcome) -> Decimal:
        a = outcome.attempt
        if not outcome.ok or a.tier == self.baseline:
            return Decimal(0)
        catalog = self._catalog or Catalog.load()
        self._catalog = catalog
        base = catalog.get(self.baseline)
        if base is None:
            return Decimal(0)
        usage = Usage(input_tokens=a.input_tokens, output_tokens=a.output_tokens,
                      cache_read_input_tokens=a.cache_read_input_tokens,
                      cache_creation_input_tokens=a.cache_creation_input_tokens)
        return cost_usd(base, usage) - a.cost_usd

    def _update(self) -> None:
        n = len(self.window)
        if n < self.min_samples:
            return
        top, count = Counter(s.tier for s in self.window).most_common(1)[0]
        overhead, savings = self._totals()
        if count / n > self.share:
            self._engage(top, f"{round(100 * count / n)}% of last {n} on {top}")
        elif overhead > savings:
            self._engage(top, f"scoring cost ${overhead:.4f} > savings ${savings:.4f} over last {n}; most on {top}")
        elif self._tier is not None:
            log.info("router bypass lifted (%r): mix now %s", self, self._shares())
            self._tier, self._why = None, ""

    def _engage(self, tier: str, why: str) -> None:
        if self._tier != tier:
            log.info("router bypass engaged (%r): %s", self, why)
        self._tier, self._why = tier, why

    def _totals(self) -> tuple[Decimal, Decimal]:
        overhead = sum((s.overhead_usd + self.latency_usd_per_s * Decimal(str(s.overhead_s)) for s in self.window),
                       Decimal(0))
        return overhead, sum((s.savings_usd for s in self.window), Decimal(0))

    def _shares(self) -> dict[str, float]:
        n = len(self.window)
        return {t: c / n for t, c in Counter(s.tier for s in self.window).most_common()} if n else {}

    def state(self) -> BypassState:
        overhead, savings = self._totals()
        return BypassState(
            engaged=self._tier is not None, tier=self._tier, reason=self._why, samples=len(self.window),
            shares=self._shares(), overhead_usd=float(overhead), savings_usd=float(savings),
            requests=self._requests, bypassed=self._bypassed,
        )

    def __repr__(self) -> str:
        return (f"Bypass({self.router!r}, share={self.share:g}, window={self.window.maxlen}, "
                f"probe_every={self.probe_every})")
