"""A tiny scripted upstream on 127.0.0.1 for what tiered's emulator does not serve.

Not tiered's HTTP layer under test: a fake server that the providers talk to over real HTTP.
- `POST /v1/chat/completions`: an OpenAI-compatible endpoint (JSON and SSE, tool calls, usage with
  cached tokens, `include_usage`), for `OpenAICompatModel`.
- `POST /v1/messages`: only the Anthropic edge cases the emulator has no fault for.
The request header `x-fake` picks a misbehaviour: `429`, `spend`, `echo-key`, `cut`, `error`,
`http-date`. Each request body is appended to `app.bodies`, its headers to `app.headers`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from email.utils import formatdate
from typing import Any

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "served",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": None}


USAGE = {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27, "prompt_tokens_details": {"cached_tokens": 4}}
TOOL_ARGS = '{"confidence": 0.9}'


class FakeUpstream:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = json.loads(raw or b"{}")
        self.bodies.append(body)
        self.headers.append(headers)
        fake = headers.get("x-fake", "")
        if scope["path"] == "/v1/messages":
            await self._anthropic(fake, headers, send)
        else:
            await self._openai(fake, headers, body, send)

    async def _anthropic(self, fake: str, headers: dict[str, str], send: Send) -> None:
        if fake == "spend":
            error = {"type": "rate_limit_error", "message": "spend limit reached",
                     "details": {"error_code": "enforced_spend_limit_reached"}}
            await _json(send, 429, {"type": "error", "error": error}, [("retry-after", "30")])
        elif fake == "echo-key":
            message = f"invalid key {headers.get('authorization', '')}"
            await _json(send, 401, {"type": "error", "error": {"type": "authentication_error", "message": message}})
        elif fake == "http-date":
            when = formatdate(time.time() + 120, usegmt=True)
            await _json(send, 429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
                        [("retry-after", when)])
        elif fake == "cut":
            start: dict[str, Any] = {"type": "message_start", "message": {
                "id": "msg_cut", "type": "message", "role": "assistant", "model": "claude-haiku-4-5", "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 0}}}
            events: list[dict[str, Any]] = [
                start, {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hal"}}]
            payload = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
            await _raw(send, 200, payload.encode(), "text/event-stream")
        else:
            await _json(send, 404, {"type": "error", "error": {"type": "not_found_error", "message": "no"}})

    async def _openai(self, fake: str, headers: dict[str, str], body: dict[str, Any], send: Send) -> None:
        if fake == "429":
            await _json(send, 429, {"error": {"message": "slow down", "type": "rate_limit"}},
                        [("retry-after-ms", "250")])
            return
        if fake == "echo-key":
            echoed = f"bad key {headers.get('authorization', '')}"
            await _json(send, 401, {"error": {"message": echoed, "type": "invalid_request_error"}})
            return
        tools = bool(body.get("tools"))
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": "Hello"}
            if tools:
                message["tool_calls"] = [{"id": "call_1", "type": "function",
                                          "function": {"name": "score", "arguments": TOOL_ARGS}}]
            await _json(send, 200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "served",
                                    "choices": [{"index": 0, "message": message,
                                                 "finish_reason": "tool_calls" if tools else "stop"}],
                                    "usage": USAGE})
            return
        chunks = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hel"}), _chunk({"content": "lo"})]
        if tools:
            chunks += [
                _chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                        "function": {"name": "score", "arguments": ""}}]}),
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": TOOL_ARGS[:9]}}]}),
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": TOOL_ARGS[9:]}}]}),
            ]
        if fake == "error":
            chunks.append({"error": {"message": "model crashed", "type": "server_error"}})
        elif fake != "cut":
            chunks.append(_chunk({}, "tool_calls" if tools else "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                chunks.append({**_chunk({}), "choices": [], "usage": USAGE})
        payload = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
        if fake != "cut":
            payload += "data: [DONE]\n\n"
        await _raw(send, 200, payload.encode(), "text/event-stream")


async def _json(send: Send, status: int, body: dict[str, Any], extra: list[tuple[str, str]] | None = None) -> None:
    await _raw(send, status, json.dumps(body).encode(), "application/json", extra)


async def _raw(send: Send, status: int, body: bytes, content_type: str,
               extra: list[tuple[str, str]] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
               (b"request-id", b"req_fake"), (b"x-request-id", b"req_fake"),
               *((k.encode(), v.encode()) for k, v in extra or ())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def running_fake_upstream() -> Iterator[tuple[str, FakeUpstream]]:
    """Yield (base URL without /v1, app) of a FakeUpstream served by uvicorn in a background thread."""
    import socket

    import uvicorn

    app = FakeUpstream()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake upstream did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
