from __future__ import annotations

from collections.abc import Callable

from tiered.errors import Overloaded
from tiered.models.registry import ModelSet
from tiered.policies.affinity import MemoryAffinity, conversation_key
from tiered.policies.fallback import Fallback
from tiered.policies.router import ComplexityRouter
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.scoring.base import Thresholds
from tiered.scoring.heuristic import HeuristicScorer
from tiered.scoring.llm import CLASSIFY_TOOL, LLM_THRESHOLDS, LLMScorer
from tiered.types import Request, Response, Usage

LADDER = Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6))


def label(difficulty: str) -> Response:
    block = {"type": "tool_use", "id": "t", "name": CLASSIFY_TOOL, "input": {"difficulty": difficulty}}
    return Response(id="c", model="claude-haiku-4-5", content=(block,), stop_reason="tool_use",
                    usage=Usage(input_tokens=180, output_tokens=12))


def answers(tier: str) -> Callable[[Request], str | Response]:
    def fn(req: Request) -> str | Response:
        if req.tool_choice == {"type": "tool", "name": CLASSIFY_TOOL}:
            return label("hard" if "architecture" in req.last_user_text else "simple")
        return f"answer from {tier}"

    return fn


async def test_score_maps_through_thresholds(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(haiku=answers("haiku"), sonnet=answers("sonnet"), opus=answers("opus"))
    router = ComplexityRouter(lambda r: 0.45, LADDER)
    result = await run(router, Request.user("x"), models, clock=clock)
    assert result.unwrap().text == "answer from sonnet"
    assert result.record.decision.reason == "score 0.45 -> sonnet"
    assert result.record.decision.scores == {"complexity": 0.45}


async def test_llm_scorer_call_is_an_attempt_with_its_cost(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(haiku=answers("haiku"), sonnet=answers("sonnet"), opus=answers("opus"))
    router = ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS)
    result = await run(router, Request.user("Choose an architecture for our event pipeline."), models, clock=clock)
    rec = result.record
    assert result.unwrap().text == "answer from opus"
    classify, answer = rec.attempts
    assert (classify.purpose, classify.tier, answer.tier) == ("classify", "haiku", "opus")
    assert classify.cost_usd > 0 and rec.cost_usd == classify.cost_usd + answer.cost_usd
    classify_req = models["claude-haiku-4-5"].requests[0]  # type: ignore[attr-defined]
    assert classify_req.max_tokens == 100 and classify_req.tools[0]["name"] == CLASSIFY_TOOL
    assert repr(router) == ("ComplexityRouter(LLMScorer('haiku'), "
                            "Thresholds(('haiku', 'sonnet', 'opus'), (0.333333, 0.666667)))")


async def test_llm_scorer_failure_falls_back_to_heuristic(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    def haiku(req: Request) -> str:
        if req.tool_choice is not None:
            raise Overloaded("busy")
        return "answer from haiku"

    models = fakes(haiku=haiku, sonnet=answers("sonnet"), opus=answers("opus"))
    result = await run(ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS), Request.user("hi"), models, clock=clock)
    assert result.unwrap().text == "answer from haiku"
    assert result.record.attempts[0].outcome == "overloaded_error"
    assert result.record.decision.scores["complexity"] == round(HeuristicScorer().score(Request.user("hi")), 4)


async def test_per_tier_child_policy(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    def opus(_: Request) -> str:
        raise Overloaded("busy")

    models = fakes(haiku=answers("haiku"), sonnet=answers("sonnet"), opus=opus)
    router = ComplexityRouter(lambda r: 0.9, LADDER, tiers={"opus": Fallback("opus", "sonnet", retries=0)})
    result = await run(router, Request.user("x"), models, clock=clock)
    assert result.unwrap().text == "answer from sonnet"
    assert result.record.degraded and result.record.fell_back
    assert result.record.decision.reason.startswith("score 0.90 -> opus; fell back to sonnet")


async def test_affinity_holds_a_conversation_at_the_tier_it_reached(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    models = fakes(haiku=answers("haiku"), sonnet=answers("sonnet"), opus=answers("opus"))
    scores = iter([0.9, 0.1, 0.1])
    store = MemoryAffinity(clock=clock)
    router = ComplexityRouter(lambda r: next(scores), LADDER, affinity=store, affinity_ttl_s=600)
    turn1 = Request.user("Design the storage layer.")
    first = await run(router, turn1, models, clock=clock)
    assert first.record.tier == "opus"
    turn2 = Request(messages=(*turn1.messages, {"role": "assistant", "content": "..."},
                              {"role": "user", "content": "thanks"}))
    assert conversation_key(turn2) == conversation_key(turn1)
    second = await run(router, turn2, models, clock=clock)
    assert second.record.tier == "opus" and second.record.attempts[0].tier == "opus"
    assert second.record.decision.reason == "affinity: conversation reached opus; not scored"
    clock.advance(601)  # the affinity expired: the turn is scored on its own again
    third = await run(router, turn2, models, clock=clock)
    assert third.record.tier == "haiku"


async def test_affinity_by_conversation_id(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(haiku=answers("haiku"), sonnet=answers("sonnet"), opus=answers("opus"))
    scores = iter([0.5, 0.1])
    router = ComplexityRouter(lambda r: next(scores), LADDER, affinity=MemoryAffinity(clock=clock))
    await run(router, Request.user("a", conversation_id="c1"), models, clock=clock)
    later = await run(router, Request.user("b", conversation_id="c1"), models, clock=clock)
    assert later.record.tier == "sonnet"
    assert later.record.decision.reason == "affinity: conversation reached sonnet (score 0.10 -> haiku)"


def test_heuristic_scorer_orders_easy_below_hard() -> None:
    s = HeuristicScorer()
    easy = s.score(Request.user("Classify the intent: 'where is my parcel?'"))
    hard = s.score(Request.user(
        "Explain why this design deadlocks and compare two architectures that avoid it, step by step:\n"
        "1. Profile the lock order\n2. Then refactor\n```python\ndef f():\n    with a, b:\n        return g()\n```\n"
        "Prove the new order is free of cycles."))
    assert 0.0 <= easy < 0.3 < 0.6 < hard <= 1.0
