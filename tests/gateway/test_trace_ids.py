"""count_tokens is not a request against the rate limit, and every x-tiered-trace-id the gateway sends names a
record of the request log (issue 8, item 15)."""

from __future__ import annotations

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.gateway.settings import GatewaySettings
from tiered.telemetry.sqlite import SqliteSink

HI = [{"role": "user", "content": "Say hello."}]
AUTH = {"x-api-key": KEY}


def test_count_tokens_does_not_use_up_the_rate_limit(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY}), requests_per_minute=2))
    for _ in range(5):
        counted = httpx2.post(f"{gw.url}/v1/messages/count_tokens", headers=AUTH,
                              json={"model": "haiku", "messages": HI})
        assert counted.status_code == 200, counted.text
    body = {"model": "haiku", "max_tokens": 16, "messages": HI}
    assert [httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, json=body).status_code for _ in range(3)] == [
        200, 200, 429]


def test_a_trace_id_is_sent_only_for_a_logged_request(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    sent = [
        httpx2.post(f"{gw.url}/v1/messages/count_tokens", headers=AUTH, json={"model": "haiku", "messages": HI}),
        httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, json={"model": "no-such-model", "max_tokens": 8,
                                                                  "messages": HI}),
        httpx2.post(f"{gw.url}/v1/nowhere", headers=AUTH, json={}),
        httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": "wrong"}, json={}),
        httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, json={"model": "haiku", "max_tokens": 8, "messages": HI}),
    ]
    assert [r.status_code for r in sent] == [200, 404, 404, 401, 200]
    ids = [r.headers.get("x-tiered-trace-id") for r in sent]
    assert ids[:4] == [None, None, None, None] and ids[4] is not None
    assert all(r.headers["request-id"].startswith("req_") for r in sent)  # every answer still has its request-id
    gw.flush()
    with SqliteSink(gw.db) as log:
        assert log.get(ids[4]) is not None
        assert len(log.records()) == 1
