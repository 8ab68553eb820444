"""POST /v1/messages/count_tokens through the gateway: the upstream's exact count when the model can count
(the Anthropic provider, here pointed at the emulator), the estimate otherwise or when the upstream is
overloaded, the upstream's own 4xx passed back; `x-tiered-token-count` says which."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import httpx2
import pytest
from gateway_support import FALLBACK_ROUTE, KEY, ServeGateway

from tiered.catalog import Catalog
from tiered.config import parse_config_text
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.emulator.testing import running_emulator_app
from tiered.emulator.tokens import count_input_tokens
from tiered.gateway import build_gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway

UPSTREAM_KEY = "sk-ant-upstream-SECRET-0123456789"
PROMPT = [{"role": "user", "content": "How many tokens is this sentence, roughly? " * 12}]
SYSTEM = "You count carefully. " * 20
TWO_TIERS = FALLBACK_ROUTE + '\n[routes.small]\npolicy = "fallback"\nchain = ["haiku", "sonnet"]\n'


def sdk(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)


def counted(url: str, model: str = "auto", **kw: Any) -> tuple[int, str]:
    raw = sdk(url).messages.with_raw_response.count_tokens(model=model, messages=PROMPT, system=SYSTEM,  # type: ignore[arg-type]
                                                           **kw)
    return raw.parse().input_tokens, raw.headers["x-tiered-token-count"]


@contextmanager
def gateway(kind: str, upstream: str | None = None, routes: str = FALLBACK_ROUTE,
            env: dict[str, str] | None = None) -> Iterator[str]:
    base = f'base_url = "{upstream}"\n' if upstream else ""
    config = parse_config_text(f'[backend]\nkind = "{kind}"\n{base}{routes}', source="test")
    app = build_gateway(config, GatewaySettings(keys=frozenset({KEY})), sinks=[], env=env or {})
    with running_gateway(app) as url:
        yield url


def test_the_anthropic_provider_answers_the_upstreams_exact_count() -> None:
    with running_emulator_app() as (upstream, emulator), \
            gateway("anthropic", upstream, env={"ANTHROPIC_API_KEY": UPSTREAM_KEY}) as gw:
        before = sum(emulator.attempts.values())
        tokens, kind = counted(gw)
        asked = sum(emulator.attempts.values()) - before
        direct = anthropic.Anthropic(api_key="k", base_url=upstream).messages.count_tokens(
            model=Catalog.load().resolve("opus").id, messages=PROMPT, system=SYSTEM)  # type: ignore[arg-type]
    assert kind == "exact" and asked == 1  # the gateway asked the upstream, once
    assert tokens == direct.input_tokens


def test_emulator_backend_route_and_requested_model_are_exact(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    route = sdk(gw.url).messages.with_raw_response.count_tokens(model="auto", messages=PROMPT)  # type: ignore[arg-type]
    pinned = sdk(gw.url).messages.with_raw_response.count_tokens(model="haiku", messages=PROMPT)  # type: ignore[arg-type]
    assert route.headers["x-tiered-token-count"] == pinned.headers["x-tiered-token-count"] == "exact"
    assert route.headers["x-tiered-route"] == "default" and pinned.headers["x-tiered-route"].startswith("model/")
    assert route.parse().input_tokens == pinned.parse().input_tokens > 0


def test_the_replay_backend_answers_the_estimate() -> None:
    with gateway("replay") as gw:
        tokens, kind = counted(gw)
    assert kind == "estimate"
    assert tokens == count_input_tokens({"model": "auto", "messages": PROMPT, "system": SYSTEM})


def test_the_count_is_for_the_routes_dearest_model_or_the_requested_one() -> None:
    # only sonnet fails with a 400, so a count that comes back 400 was asked of sonnet
    config = EmulatorConfig(per_model={"sonnet": Behaviour(error_rates={"400": 1.0})})
    with running_emulator_app(config) as (upstream, _), gateway("emulator", upstream, routes=TWO_TIERS) as gw:
        with pytest.raises(anthropic.BadRequestError):
            counted(gw, model="tiered/small")  # haiku and sonnet: sonnet's count
        assert counted(gw, model="auto")[1] == "exact"  # opus, sonnet, haiku: opus's count
        assert counted(gw, model="haiku")[1] == "exact"  # the requested model, not its fallbacks


def test_an_overloaded_upstream_falls_back_to_the_estimate_and_warns_without_the_key(
        caplog: pytest.LogCaptureFixture) -> None:
    config = EmulatorConfig(per_model={"opus": Behaviour(error_rates={"529": 1.0})})
    with running_emulator_app(config) as (upstream, emulator), \
            gateway("anthropic", upstream, env={"ANTHROPIC_API_KEY": UPSTREAM_KEY}) as gw, \
            caplog.at_level(logging.WARNING, logger="tiered.gateway"):
        tokens, kind = counted(gw)
        assert emulator.attempts == {"0": 1}  # asked once, no retry (max_retries=0)
    assert kind == "estimate"
    assert tokens == count_input_tokens({"model": "auto", "messages": PROMPT, "system": SYSTEM})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("count_tokens" in w and "overloaded_error" in w for w in warnings)
    assert UPSTREAM_KEY not in caplog.text


def test_an_upstream_400_comes_back_as_a_400_in_the_apis_shape() -> None:
    config = EmulatorConfig(per_model={"opus": Behaviour(error_rates={"400": 1.0})})
    with running_emulator_app(config) as (upstream, _), \
            gateway("anthropic", upstream, env={"ANTHROPIC_API_KEY": UPSTREAM_KEY}) as gw:
        r = httpx2.post(f"{gw}/v1/messages/count_tokens", headers={"x-api-key": KEY},
                        json={"model": "auto", "messages": PROMPT})
    assert r.status_code == 400
    err = r.json()
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert err["request_id"] == r.headers["request-id"]
    assert UPSTREAM_KEY not in r.text


def test_a_count_the_gateway_refuses_never_reaches_the_upstream() -> None:
    with running_emulator_app() as (upstream, emulator), gateway("emulator", upstream) as gw:
        before = dict(emulator.attempts)
        r = httpx2.post(f"{gw}/v1/messages/count_tokens", headers={"x-api-key": KEY},
                        json={"model": "auto", "messages": []})
        assert emulator.attempts == before
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
