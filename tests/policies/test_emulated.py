"""Every pattern against tiered's emulator over real HTTP (AnthropicModel), with injected faults and latency."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from tiered.catalog import Catalog
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.models.registry import ModelSet
from tiered.policies.affinity import MemoryAffinity
from tiered.policies.bypass import Bypass
from tiered.policies.cascade import Cascade
from tiered.policies.delegate import MAKE_PLAN, Delegate
from tiered.policies.fallback import Fallback
from tiered.policies.router import ComplexityRouter
from tiered.policies.triggers import hedged, low_confidence
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.runtime.health import BreakerConfig, Breakers
from tiered.scoring.base import Thresholds
from tiered.scoring.confidence import ConfidenceEstimator, Reading, with_report_tool
from tiered.scoring.llm import CLASSIFY_TOOL, LLM_THRESHOLDS, LLMScorer
from tiered.types import Request

OPUS, SONNET, HAIKU = "claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5"
Build = Callable[[EmulatorConfig], ModelSet]


@pytest.fixture
async def emulated(start_emulator: Callable[[EmulatorConfig], str], catalog: Catalog) -> AsyncIterator[Build]:
    built: list[ModelSet] = []

    def build(config: EmulatorConfig) -> ModelSet:
        models = ModelSet.build(catalog, backend="emulator", base_url=start_emulator(config))
        built.append(models)
        return models

    yield build
    for models in built:
        await models.aclose()


async def test_fallback_answers_every_request_through_529s_and_429s(emulated: Build) -> None:
    flaky = Behaviour(error_rates={"529": 0.3, "429": 0.1}, retry_after_ms=200)
    models = emulated(EmulatorConfig(seed=11, per_model={OPUS: flaky}))
    clock = ManualClock()
    policy = Fallback("opus", "sonnet", retries=2, health=Breakers(BreakerConfig(failure_threshold=50), clock=clock))
    waits_429: list[float] = []
    served = {OPUS: 0, SONNET: 0}
    for i in range(50):
        before = len(clock.slept)
        result = await run(policy, Request.user(f"question {i}", max_tokens=32), models, clock=clock,
                           sleep=clock.sleep)
        served[result.unwrap().model] += 1
        retried = [a for a, nxt in zip(result.record.attempts, result.record.attempts[1:], strict=False)
                   if nxt.reason.startswith("retry")]
        sleeps = clock.slept[before:]
        assert len(sleeps) == len(retried)
        waits_429 += [s for a, s in zip(retried, sleeps, strict=True) if a.outcome == "rate_limit_error"]
        for a, s in zip(retried, sleeps, strict=True):
            if a.outcome == "overloaded_error":
                assert 0.375 <= s <= 2.0  # back-off with jitter: no retry-after on an injected 529
    assert served[OPUS] > 30 and served[OPUS] + served[SONNET] == 50
    assert waits_429 and all(w == 0.2 for w in waits_429)  # retry-after-ms honoured exactly


async def test_breaker_enters_and_leaves_cooldown(emulated: Build) -> None:
    down = emulated(EmulatorConfig(per_model={OPUS: Behaviour(error_rates={"529": 1.0})}))
    up = emulated(EmulatorConfig())
    clock = ManualClock()
    breakers = Breakers(BreakerConfig(failure_threshold=3, cooldown_s=30), clock=clock)
    policy = Fallback("opus", "sonnet", retries=0, health=breakers)
    for _ in range(3):
        r = await run(policy, Request.user("hi", max_tokens=16), down, clock=clock, sleep=clock.sleep)
        assert r.unwrap().model == SONNET
    assert breakers.state("opus").status == "open"
    skipped = await run(policy, Request.user("hi", max_tokens=16), down, clock=clock, sleep=clock.sleep)
    assert [a.model for a in skipped.record.attempts] == [SONNET]  # opus cooling down: not even called
    clock.advance(31)
    probe = await run(policy, Request.user("hi", max_tokens=16), up, clock=clock, sleep=clock.sleep)
    assert probe.unwrap().model == OPUS and breakers.state("opus").status == "closed"


async def _reading(models: ModelSet, prompt: str) -> Reading:
    resp = await models.resolve("haiku").complete(with_report_tool(Request.user(prompt, max_tokens=256)))
    return ConfidenceEstimator().read(resp, asked_report=True)


async def test_cascade_escalates_on_low_report_and_hedges_only(emulated: Build) -> None:
    models = emulated(EmulatorConfig())
    found: dict[str, str] = {}
    for i in range(300):  # classify prompts by what the emulator's haiku will report for them
        prompt = f"Question number {i}: what should we do?"
        r = await _reading(models, prompt)
        f = r.features
        kind = ("sure" if r.value >= 0.7 and not f.hedges else "unsure" if (f.self_report or 1) < 0.6 and not f.hedges
                else "hedged" if f.hedges and r.value >= 0.7 else None)
        if kind:
            found.setdefault(kind, prompt)
        if len(found) == 3:
            break
    assert set(found) == {"sure", "unsure", "hedged"}
    policy = Cascade(("haiku", "sonnet"), escalate_when=low_confidence(0.7) | hedged())
    out = {k: (await run(policy, Request.user(p, max_tokens=256), models)).record for k, p in found.items()}
    assert not out["sure"].escalated and out["sure"].model == HAIKU
    assert out["unsure"].escalated and out["unsure"].attempts[1].reason.startswith("escalated: confidence 0.")
    assert out["hedged"].escalated and out["hedged"].attempts[1].reason.startswith("escalated: hedged (")
    assert all(r.model == SONNET for k, r in out.items() if k != "sure")


async def test_delegate_runs_steps_in_parallel_and_reports_a_failed_step(emulated: Build) -> None:
    # Seed 0: of the first three haiku requests, exactly one draws the injected 400 (which is not retried).
    flaky_slow = Behaviour(ttft_ms=300, error_rates={"400": 0.5})
    models = emulated(EmulatorConfig(seed=0, per_model={HAIKU: flaky_slow}))
    policy = Delegate(planner="opus", worker="haiku", synthesizer="opus", concurrency=4)
    prompt = ""
    for i in range(100):  # a request the emulated planner splits into 3 steps
        candidate = f"Summarise documents set {i}"
        plan = await models.resolve("opus").complete(policy.plan_request(Request.user(candidate)))
        if len((plan.tool_input(MAKE_PLAN) or {}).get("steps") or []) == 3:
            prompt = candidate
            break
    assert prompt
    started = time.perf_counter()
    result = await run(policy, Request.user(prompt, max_tokens=64), models)
    wall = time.perf_counter() - started
    rec = result.record
    steps = [a for a in rec.attempts if a.purpose == "step"]
    assert len(steps) == 3 and result.unwrap().model == OPUS
    assert wall < sum(a.latency_ms for a in steps) / 1000  # two 300 ms steps (and a fast 400) overlapped
    failed = [a.reason.split(":")[0] for a in steps if a.outcome == "invalid_request_error"]
    assert len(failed) == 1
    assert rec.decision.reason == f"delegated 3 steps; failed steps: {failed[0][5:]} (invalid_request_error)"
    assert rec.decision.scores["failed_steps"] == 1


async def test_llm_router_counts_the_classifier(emulated: Build) -> None:
    models = emulated(EmulatorConfig())
    result = await run(ComplexityRouter(LLMScorer("haiku"), LLM_THRESHOLDS), Request.user("Sort this list"), models)
    classify, answer = result.record.attempts
    assert classify.purpose == "classify" and classify.model == HAIKU and classify.cost_usd > 0
    assert classify.latency_ms > 0 and result.record.cost_usd == classify.cost_usd + answer.cost_usd
    label = result.record.decision.scores["complexity"]
    assert answer.tier == LLM_THRESHOLDS.tier_for(label)


async def test_affinity_holds_across_turns(emulated: Build) -> None:
    models = emulated(EmulatorConfig())
    scores = {"Design our sharding scheme.": 0.9, "ok, and the tests?": 0.1}
    ladder = Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6))
    router = ComplexityRouter(lambda r: scores[r.last_user_text], ladder, affinity=MemoryAffinity())
    first = await run(router, Request.user("Design our sharding scheme.", max_tokens=32), models)
    history = (*first.unwrap().to_api()["content"],)
    turn2 = Request(messages=({"role": "user", "content": "Design our sharding scheme."},
                              {"role": "assistant", "content": list(history)},
                              {"role": "user", "content": "ok, and the tests?"}), max_tokens=32)
    second = await run(router, turn2, models)
    assert first.record.model == second.record.model == OPUS
    alone = await run(router, Request.user("ok, and the tests?", max_tokens=32), models)
    assert alone.record.model == HAIKU  # the same text as a new conversation is scored on its own


async def _label(models: ModelSet, scorer: LLMScorer, prompt: str) -> str:
    resp = await models.resolve("haiku").complete(scorer.classify_request(Request.user(prompt)))
    return str((resp.tool_input(CLASSIFY_TOOL) or {}).get("difficulty"))


async def test_bypass_engages_on_a_lopsided_mix_and_lifts(emulated: Build) -> None:
    models = emulated(EmulatorConfig())
    scorer = LLMScorer("haiku")
    by_label: dict[str, list[str]] = {"simple": [], "hard": []}
    for i in range(200):
        prompt = f"Task {i}"
        label = await _label(models, scorer, prompt)
        if label in by_label and len(by_label[label]) < 12:
            by_label[label].append(prompt)
    bypass = Bypass(ComplexityRouter(scorer, LLM_THRESHOLDS), share=0.8, window=10, min_samples=10, probe_every=2)
    for p in by_label["simple"][:10]:
        await run(bypass, Request.user(p, max_tokens=16), models)
    assert bypass.state().engaged and bypass.state().reason == "100% of last 10 on haiku"
    skipped = await run(bypass, Request.user(by_label["hard"][0], max_tokens=16), models)
    assert [a.purpose for a in skipped.record.attempts] == ["answer"]
    assert skipped.record.decision.reason == "bypass: 100% of last 10 on haiku"
    for p in by_label["hard"][1:12]:
        await run(bypass, Request.user(p, max_tokens=16), models)
        if not bypass.state().engaged:
            break
    assert not bypass.state().engaged  # the probes saw the hard traffic
