"""What reaches the upstream: anthropic-version and anthropic-beta unchanged, never the caller's key."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
import uvicorn
from gateway_support import KEY, ServeGateway

from tiered.serving import bound_socket

ANSWER = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
          "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn", "stop_sequence": None,
          "usage": {"input_tokens": 3, "output_tokens": 1}}


class Capture:
    """An upstream that answers every /v1/messages with ANSWER and keeps the request headers."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        body = json.dumps(ANSWER).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"request-id", b"req_up")]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def capture() -> Iterator[tuple[str, Capture]]:
    app = Capture()
    sock = bound_socket()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.005)
    host, port = sock.getsockname()[:2]
    yield f"http://{host}:{port}", app
    server.should_exit = True
    thread.join(5)
    sock.close()


def test_version_and_beta_go_upstream_unchanged_and_the_key_does_not(
        capture: tuple[str, Capture], serve_gateway: ServeGateway) -> None:
    url, upstream = capture
    gw = serve_gateway(url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    answer = client.messages.create(model="haiku", max_tokens=8, messages=[{"role": "user", "content": "hi"}],
                                    extra_headers={"anthropic-version": "2023-06-01",
                                                   "anthropic-beta": "context-1m-2025-08-07,fancy-2026-01-01"})
    assert answer.content[0].text == "hello"  # type: ignore[union-attr]
    (sent,) = upstream.headers
    assert sent["anthropic-version"] == "2023-06-01"
    assert sent["anthropic-beta"] == "context-1m-2025-08-07,fancy-2026-01-01"
    assert KEY not in json.dumps(sent)


def test_pass_through_sends_each_callers_own_key(capture: tuple[str, Capture]) -> None:
    from tiered.config import parse_config_text
    from tiered.gateway import build_gateway
    from tiered.gateway.settings import GatewaySettings
    from tiered.gateway.testing import running_gateway

    url, upstream = capture
    config = parse_config_text(f'[backend]\nkind = "anthropic"\nbase_url = "{url}"\n'
                               '[routes.default]\npolicy = "direct"\ntarget = "haiku"\n', source="test")
    app = build_gateway(config, GatewaySettings(pass_through_key=True), sinks=[], env={})  # no key in the env
    with running_gateway(app) as gw:
        for key in ("sk-caller-one", "sk-caller-two"):
            anthropic.Anthropic(api_key=key, base_url=gw, max_retries=0).messages.create(
                model="auto", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        keyless = httpx2.post(f"{gw}/v1/messages", json={"model": "auto", "max_tokens": 8,
                                                          "messages": [{"role": "user", "content": "hi"}]})
        assert keyless.status_code == 401 and keyless.json()["error"]["type"] == "authentication_error"
    sent = [h.get("x-api-key") or h.get("authorization", "").removeprefix("Bearer ") for h in upstream.headers]
    assert sent == ["sk-caller-one", "sk-caller-two"]
