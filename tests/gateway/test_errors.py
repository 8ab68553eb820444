"""Bad requests get the API's own error shape and a clear message: never a 500, never a traceback."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest
from gateway_support import KEY, ServeGateway

from tiered.gateway.settings import GatewaySettings

HI = [{"role": "user", "content": "hi"}]
AUTH = {"x-api-key": KEY}


@pytest.mark.parametrize(("body", "where"), [
    ({"model": "auto", "messages": HI}, "max_tokens: Field required"),
    ({"model": "auto", "max_tokens": 10}, "messages: Field required"),
    ({"model": "auto", "max_tokens": 10, "messages": "hi"}, "messages: Input should be a valid list"),
    ({"model": "auto", "max_tokens": 10, "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ({"model": "auto", "max_tokens": "ten", "messages": HI}, "max_tokens: Input should be a valid integer"),
    ({"max_tokens": 10, "messages": HI}, "model: Field required"),
    ({"model": "auto", "max_tokens": 10, "messages": HI, "stream": "yes"}, "stream: Input should be a valid boolean"),
    ({"model": "auto", "max_tokens": 10, "messages": HI, "temperature": 3}, "temperature"),
    ([1, 2, 3], "must be a JSON object"),
])
def test_bad_bodies_are_400_in_anthropic_shape(emulator_url: str, serve_gateway: ServeGateway, body: Any,
                                               where: str) -> None:
    gw = serve_gateway(emulator_url)
    r = httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, json=body)
    assert r.status_code == 400
    err = r.json()
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert where in err["error"]["message"]
    assert err["request_id"] == r.headers["request-id"]


def test_transport_level_mistakes(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY}), max_body_bytes=4096))
    not_json = httpx2.post(f"{gw.url}/v1/messages", headers=AUTH, content=b"{not json")
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]["message"]
    huge = httpx2.post(f"{gw.url}/v1/messages", headers=AUTH,
                       json={"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 9000}]})
    assert huge.status_code == 413 and huge.json()["error"]["type"] == "request_too_large"
    wrong_method = httpx2.get(f"{gw.url}/v1/messages", headers=AUTH)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    nowhere = httpx2.post(f"{gw.url}/v2/complete", headers=AUTH, json={})
    assert nowhere.status_code == 404 and nowhere.json()["error"]["type"] == "not_found_error"


def test_sdk_sees_its_own_error_classes(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="auto", max_tokens=10, messages=[])
    assert bad.value.type == "invalid_request_error" and "messages" in str(bad.value.message)
    with pytest.raises(anthropic.NotFoundError) as unknown:
        client.messages.create(model="gpt-17", max_tokens=10, messages=HI)  # type: ignore[arg-type]
    assert "tiered/default" in unknown.value.message
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="auto", max_tokens=10, messages=HI, extra_headers={"x-tiered-route": "nope"})


def test_auth(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    body = {"model": "auto", "max_tokens": 10, "messages": HI}
    missing = httpx2.post(f"{gw.url}/v1/messages", json=body)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(api_key="wrong", base_url=gw.url, max_retries=0).messages.create(
            model="auto", max_tokens=10, messages=HI)  # type: ignore[arg-type]
    assert httpx2.post(f"{gw.url}/v1/messages", json=body, headers={"x-api-key": KEY}).status_code == 200
    bearer = {"authorization": f"Bearer {KEY}"}
    assert httpx2.post(f"{gw.url}/v1/messages", json=body, headers=bearer).status_code == 200
    assert httpx2.get(f"{gw.url}/healthz").status_code == 200  # health and metrics stay open
    assert httpx2.get(f"{gw.url}/v1/models").status_code == 401
