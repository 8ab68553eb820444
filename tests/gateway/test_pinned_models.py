"""A pinned model is served as asked or refused clearly, never swapped for another (issue 8, item 6)."""

from __future__ import annotations

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.gateway.settings import GatewaySettings

HI = [{"role": "user", "content": "Say hello in one short sentence."}]


def _ask(url: str, model: str) -> httpx2.Response:
    return httpx2.post(f"{url}/v1/messages", headers={"x-api-key": KEY},
                       json={"model": model, "max_tokens": 32, "messages": HI})


def test_current_and_dated_models_are_served_as_themselves(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    for asked, served in (("claude-opus-4-1-20250805", "claude-opus-4-1"), ("claude-opus-4-1", "claude-opus-4-1"),
                          ("claude-opus-4-5-20251101", "claude-opus-4-5"), ("claude-opus-4-6", "claude-opus-4-6"),
                          ("claude-sonnet-4-5", "claude-sonnet-4-5"), ("claude-opus-5-5", "claude-opus-5-5"),
                          ("claude-sonnet-5-5", "claude-sonnet-5-5"), ("claude-haiku-5-5", "claude-haiku-5-5")):
        r = _ask(gw.url, asked)
        assert r.status_code == 200, (asked, r.text)
        assert r.headers["x-tiered-model"] == served and r.json()["model"] == served, asked


def test_a_model_without_a_price_says_so_in_a_header(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    unpriced = _ask(gw.url, "claude-opus-5-5")
    assert unpriced.status_code == 200
    assert unpriced.headers["x-tiered-price-unknown"] == "claude-opus-5-5"
    priced = _ask(gw.url, "claude-opus-4-7")
    assert "x-tiered-price-unknown" not in priced.headers and float(priced.headers["x-tiered-cost-usd"]) > 0
    with httpx2.stream("POST", f"{gw.url}/v1/messages", headers={"x-api-key": KEY},
                       json={"model": "claude-haiku-5-5", "max_tokens": 32, "messages": HI, "stream": True}) as s:
        assert s.status_code == 200 and s.headers["x-tiered-price-unknown"] == "claude-haiku-5-5"
        s.read()


def test_a_budgeted_key_cannot_spend_on_an_unpriced_model(emulator_url: str, serve_gateway: ServeGateway) -> None:
    from decimal import Decimal

    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY}), usd_per_day=Decimal("5")))
    r = _ask(gw.url, "claude-opus-5-5")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert "no price" in r.json()["error"]["message"]
    assert _ask(gw.url, "claude-opus-4-7").status_code == 200


def test_a_claude_model_the_catalog_lacks_is_refused_not_swapped(emulator_url: str,
                                                                   serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    r = _ask(gw.url, "claude-opus-4-8")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    message = r.json()["error"]["message"]
    assert "'claude-opus-4-8' is not in tiered's model catalog" in message and "TIERED_CATALOG" in message
    assert "x-tiered-model" not in r.headers


def test_an_older_model_name_is_not_an_alias_of_a_newer_one(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    r = _ask(gw.url, "claude-3-5-haiku-latest")  # Claude 3.5 Haiku: retired, and not Haiku 4.5 under another name
    assert r.status_code == 404 and "not in tiered's model catalog" in r.json()["error"]["message"]
