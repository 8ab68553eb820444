from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tiered.catalog import Catalog
from tiered.datasets import Dataset
from tiered.errors import ConfigError
from tiered.evaluation.replay import ClaudePricing, DatasetPricing, ReplayDriver, TierMap, response_text
from tiered.policies.base import Call, Flow, Parallel, Result, Sleep
from tiered.records import Decision
from tiered.types import Request

TIERS = TierMap({"haiku": "small-7b", "sonnet": "mid-70b", "opus": "big-1t"})  # as in conftest
PRICES = {"haiku": (1, 5), "sonnet": (3, 15), "opus": (5, 25)}  # the catalog's Claude prices per Mtok


def _claude_cost(tier: str, inp: int, out: int) -> float:
    pi, po = PRICES[tier]
    return (inp * pi + out * po) / 1e6


class EscalateUnlessSure:
    """A tiny hand-written policy: ask haiku; if it does not answer "sure", back off and ask opus."""

    def flow(self, request: Request) -> Flow:
        first = yield Call("haiku", request)
        if first.ok and first.response.text == "sure":
            return Result(first, Decision("t", "haiku", "sure"))
        yield Sleep(0.25)
        second = yield Call("claude-opus-4-7", request, reason="escalated")
        return Result(second, Decision("t", "opus", "escalated"))


class AskAll:
    def flow(self, request: Request) -> Flow:
        outs = yield Parallel(tuple(Call(t, request) for t in ("haiku", "sonnet", "opus")))
        return Result(outs[1], Decision("t", "sonnet", "middle"))


def test_tier_map_parse_and_resolution() -> None:
    tm = TierMap.parse("haiku=a/b, opus=c")
    assert tm.names == ("haiku", "opus")
    catalog = Catalog.load()
    assert tm.model_for("haiku") == ("haiku", "a/b")
    assert tm.model_for("claude-opus-4-7", catalog) == ("opus", "c")
    assert tm.model_for("c") == ("opus", "c")
    assert tm.model_for("sonnet", catalog) is None
    with pytest.raises(ConfigError):
        TierMap.parse("haiku")


def test_escalating_policy_costs_the_hand_computed_sum(synthetic: Dataset, synthetic_rows: list[Any]) -> None:
    driver = ReplayDriver(synthetic, TIERS, ClaudePricing(Catalog.load()), catalog=Catalog.load())
    runs = [driver.run(EscalateUnlessSure(), item) for item in synthetic]
    # q0: small passes ("sure") -> haiku only. Others: haiku then opus.
    expected = _claude_cost("haiku", 1000, 100)
    for _, _, _, inp, outs in synthetic_rows[1:]:
        expected += _claude_cost("haiku", inp, outs[0]) + _claude_cost("opus", inp, outs[2])
    assert sum(r.cost_usd for r in runs) == pytest.approx(expected)
    assert [r.tier for r in runs] == ["haiku", "opus", "opus", "opus"]
    assert [r.quality for r in runs] == [1.0, 1.0, 1.0, 0.0]
    assert [r.escalated for r in runs] == [False, True, True, True]
    # simulated latency: the sleep counts, no wall time passes
    lat = driver.latency
    assert runs[1].latency_ms == pytest.approx(lat.latency_ms("haiku", 100) + 250 + lat.latency_ms("opus", 100))
    assert runs[1].result.outcome.attempt.cost_usd == Decimal(2000 * 5 + 100 * 25) / Decimal(1_000_000)


def test_parallel_is_answered_in_order_and_dataset_pricing(synthetic: Dataset) -> None:
    driver = ReplayDriver(synthetic, TIERS, DatasetPricing(synthetic))
    run = driver.run(AskAll(), synthetic.items[1])
    assert run.calls == 3
    assert run.tier == "sonnet"
    assert run.quality == 1.0
    assert run.cost_usd == pytest.approx(0.001 + 0.002 + 0.003)


def test_a_missing_model_answers_no_answer(synthetic: Dataset) -> None:
    tiers = TierMap({"haiku": "nobody", "opus": "big-1t"})
    driver = ReplayDriver(synthetic, tiers, DatasetPricing(synthetic), catalog=Catalog.load())
    run = driver.run(EscalateUnlessSure(), synthetic.items[0])
    assert run.result.outcome.ok
    assert (run.tier, run.calls, run.answer_tiers) == ("opus", 2, ("opus",))
    assert run.cost_usd == pytest.approx(0.003)  # the failed haiku call costs nothing


def test_routerbench_responses_are_unwrapped() -> None:
    assert response_text("['A\\n']") == "A\n"
    assert response_text(None).startswith("[replay")
    assert response_text("plain") == "plain"


def test_complexity_router_with_known_scores_picks_the_thresholds_tiers(synthetic: Dataset,
                                                                       synthetic_rows: list[Any]) -> None:
    from tiered.policies.router import ComplexityRouter
    from tiered.scoring.base import Thresholds

    scores = {"prompt q0": 0.1, "prompt q1": 0.5, "prompt q2": 0.9, "prompt q3": 0.3}
    router = ComplexityRouter(lambda req: scores[req.prompt_text], Thresholds.of(("haiku", "sonnet", "opus"),
                                                                                   (0.4, 0.8)))
    catalog = Catalog.load()
    driver = ReplayDriver(synthetic, TIERS, ClaudePricing(catalog), catalog=catalog)
    runs = [driver.run(router, item) for item in synthetic]
    assert [r.tier for r in runs] == ["haiku", "sonnet", "opus", "haiku"]
    assert [r.quality for r in runs] == [1.0, 1.0, 1.0, 0.0]
    assert [r.result.decision.scores["complexity"] for r in runs] == [0.1, 0.5, 0.9, 0.3]
    by_id = {row[0]: row for row in synthetic_rows}
    expected = (_claude_cost("haiku", 1000, by_id["q0"][4][0]) + _claude_cost("sonnet", 2000, by_id["q1"][4][1])
                + _claude_cost("opus", 400, by_id["q2"][4][2]) + _claude_cost("haiku", 800, by_id["q3"][4][0]))
    assert sum(r.cost_usd for r in runs) == pytest.approx(expected)
    assert not any(r.escalated for r in runs)
