from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from tiered.models.registry import ModelSet
from tiered.policies.bypass import Bypass
from tiered.policies.router import ComplexityRouter
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.scoring.base import Thresholds
from tiered.scoring.llm import CLASSIFY_TOOL, LLM_THRESHOLDS, LLMScorer
from tiered.types import Request, Response, Usage

LADDER = Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6))


def _says(tier: str) -> Callable[[Request], str]:
    return lambda _: f"from {tier} " + "x" * 400


async def test_engages_on_a_lopsided_mix_probes_and_lifts(
    fakes: Callable[..., ModelSet], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    models = fakes(haiku=_says("haiku"), sonnet=_says("sonnet"), opus=_says("opus"))
    score = [0.1]
    scored: list[float] = []

    def scorer(_: Request) -> float:
        scored.append(score[0])
        return score[0]

    bypass = Bypass(ComplexityRouter(scorer, LADDER), share=0.8, window=10, min_samples=10, probe_every=5)
    caplog.set_level(logging.INFO, logger="tiered.policies.bypass")
    for _ in range(10):
        await run(bypass, Request.user("q"), models, clock=clock)
    state = bypass.state()
    assert state.engaged and state.tier == "haiku" and state.reason == "100% of last 10 on haiku"
    assert "router bypass engaged" in caplog.text

    result = await run(bypass, Request.user("q"), models, clock=clock)
    assert result.record.decision.reason == "bypass: 100% of last 10 on haiku"
    assert result.record.tier == "haiku" and len(scored) == 10  # not scored

    score[0] = 0.9  # traffic turns hard: only the probes (1 in 5) see it
    reasons: list[str] = []
    while bypass.state().engaged and len(reasons) < 50:
        reasons.append((await run(bypass, Request.user("q"), models, clock=clock)).record.decision.reason)
    assert [r for r in reasons if r.endswith("[bypass probe]")] == ["score 0.90 -> opus [bypass probe]"] * 2
    assert len(scored) == 12 and not bypass.state().engaged  # 8 of 10 on haiku is no longer more than 80%
    assert "router bypass lifted" in caplog.text
    final = await run(bypass, Request.user("q"), models, clock=clock)
    assert final.record.tier == "opus" and final.record.decision.reason == "score 0.90 -> opus"
    for _ in range(6):  # every request is scored again; the window fills with opus
        await run(bypass, Request.user("q"), models, clock=clock)
    assert bypass.state().reason == "90% of last 10 on opus"


def _label(req: Request) -> Response | str:
    if req.tool_choice == {"type": "tool", "name": CLASSIFY_TOOL}:
        block = {"type": "tool_use", "id": "t", "name": CLASSIFY_TOOL,
                 "input": {"difficulty": "hard" if "hard" in req.last_user_text else "medium"}}
        return Response(id="c", model="claude-haiku-4-5", content=(block,), stop_reason="tool_use",
                        usage=Usage(input_tokens=2000, output_tokens=20))
    return "ok"


async def test_engages_when_scoring_costs_more_than_it_saves(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    # Half the traffic is hard, half medium: no tier has 80%, but the classifier reads 2000 tokens to save
    # the difference between a 1-token sonnet answer and the same at opus prices.
    models = fakes(haiku=_label, sonnet=lambda r: "ok", opus=lambda r: "ok")
    bypass = Bypass(ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS), window=10, min_samples=10)
    for i in range(10):
        await run(bypass, Request.user("hard" if i % 2 else "easy"), models, clock=clock)
    state = bypass.state()
    assert state.engaged and state.reason.startswith("scoring cost $")
    assert state.overhead_usd > state.savings_usd > 0
    result = await run(bypass, Request.user("hard"), models, clock=clock)
    assert [a.purpose for a in result.record.attempts] == ["answer"]  # no classifier call any more
