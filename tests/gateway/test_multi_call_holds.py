"""Budget holds for routes that make several calls per request: the worst case is the sum over their calls.

The bounds are checked two ways: against the calls each policy builds (the report tool a cascade adds,
the planner's own prompt, the draft a tier shares), and against what requests really cost through the
gateway and the emulator, where a cascade that always escalates, run concurrently, no longer spends
past the caller's budget.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from gateway_support import KEY, ServeGateway

from tiered.catalog import Catalog
from tiered.config import parse_config_text
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.emulator.tokens import count_input_tokens
from tiered.gateway.auth import caller_id
from tiered.gateway.redis_limits import RedisLimits
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.worst_case import call_cost_bound, route_models, route_worst_case, worst_case
from tiered.policies.delegate import Delegate
from tiered.scoring.confidence import with_report_tool
from tiered.scoring.llm import LLMScorer
from tiered.types import Request

PROMPT = "Explain how a budget hold works for a request that calls several models, with an example. " * 6
REQUEST = Request.user(PROMPT, max_tokens=200)
ESCALATING = """
[routes.default]
policy = "cascade"
tiers = ["haiku", "sonnet", "opus"]
share_reasoning = true
escalate_when = { confidence_below = 1.0 }
"""
"""A cascade that climbs to its top tier for every request: the emulator's self-reported confidence is below 1."""


def _bound(config_text: str, request: Request = REQUEST) -> Decimal:
    config = parse_config_text(config_text)
    return route_worst_case(config.routes["default"], request, config.catalog, config.policies).usd


def _tokens(request: Request) -> int:
    return count_input_tokens(request.to_body())


def _one(name: str, tokens: int, max_tokens: int = REQUEST.max_tokens) -> Decimal:
    return call_cost_bound(Catalog.load().resolve(name), tokens, max_tokens)


def test_a_direct_route_holds_one_call_as_before() -> None:
    text = '[routes.default]\npolicy = "direct"\ntarget = "opus"\n'
    single, model = worst_case(REQUEST.to_body(), [Catalog.load().resolve("opus")])
    assert model is not None and _bound(text) == single == _one("opus", _tokens(REQUEST))


def test_a_cascade_holds_each_tier_once_with_its_report_tool_and_the_shared_draft() -> None:
    plain, reported = _tokens(REQUEST), _tokens(with_report_tool(REQUEST))
    assert reported > plain  # the report tool's definition is part of a cheap tier's prompt
    without_sharing = ESCALATING.replace("share_reasoning = true", "share_reasoning = false")
    assert _bound(without_sharing) == _one("haiku", reported) + _one("sonnet", reported) + _one("opus", plain)
    # Sharing the draft: sonnet and opus each also read the tier below's answer (max_tokens at most) and its note.
    shared = _bound(ESCALATING)
    grown = _one("sonnet", REQUEST.max_tokens, 0) + _one("opus", REQUEST.max_tokens, 0)
    assert shared > _bound(without_sharing) + grown
    assert shared < _bound(without_sharing) + grown + _one("sonnet", 100, 0) + _one("opus", 100, 0)  # the note
    # More than the old single call at the priciest tier, which an escalating request overshot.
    config = parse_config_text(ESCALATING)
    ids = route_models(config.routes["default"], config.catalog, config.policies)
    assert shared > worst_case(REQUEST.to_body(), [config.catalog.models[i] for i in ids])[0]


def test_a_cascade_stopped_at_a_tier_never_holds_the_tiers_above() -> None:
    capped = ESCALATING.replace("share_reasoning = true", 'share_reasoning = false\nstop = { at_tier = "sonnet" }')
    reported = _tokens(with_report_tool(REQUEST))
    assert _bound(capped) == _one("haiku", reported) + _one("sonnet", reported)


def test_a_router_with_the_llm_scorer_holds_the_classifier_and_its_dearest_branch() -> None:
    text = ('[routes.default]\npolicy = "router"\nscorer = "llm"\nclassifier = "haiku"\n'
            'thresholds = { tiers = ["haiku", "sonnet"], cuts = [0.5] }\n'
            'per_tier = { sonnet = { policy = "fallback", chain = ["sonnet", "haiku"] } }\n')
    classify = LLMScorer("haiku").classify_request(REQUEST)
    plain = _tokens(REQUEST)
    branch = _one("sonnet", plain) + _one("haiku", plain)  # the fallback branch beats the haiku one
    assert _bound(text) == _one("haiku", _tokens(classify), classify.max_tokens) + branch


def test_a_delegate_holds_the_planner_max_steps_workers_and_the_synthesizer() -> None:
    text = ('[routes.default]\npolicy = "delegate"\nplanner = "sonnet"\nworker = "haiku"\nsynthesizer = "opus"\n'
            'step_tiers = ["haiku"]\nstep_fallback = ""\nmax_steps = 3\n')
    plan = Delegate("sonnet", "haiku", "opus", step_tiers=("haiku",)).plan_request(REQUEST)
    planner = _one("sonnet", _tokens(plan), plan.max_tokens)
    # A worker reads the request (not its system prompt) and its instruction; all instructions come from the plan.
    worker_prompt = Request(messages=({"role": "user", "content": f"\n\n<original_request>\n{PROMPT}\n"
                                                                  "</original_request>"},),
                            max_tokens=REQUEST.max_tokens, system="You carry out one step of a larger task. "
                            "Do exactly the step asked, completely and concisely.")
    workers = 3 * _one("haiku", _tokens(worker_prompt)) + _one("haiku", plan.max_tokens, 0)
    # The synthesizer reads the request, three results of max_tokens each, the instructions and the markup.
    least = _one("opus", _tokens(REQUEST) + 3 * REQUEST.max_tokens + plan.max_tokens)
    bound = _bound(text)
    synthesizer = bound - planner - workers
    assert least < synthesizer < least + _one("opus", 300, 0)  # the markup: ~30 tokens a step and the note
    # The step tiers decide the workers' price: opus steps make the same plan dearer.
    assert _bound(text.replace('step_tiers = ["haiku"]', 'step_tiers = ["haiku", "opus"]')) > bound


def test_a_fallback_chain_holds_each_entry_once_not_each_retry() -> None:
    text = '[routes.default]\npolicy = "fallback"\nchain = ["opus", "sonnet"]\nretries = 5\n'
    plain = _tokens(REQUEST)
    assert _bound(text) == _one("opus", plain) + _one("sonnet", plain)


def test_a_streamed_request_also_holds_the_prompt_of_each_retry() -> None:
    """A stream broken before its first token is billed its prompt and retried: counted only when streaming."""
    config = parse_config_text('[routes.default]\npolicy = "fallback"\nchain = ["opus", "sonnet"]\nretries = 3\n')
    plain = _tokens(REQUEST)
    whole = route_worst_case(config.routes["default"], REQUEST, config.catalog, config.policies)
    streamed = route_worst_case(config.routes["default"], REQUEST, config.catalog, config.policies, stream=True)
    assert whole.usd == _one("opus", plain) + _one("sonnet", plain) and whole.calls == 2
    retried_prompts = 3 * (_one("opus", plain, max_tokens=0) + _one("sonnet", plain, max_tokens=0))
    assert streamed.usd == whole.usd + retried_prompts and streamed.calls == 2 + 3 * 2


def test_a_delegate_request_costs_no_more_than_its_hold(emulator_url: str, serve_gateway: ServeGateway) -> None:
    text = ('\n[routes.default]\npolicy = "delegate"\nplanner = "sonnet"\nworker = "haiku"\nsynthesizer = "sonnet"\n'
            'step_tiers = ["haiku"]\nmax_steps = 4\n')
    gw = serve_gateway(emulator_url, routes=text, settings=GatewaySettings(keys=frozenset({KEY}),
                                                                            usd_per_day=Decimal(10)))
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, timeout=30,
                    json={"model": "auto", "max_tokens": 200, "messages": [{"role": "user", "content": PROMPT}]})
    assert r.status_code == 200
    (record,) = gw.records(1)
    purposes = [a.purpose for a in record.attempts]
    assert purposes[0] == "plan" and purposes[-1] == "synthesize" and "step" in purposes
    assert 0 < record.cost_usd <= _bound(text)


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_concurrent_escalating_cascades_never_spend_past_the_budget(
        kind: str, request: pytest.FixtureRequest, start_emulator: Callable[[EmulatorConfig], str],
        serve_gateway: ServeGateway) -> None:
    redis_url: str | None = request.getfixturevalue("redis_url") if kind == "redis" else None
    upstream = start_emulator(EmulatorConfig(default=Behaviour(ttft_ms=300)))  # so the requests overlap
    key = f"gw-{uuid.uuid4().hex}"
    body: dict[str, Any] = {"model": "auto", "max_tokens": 200, "messages": [{"role": "user", "content": PROMPT}]}
    hold = _bound(ESCALATING, Request.from_body(body))
    budget = hold * Decimal("3.5")  # room for three holds at once
    settings = GatewaySettings(keys=frozenset({key}), usd_per_day=budget,
                               redis_url=redis_url)
    gw = serve_gateway(upstream, routes=ESCALATING, settings=settings)
    n = 12

    def post(_: int) -> httpx2.Response:
        return httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": key}, json=body, timeout=60)

    with ThreadPoolExecutor(n) as pool:
        replies = list(pool.map(post, range(n)))
    ok = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    assert len(ok) + len(refused) == n and ok and refused
    assert any("3 calls" in r.json()["error"]["message"] for r in refused)  # the hold says what it counts
    records = gw.records(len(ok))
    assert len(records) == len(ok)
    assert all([a.model for a in rec.attempts] == ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]
               for rec in records)  # every request climbed the whole ladder
    costs = [rec.cost_usd for rec in records]
    # Each one cost more than the old hold (one call at opus), so checked that way they would overshoot;
    # none cost more than its new hold, and what was charged stays within the budget.
    config = parse_config_text(ESCALATING)
    old, _ = worst_case(Request.from_body(body).to_body(),
                        [config.catalog.resolve(t) for t in ("haiku", "sonnet", "opus")])
    assert all(old < cost <= hold for cost in costs)
    charged = sum(costs, Decimal(0))
    assert charged <= budget < n * min(costs)
    state = gw.app.core.limits

    async def read() -> tuple[Decimal, Decimal]:
        limits: Any = RedisLimits(redis_url) if redis_url else state
        try:
            return await limits.spent(caller_id(key)), await limits.held(caller_id(key))
        finally:
            if limits is not state:
                await limits.aclose()

    assert asyncio.run(read()) == (charged, Decimal(0))
