from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from tiered.errors import BadRequest, Overloaded, RateLimited, SpendLimit
from tiered.models.registry import ModelSet
from tiered.policies.cascade import Cascade
from tiered.policies.router import ComplexityRouter
from tiered.policies.triggers import (
    Progress,
    at_tier,
    elapsed_over,
    hedged,
    low_confidence,
    on,
    refused,
    retryable,
    spent_over,
)
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.scoring.base import Thresholds
from tiered.scoring.confidence import ConfidenceEstimator, Reading
from tiered.scoring.learned import load_router
from tiered.types import Request, Response, Usage


def _reading(text: str, stop: str = "end_turn") -> Reading:
    resp = Response(id="m", model="m", content=({"type": "text", "text": text},), stop_reason=stop, usage=Usage())
    return ConfidenceEstimator().read(resp, asked_report=False)


def test_conditions_compose_and_explain_why() -> None:
    when = low_confidence(0.7) | hedged() | refused()
    assert repr(when) == "low_confidence(0.7) | hedged() | refused()"
    assert when.explain(_reading("Paris.")) is None
    assert when.explain(_reading("I think Paris.")) == "confidence 0.60 < 0.7"
    assert (hedged() & ~refused()).explain(_reading("Probably Paris.")) == "hedged (probably) and not (refused())"
    assert repr(hedged() & (refused() | low_confidence(0.5))) == "hedged() & (refused() | low_confidence(0.5))"


def test_stop_conditions() -> None:
    stop = at_tier("opus") | spent_over(0.05) | elapsed_over(30)
    assert repr(stop) == "at_tier('opus') | spent_over(0.05) | elapsed_over(30)"
    assert stop.explain(Progress("haiku", Decimal("0.01"), 3.0, 1)) is None
    assert stop.explain(Progress("sonnet", Decimal("0.06"), 3.0, 2)) == "spent $0.0600 > $0.05"
    assert stop.explain(Progress("sonnet", Decimal("0.01"), 31.0, 2)) == "elapsed 31.0s > 30s"
    assert stop.explain(Progress("opus", Decimal(0), 0.0, 3)) == "at tier opus"


def test_fallback_triggers_match_types_not_text() -> None:
    assert retryable()(Overloaded("x")) and retryable()(RateLimited("x"))
    assert not retryable()(BadRequest("overloaded")) and not retryable()(SpendLimit("rate limit", status=429))
    assert on(RateLimited)(RateLimited("x")) and not on(RateLimited)(Overloaded("rate_limit_error"))


async def test_cascade_stops_at_a_tier_and_on_elapsed_time(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    async def slow_unsure(_: Request) -> str:
        clock.advance(20)
        return "I'm not sure, probably 7."

    models = fakes(haiku=slow_unsure, sonnet=slow_unsure, opus=lambda r: "7")
    by_tier = await run(Cascade(("haiku", "sonnet", "opus"), stop=at_tier("sonnet"), self_report=False),
                        Request.user("x"), models, clock=clock)
    assert [a.tier for a in by_tier.record.attempts] == ["haiku", "sonnet"]
    assert by_tier.record.decision.reason.startswith("stopped at sonnet (at tier sonnet) though confidence")
    by_time = await run(Cascade(("haiku", "sonnet", "opus"), stop=elapsed_over(30), self_report=False),
                        Request.user("x"), models, clock=clock)
    assert by_time.record.decision.reason.startswith("stopped at sonnet (elapsed 40.0s > 30s)")


async def test_router_takes_the_learned_scorer(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    scorer = load_router(None)
    own = scorer.score(Request.user("hi"))
    ladder = Thresholds.of(("haiku", "opus"), (own - 1e-9,))
    models = fakes(haiku=lambda r: "h", opus=lambda r: "o")
    result = await run(ComplexityRouter(scorer, ladder), Request.user("hi"), models, clock=clock)
    assert result.record.tier == "opus"  # its score is just above the cut
    assert result.record.decision.scores["complexity"] == round(own, 4)
