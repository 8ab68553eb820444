"""Upstream failures the client must not misread (over real HTTP, emulator upstream).

- The upstream refusing the gateway's own key is a 502 naming that key, not a 401 authentication_error
  (Claude Code would blame, and ask to replace, its own credentials for the gateway). In pass-through
  mode the key is the caller's, so its 401 stays a 401.
- A stream that broke after its first event went out is logged with the status actually sent (200); the
  error is the attempt's and the record's outcome.
"""

from __future__ import annotations

import json

import anthropic
import httpx2
import pytest
from gateway_support import KEY, ServeGateway

from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.gateway.settings import GatewaySettings

DIRECT = '\n[routes.default]\npolicy = "direct"\ntarget = "haiku"\n'
BODY = {"model": "auto", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello in a sentence."}]}


def test_the_upstream_refusing_the_gateways_key_is_a_502_naming_it(start_emulator,  # type: ignore[no-untyped-def]
                                                                    serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"401": 1.0})))
    gw = serve_gateway(upstream)
    with httpx2.Client(base_url=gw.url, headers={"x-api-key": KEY}, timeout=30) as client:
        replies = [client.post("/v1/messages", json=BODY), client.post("/v1/messages", json={**BODY, "stream": True}),
                   client.post("/v1/chat/completions", json={"model": "auto", "messages": BODY["messages"]})]
    for r in replies:
        assert r.status_code == 502, r.text
        err = r.json()["error"]
        assert err["type"] == "api_error" and "gateway's own API key ($ANTHROPIC_API_KEY" in err["message"]
    client_sdk = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.InternalServerError):  # not AuthenticationError: the caller's key is fine
        client_sdk.messages.create(**BODY)  # type: ignore[arg-type]


def test_in_pass_through_mode_the_callers_key_was_refused(start_emulator,  # type: ignore[no-untyped-def]
                                                          serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"401": 1.0})))
    gw = serve_gateway(upstream, settings=GatewaySettings(pass_through_key=True))
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": "callers-own-key"}, json=BODY, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_a_stream_broken_after_it_began_is_logged_with_the_200_it_sent(start_emulator,  # type: ignore[no-untyped-def]
                                                                       serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"midstream": 1.0})))
    gw = serve_gateway(upstream, routes=DIRECT)
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json={**BODY, "stream": True}, timeout=30)
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert r.status_code == 200 and events[-1]["type"] == "error"
    error_type = events[-1]["error"]["type"]
    (record,) = gw.records(1)
    (attempt,) = record.attempts
    assert attempt.status == 200  # what the stream began with (it was logged as 529 before)
    assert attempt.outcome == record.outcome == error_type != "ok"  # the error, recorded separately
    assert record.cost_usd > 0
