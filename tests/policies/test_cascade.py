from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiered.errors import Overloaded
from tiered.models.registry import ModelSet
from tiered.policies.cascade import Cascade
from tiered.policies.triggers import hedged, low_confidence, spent_over
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.scoring.confidence import REPORT_TOOL_NAME
from tiered.types import Request, Response, Usage

REQ = Request.user("Which is larger, 9.11 or 9.9?")


def reported(answer: Any, confidence: Any, *, model: str = "claude-haiku-4-5") -> Response:
    block = {"type": "tool_use", "id": "toolu_1", "name": REPORT_TOOL_NAME,
             "input": {"answer": answer, "confidence": confidence, "reasoning": "compared decimals"}}
    return Response(id="msg_1", model=model, content=(block,), stop_reason="tool_use",
                    usage=Usage(input_tokens=200, output_tokens=40))


def _forced(req: Request) -> bool:
    return req.tool_choice == {"type": "tool", "name": REPORT_TOOL_NAME}


async def test_confident_cheap_answer_is_served_as_text(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    seen: list[Request] = []

    def haiku(req: Request) -> Response:
        seen.append(req)
        return reported("9.9 is larger.", 0.93)

    models = fakes(haiku=haiku, sonnet=lambda r: "never asked")
    result = await run(Cascade(("haiku", "sonnet")), REQ, models, clock=clock)
    resp = result.unwrap()
    assert resp.content == ({"type": "text", "text": "9.9 is larger."},) and resp.stop_reason == "end_turn"
    assert _forced(seen[0]) and seen[0].messages == REQ.messages
    rec = result.record
    assert not rec.escalated and rec.tier == "haiku" and len(rec.attempts) == 1
    assert rec.decision.scores["confidence.haiku"] == 0.93


async def test_low_self_report_escalates_with_the_same_prompt(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    sonnet_saw: list[Request] = []

    def sonnet(req: Request) -> str:
        sonnet_saw.append(req)
        return "9.9 is larger than 9.11."

    models = fakes(haiku=lambda r: reported("9.11", 0.41), sonnet=sonnet)
    result = await run(Cascade(("haiku", "sonnet"), share_reasoning=False), REQ, models, clock=clock)
    assert result.unwrap().text == "9.9 is larger than 9.11."
    rec = result.record
    assert rec.escalated and rec.tier == "sonnet"
    assert rec.attempts[1].reason == "escalated: confidence 0.41 < 0.7"
    assert sonnet_saw[0] == REQ  # the top tier gets the request exactly as the caller sent it
    assert rec.cost_usd == rec.attempts[0].cost_usd + rec.attempts[1].cost_usd > 0


async def test_hedged_answer_escalates_despite_high_self_report(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    models = fakes(haiku=lambda r: reported("I think it's probably 9.11, but I'm not sure.", 0.9),
                   sonnet=lambda r: "9.9")
    policy = Cascade(("haiku", "sonnet"), escalate_when=low_confidence(0.7) | hedged())
    result = await run(policy, REQ, models, clock=clock)
    assert result.unwrap().text == "9.9"
    assert result.record.attempts[1].reason.startswith("escalated: confidence")  # hedges cost 0.45: 0.45 < 0.7
    policy2 = Cascade(("haiku", "sonnet"), escalate_when=hedged())
    result2 = await run(policy2, REQ, models, clock=clock)
    assert result2.record.attempts[1].reason.startswith("escalated: hedged (")
    assert repr(policy) == "Cascade(('haiku', 'sonnet'), escalate_when=low_confidence(0.7) | hedged())"


async def test_invalid_report_escalates(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(haiku=lambda r: reported("", "very"), sonnet=lambda r: "9.9")
    result = await run(Cascade(("haiku", "sonnet")), REQ, models, clock=clock)
    assert result.record.escalated
    assert result.record.attempts[1].reason == "escalated: confidence 0.00 < 0.7"


async def test_stop_condition_keeps_the_cheap_answer(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(haiku=lambda r: reported("9.11", 0.3), sonnet=lambda r: "9.9")
    policy = Cascade(("haiku", "sonnet"), stop=spent_over(0.0001))
    result = await run(policy, REQ, models, clock=clock)
    assert result.unwrap().text == "9.11" and not result.record.escalated
    assert result.record.decision.reason.startswith("stopped at haiku (spent $0.0004 > $0.0001)")


async def test_share_reasoning_appends_a_delimited_draft(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    saw: list[Request] = []

    def sonnet(req: Request) -> str:
        saw.append(req)
        return "9.9"

    models = fakes(haiku=lambda r: reported("9.11", 0.2), sonnet=sonnet)
    await run(Cascade(("haiku", "sonnet"), share_reasoning=True), REQ, models, clock=clock)
    content = saw[0].messages[-1]["content"]
    assert content[0] == {"type": "text", "text": REQ.last_user_text}  # the original prompt stays first
    assert content[1]["text"].startswith('<draft_from_smaller_model tier="haiku" confidence="0.20">')
    assert "compared decimals" in content[1]["text"]


async def test_request_with_its_own_tools_gets_no_report_tool(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    tool = {"name": "lookup", "input_schema": {"type": "object"}}
    req = Request.user("look it up", tools=(tool,))
    saw: list[Request] = []

    def haiku(r: Request) -> str:
        saw.append(r)
        return "Here it is: 42."

    models = fakes(haiku=haiku, sonnet=lambda r: "x")
    result = await run(Cascade(("haiku", "sonnet")), req, models, clock=clock)
    assert saw[0].tools == (tool,) and saw[0].tool_choice is None
    assert result.unwrap().text == "Here it is: 42." and not result.record.escalated


async def test_error_at_higher_tier_keeps_cheaper_answer_degraded(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    def sonnet(_: Request) -> str:
        raise Overloaded("busy")

    models = fakes(haiku=lambda r: reported("9.11", 0.2), sonnet=sonnet)
    result = await run(Cascade(("haiku", "sonnet")), REQ, models, clock=clock)
    assert result.unwrap().text == "9.11"
    assert result.record.degraded and result.record.tier == "haiku"


async def test_three_tiers_with_per_tier_thresholds(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(haiku=lambda r: reported("a", 0.8), sonnet=lambda r: reported("b", 0.82, model="claude-sonnet-4-6"),
                   opus=lambda r: "c")
    policy = Cascade(("haiku", "sonnet", "opus"),
                     escalate_when={"haiku": low_confidence(0.85), "sonnet": low_confidence(0.8)})
    result = await run(policy, REQ, models, clock=clock)
    assert result.unwrap().text == "b"
    assert [a.tier for a in result.record.attempts] == ["haiku", "sonnet"]
