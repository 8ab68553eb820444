"""Complexity router: score the request, map the score to a tier through thresholds, answer there.

    ComplexityRouter(HeuristicScorer(), Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6)))
    ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS,
                     tiers={"opus": Fallback("opus", "sonnet")},      # a child policy per tier
                     affinity=MemoryAffinity(), affinity_ttl_s=3600)

The scorer is any `Scorer`, any `callable(Request) -> float` (e.g. the learned scorer,
`tiered.scoring.learned.load_router(None)`), or a `StepScorer` whose scoring needs a model call
(`LLMScorer`): that call is a step like any other, so its cost and latency are in the record. The
score never names a tier; `Thresholds` do, so a threshold sweep over stored scores re-routes without
re-scoring. The score goes into `Decision.scores["complexity"]`.

Each tier is answered by its child policy (`Direct(tier)` unless `tiers` says otherwise). With an
`AffinityStore`, a follow-up turn goes at least to the tier its conversation reached (see
`tiered.policies.affinity`); a conversation already at the top tier skips scoring altogether.

`floors` (task -> lowest tier; `tiered.policies.floors`) raise the tier of a request whose task,
declared or recognised in its text, has a floor: "score 0.22 -> haiku; floor sonnet for code-review
(recognised)". When the scorer that decided is not the configured one (the LLM scorer's heuristic
fallback after a failed classifier call), the reason names it: "score 0.03 by heuristic fallback:
classifier call failed (overloaded_error) -> haiku". With
`cache=CacheAware(catalog)`, the scored tier is a floor: a stronger tier whose prompt cache is warm
answers instead when that is cheaper this turn (`tiered.policies.cache_aware`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from tiered.policies.affinity import AffinityStore, conversation_key, is_follow_up
from tiered.policies.base import Flow, Result, Step
from tiered.policies.cache_aware import CacheAware
from tiered.policies.direct import PolicyLike, as_policy
from tiered.policies.floors import floor_for
from tiered.records import Decision
from tiered.scoring.base import Thresholds
from tiered.scoring.stepwise import Scored, ScorerLike, StepScorer, as_step_scorer
from tiered.types import Request


class ComplexityRouter:
    def __init__(
        self,
        scorer: ScorerLike,
        thresholds: Thresholds,
        *,
        tiers: Mapping[str, PolicyLike] | None = None,
        affinity: AffinityStore | None = None,
        affinity_ttl_s: float = 3600.0,
        floors: Mapping[str, str] | None = None,
        cache: CacheAware | None = None,
    ) -> None:
        self.scorer = as_step_scorer(scorer)
        self.thresholds = thresholds
        self.tiers = dict(tiers or {})
        self.affinity = affinity
        self.affinity_ttl_s = affinity_ttl_s
        self.floors = dict(floors or {})
        self.cache = cache
        self._head_repr: tuple[StepScorer, Thresholds, str] | None = None

    def rank(self, tier: str | None) -> int:
        order = self.thresholds.tiers
        return order.index(tier) if tier in order else -1

    def flow(self, request: Request) -> Flow:
        held = self._held(request)
        if held is not None and held == self.thresholds.tiers[-1]:
            return (yield from self.route_to(held, request, f"affinity: conversation reached {held}; not scored"))
        scored = yield from self.scorer.score_flow(request)
        score = float(scored)
        tier = self.thresholds.tier_for(score)
        reason = f"score {score:.2f} -> {tier}"
        if isinstance(scored, Scored):
            reason = f"score {score:.2f} by {scored.by} -> {tier}"
        tier, note = self.floored(tier, request)
        reason += note
        if held is not None and self.rank(held) > self.rank(tier):
            reason = f"affinity: conversation reached {held} ({reason})"
            tier = held
        scores = {"complexity": round(score, 4)}
        if self.cache is not None:
            choice = self.cache.choose(tier, self.thresholds.tiers, request)
            if choice.note:
                reason = f"{reason}; {choice.note}"
                scores["cache_saving_usd"] = float(choice.saving_usd)
            tier = choice.tier
        return (yield from self.route_to(tier, request, reason, scores))

    def floored(self, tier: str, request: Request) -> tuple[str, str]:
        """`tier` raised to the floor of the request's task, and what to add to the reason ("" if unchanged)."""
        floor = floor_for(request, self.floors)
        if floor is not None and self.rank(floor[0]) > self.rank(tier):
            return floor[0], f"; floor {floor[0]} for {floor[1]} ({floor[2]})"
        return tier, ""

    def route_to(
        self, tier: str, request: Request, reason: str, scores: Mapping[str, float] | None = None
    ) -> Generator[Step, Any, Result]:
        """Answer with `tier`'s child policy and remember the tier the conversation reached."""
        result: Result = yield from as_policy(self.tiers.get(tier, tier)).flow(request)
        served = result.outcome.attempt.tier if result.outcome.ok else None
        key = conversation_key(request) if self.affinity is not None else None
        if self.affinity is not None and key is not None and result.outcome.ok:
            reached = served if served is not None and self.rank(served) > self.rank(tier) else tier
            self.affinity.put(key, reached, self.affinity_ttl_s)
        child = result.decision.reason
        full = reason if child.startswith("direct to") else f"{reason}; {child}"
        merged = {**result.decision.scores, **(scores or {})}
        return Result(result.outcome, Decision(repr(self), served or tier, full, merged), result.degraded)

    def _held(self, request: Request) -> str | None:
        if self.affinity is None or not is_follow_up(request):
            return None
        key = conversation_key(request)
        return self.affinity.get(key) if key is not None else None

    def __repr__(self) -> str:
        parts = [self._head()]
        if self.tiers:
            parts.append(f"tiers={self.tiers!r}")
        if self.affinity is not None:
            parts.append(f"affinity={self.affinity!r}")
        if self.floors:
            parts.append(f"floors={self.floors!r}")
        if self.cache is not None:
            parts.append("cache_aware=True")
        return f"ComplexityRouter({', '.join(parts)})"

    def _head(self) -> str:
        """The scorer and thresholds part of the repr, which names the policy in every Decision: kept until
        either is replaced (an evaluation sweep asks for it millions of times)."""
        cached = self._head_repr
        if cached is not None and cached[0] is self.scorer and cached[1] is self.thresholds:
            return cached[2]
        t = self.thresholds
        cuts = ", ".join(f"{c:g}" for c in t.cuts) + ("," if len(t.cuts) == 1 else "")
        text = f"{self.scorer!r}, Thresholds({t.tiers!r}, ({cuts}))"
        self._head_repr = (self.scorer, self.thresholds, text)
        return text
