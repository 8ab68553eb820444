"""What reaches the upstream: anthropic-version and anthropic-beta unchanged, never the caller's key."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
import uvicorn

from conftest import KEY, ServeGateway
from tiered.emulator.server import bound_socket

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
