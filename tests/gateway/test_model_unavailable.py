"""A model the server cannot build mid-request: an API-shaped 500 api_error naming it, and a record."""

from __future__ import annotations

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.errors import ConfigError
from tiered.models.base import Model
from tiered.routes import OnDemandModels

AUTH = {"x-api-key": KEY}
BODY = {"model": "claude-opus-4-7", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


class NoOpus(OnDemandModels):
    """The gateway's models, except that opus cannot be built (as when its provider's key is missing)."""

    def resolve(self, target: str) -> Model:
        if self.catalog.resolve(target).tier == "opus":
            raise ConfigError("claude-opus-4-7: the anthropic backend needs an API key in $ANTHROPIC_API_KEY")
        return super().resolve(target)


def test_unbuildable_model_is_a_shaped_500_with_one_record(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    core = gw.app.core
    core.models = NoOpus(core.config, env={})
    whole = httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, json=BODY)
    streamed = httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, json={**BODY, "stream": True})
    chat = httpx2.post(f"{gw.url}/v1/chat/completions", headers=AUTH,
                       json={"model": "claude-opus-4-7", "messages": [{"role": "user", "content": "hi"}]})
    for r in (whole, streamed):
        assert r.status_code == 500 and r.headers["content-type"] == "application/json"
        err = r.json()
        assert err["type"] == "error" and err["error"]["type"] == "api_error"
        assert "'claude-opus-4-7' is not available on this server" in err["error"]["message"]
        assert "Traceback" not in r.text
    assert chat.status_code == 500 and chat.json()["error"]["type"] == "api_error"
    assert "not available on this server" in chat.json()["error"]["message"]
    records = gw.records(3)
    assert len(records) == 3 and {r.outcome for r in records} == {"api_error"}
    assert {r.trace_id for r in records} == {whole.headers["x-tiered-trace-id"], streamed.headers["x-tiered-trace-id"],
                                             chat.headers["x-tiered-trace-id"]}
    assert all(len(r.attempts) == 1 and r.attempts[0].status == 500 for r in records)  # not retried, not fallen back
    metrics = httpx2.get(f"{gw.url}/metrics").text
    assert 'tiered_requests_total{route="model/claude-opus-4-7",tier="",outcome="api_error"} 3' in metrics


def test_unknown_model_is_404_not_500(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    r = httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, json={**BODY, "model": "gpt-17"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    chat = httpx2.post(f"{gw.url}/v1/chat/completions", headers=AUTH,
                       json={"model": "gpt-17", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 404 and chat.json()["error"]["type"] == "not_found_error"
