"""The operator's endpoints: `GET /v1/tiered/stats` and the dashboard's data, behind an admin key."""

from __future__ import annotations

from dataclasses import replace

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.gateway.auth import caller_id
from tiered.gateway.settings import GatewaySettings

ADMIN = "adm-test-key-0123456789"
BODY = {"model": "haiku", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
SETTINGS = GatewaySettings(keys=frozenset({KEY}), admin_keys=frozenset({ADMIN}))


def test_stats_endpoint_needs_an_admin_key(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=SETTINGS)
    assert httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json=BODY).status_code == 200
    gw.records(1)
    got = httpx2.get(f"{gw.url}/v1/tiered/stats?by=key&since=1d", headers={"authorization": f"Bearer {ADMIN}"})
    assert got.status_code == 200, got.text
    rows = got.json()["rows"]
    assert [r["group"] for r in rows] == [caller_id(KEY)] and rows[0]["requests"] == 1 and rows[0]["cost_usd"] > 0
    assert httpx2.get(f"{gw.url}/v1/tiered/stats", headers={"x-api-key": KEY}).status_code == 403
    assert httpx2.get(f"{gw.url}/v1/tiered/stats").status_code == 401
    bad = httpx2.get(f"{gw.url}/v1/tiered/stats?by=colour", headers={"x-api-key": ADMIN})
    assert bad.status_code == 400 and "by: one of" in bad.json()["error"]["message"]
    assert httpx2.get(f"{gw.url}/v1/tiered/nothing", headers={"x-api-key": ADMIN}).status_code == 404
    assert httpx2.post(f"{gw.url}/v1/tiered/stats", headers={"x-api-key": ADMIN}).status_code == 405


def test_without_an_admin_key_configured_the_operator_endpoints_say_so(emulator_url: str,
                                                                       serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=replace(SETTINGS, admin_keys=frozenset()))
    got = httpx2.get(f"{gw.url}/v1/tiered/stats", headers={"x-api-key": KEY})
    assert got.status_code == 403 and "no admin key is configured" in got.json()["error"]["message"]
