"""The worst case a budget hold is priced at: which models a route could call, and one call's bound."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.catalog import Catalog
from tiered.config import parse_config_text
from tiered.emulator.tokens import count_input_tokens
from tiered.gateway.auth import caller_id
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.worst_case import call_cost_bound, route_models, worst_case
from tiered.pricing import format_usd
from tiered.routes import DEFAULT_CONFIG

ROUTES = """
[policies.cheap]
policy = "cascade"
tiers = ["haiku", "sonnet"]

[policies.scored]
policy = "router"
scorer = "llm"
classifier = "haiku"
thresholds = { tiers = ["haiku", "sonnet"], cuts = [0.5] }

[routes.default]
policy = "fallback"
chain = ["cheap", { policy = "taskmap", tasks = { review = "scored" }, default = "haiku" }]

[routes.team]
policy = "delegate"
planner = "sonnet"
worker = "haiku"
synthesizer = "sonnet"
step_tiers = ["haiku"]
step_fallback = ""
"""


def _ids(config_text: str, route: str) -> set[str]:
    config = parse_config_text(config_text)
    return set(route_models(config.routes[route], config.catalog, config.policies))


def test_route_models_follow_named_policies_and_nested_specs() -> None:
    assert _ids(ROUTES, "default") == {"claude-haiku-4-5", "claude-sonnet-4-6"}
    assert _ids(ROUTES, "team") == {"claude-haiku-4-5", "claude-sonnet-4-6"}
    # The built-in route: a packaged task map (tiers only), the learned router's tiers, then sonnet, haiku.
    catalog = Catalog.load()
    assert _ids(DEFAULT_CONFIG, "default") == {catalog.resolve(t).id for t in catalog.tiers}


def test_an_agents_folder_may_name_any_model() -> None:
    text = '[routes.default]\npolicy = "delegate"\nagents_dir = "agents"\n'
    assert _ids(text, "default") == set(Catalog.load().models)


def test_the_bound_is_the_dearest_input_rate_and_max_tokens_at_the_priciest_model() -> None:
    catalog = Catalog.load()
    body = {"model": "x", "max_tokens": 300, "system": "Be brief.",
            "messages": [{"role": "user", "content": "How do budget holds work? " * 40}]}
    tokens = count_input_tokens(body)
    models = [catalog.resolve("haiku"), catalog.resolve("opus"), catalog.resolve("sonnet")]
    bound, model = worst_case(body, models)
    opus = catalog.resolve("opus").prices
    assert model is catalog.resolve("opus")
    assert bound == call_cost_bound(model, tokens, 300) == (tokens * opus.cache_write_1h + 300 * opus.output) / 10**6
    assert all(call_cost_bound(m, tokens, 300) < bound for m in models if m is not model)


def test_a_refusal_says_what_the_worst_case_is_and_what_remains(emulator_url: str,
                                                                serve_gateway: ServeGateway) -> None:
    catalog = Catalog.load()
    body = {"model": "opus", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
    chain = [catalog.resolve(t) for t in catalog.tiers]  # a pinned model may fall back along the ladder,
    tokens = count_input_tokens(body)  # and each entry may be billed for a stream that broke: the sum of the chain
    worst = sum((call_cost_bound(m, tokens, 1000) for m in chain), Decimal(0))
    budget = worst * 2
    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY}), usd_per_day=budget))
    asyncio.run(gw.app.core.limits.spend(caller_id(KEY), worst * Decimal("1.5")))
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json=body)
    message = r.json()["error"]["message"]
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert "would be exceeded by this request's worst case" in message and "remaining" in message
    assert f"${format_usd(worst.quantize(Decimal('0.000001')))}:" in message  # the hold it asked for
    assert r.headers["x-should-retry"] == "false"  # nothing in flight would make room today
    smaller = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json={**body, "max_tokens": 16})
    assert smaller.status_code == 200  # the same prompt fits with a smaller max_tokens


def test_output_beyond_the_models_max_output_is_not_held() -> None:
    """The API refuses a max_tokens above the model's max_output (at no cost), so the bound stops there."""
    opus = Catalog.load().resolve("opus")
    at_cap = call_cost_bound(opus, 100, opus.max_output)
    assert call_cost_bound(opus, 100, 10**30) == at_cap
    assert call_cost_bound(opus, 100, opus.max_output - 1) < at_cap


def test_a_huge_max_tokens_under_a_budget_is_the_apis_400_not_a_500(emulator_url: str,
                                                                      serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY}), usd_per_day=Decimal(10)))
    body = {"model": "opus", "max_tokens": 10**30, "messages": [{"role": "user", "content": "hi"}]}
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error" and "max_tokens" in r.json()["error"]["message"]
