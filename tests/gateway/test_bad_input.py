"""Bad input is the caller's error, never a 5xx and never a model's fault (over real HTTP, emulator upstream).

Each case here was a 500 (or a 27 s, 700 MB answer) before: lone UTF-16 surrogates, `max_tokens: 1e999`
on chat completions, `max_tokens: null` on count_tokens, a million empty text blocks. The structural
limits (`tiered.gateway.body_limits`) answer 400/413 naming the limit.
"""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlsplit

import httpx2
import pytest
from gateway_support import KEY, ServeGateway

from tiered.errors import BadRequest
from tiered.gateway import body_limits
from tiered.models.anthropic import AnthropicModel
from tiered.types import Request

LONE = '"hi \\ud800"'  # JSON text: a high surrogate with no low one after it
HI = '[{"role":"user","content":"hi"}]'
MARK = "@lone@"


def _with_lone(body: dict[str, object]) -> str:
    """`body` as JSON text with each `MARK` string replaced by a string holding a lone surrogate."""
    return json.dumps(body).replace(f'"{MARK}"', LONE)


USER = [{"role": "user", "content": MARK}]
PLAIN = [{"role": "user", "content": "hi"}]
SURROGATES = [  # (path, body, the field the error names)
    ("/v1/messages", _with_lone({"model": "auto", "max_tokens": 8, "messages": USER}), "messages.0.content"),
    ("/v1/messages", _with_lone({"model": "auto", "max_tokens": 8, "system": MARK, "messages": PLAIN}), "system"),
    ("/v1/messages", _with_lone({"model": "auto", "max_tokens": 8, "metadata": {"user_id": MARK},
                                 "messages": PLAIN}), "metadata.user_id"),
    ("/v1/messages", _with_lone({"model": "auto", "max_tokens": 8, "stop_sequences": [MARK], "messages": PLAIN}),
     "stop_sequences.0"),
    ("/v1/messages", _with_lone({"model": "auto", "max_tokens": 8, "stream": True, "messages": USER}),
     "messages.0.content"),
    ("/v1/messages/count_tokens", _with_lone({"model": "auto", "messages": USER}), "messages.0.content"),
    ("/v1/chat/completions", _with_lone({"model": "auto", "messages": USER}), "messages.0.content"),
    ("/v1/messages", json.dumps({"model": "auto", "max_tokens": 8, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "@low@ first"}]}]}).replace("@low@", "\\udc00"), "messages.0.content.0.text"),
]


@pytest.mark.parametrize(("path", "body", "field"), SURROGATES)
def test_a_lone_surrogate_is_a_400_naming_the_field(emulator_url: str, serve_gateway: ServeGateway, path: str,
                                                    body: str, field: str) -> None:
    gw = serve_gateway(emulator_url)
    r = httpx2.post(f"{gw.url}{path}", headers={"x-api-key": KEY}, content=body.encode(), timeout=30)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message.startswith(f"{field}: ") and "lone UTF-16 surrogate" in message


def test_surrogates_never_open_a_models_breaker(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)  # fallback opus -> sonnet -> haiku; a breaker opens after 5 failures
    with httpx2.Client(base_url=gw.url, headers={"x-api-key": KEY}, timeout=30) as client:
        for _ in range(3):
            for path, body, _field in SURROGATES:
                assert client.post(path, content=body.encode()).status_code == 400
        r = client.post("/v1/messages", json={"model": "auto", "max_tokens": 8,
                                              "messages": [{"role": "user", "content": "hi \U0001f600"}]})
    assert r.status_code == 200 and r.headers["x-tiered-tier"] == "opus" and r.headers["x-tiered-degraded"] == "false"
    (record,) = gw.records(1)  # the bad requests reached no model: only this one has a record
    assert [a.tier for a in record.attempts] == ["opus"]


def test_a_model_given_text_that_is_not_unicode_says_it_is_the_requests_fault(emulator_url: str) -> None:
    model = AnthropicModel("claude-haiku-4-5", api_key="k", base_url=emulator_url)

    async def call() -> None:
        try:
            await model.complete(Request.user("hi \ud800", model="claude-haiku-4-5", max_tokens=8))
        finally:
            await model.aclose()

    with pytest.raises(BadRequest, match="not valid Unicode") as caught:
        asyncio.run(call())
    assert not caught.value.retryable  # so no Fallback retries it and no breaker counts it


def test_numbers_and_nulls_that_used_to_be_500s(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    with httpx2.Client(base_url=gw.url, headers={"x-api-key": KEY}, timeout=30) as client:
        r = client.post("/v1/chat/completions", content=b'{"model":"auto","max_tokens":1e999,"messages":%s}'
                        % HI.encode())
        assert r.status_code == 400 and "1e999 is out of range" in r.json()["error"]["message"]
        r = client.post("/v1/messages", content=b'{"model":"auto","max_tokens":8,"temperature":-1e400,'
                        b'"messages":%s}' % HI.encode())
        assert r.status_code == 400
        r = client.post("/v1/messages/count_tokens", content=b'{"model":"auto","max_tokens":null,"messages":%s}'
                        % HI.encode())
        assert r.status_code == 200 and r.json()["input_tokens"] > 0


def _blocks(n: int) -> bytes:
    return json.dumps({"model": "auto", "max_tokens": 8, "messages": [
        {"role": "user", "content": [{"type": "text", "text": ""}] * n}]}).encode()


def test_structural_limits_are_400_or_413_naming_the_limit(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    deep: object = "x"
    for _ in range(body_limits.MAX_DEPTH + 5):
        deep = {"a": deep}
    tool = {"name": "f", "input_schema": {"type": "object"}}
    cases = [
        (_blocks(1_000_000), 413, "JSON separators"),  # 28.6 MB: was a 27 s answer that blocked the loop
        (_blocks(body_limits.MAX_SEPARATORS // 2 + 1), 413, "JSON separators"),
        (_blocks(body_limits.MAX_BLOCKS + 1), 400, "content blocks"),
        (json.dumps({"model": "auto", "max_tokens": 8, "metadata": deep, "messages": json.loads(HI)}).encode(),
         400, "nests deeper"),
        (json.dumps({"model": "auto", "max_tokens": 8, "tools": [tool] * (body_limits.MAX_TOOLS + 1),
                     "messages": json.loads(HI)}).encode(), 400, "tools"),
    ]
    with httpx2.Client(base_url=gw.url, headers={"x-api-key": KEY}, timeout=60) as client:
        for body, status, why in cases:
            r = client.post("/v1/messages", content=body)
            assert r.status_code == status and why in r.json()["error"]["message"], r.text[:300]
        ok = client.post("/v1/messages", content=_blocks(2_000))  # well inside every limit
        assert ok.status_code == 200, ok.text[:300]


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a content-length from `sock`: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"!"  # "!" only so that a closed socket ends the loop and fails below
        assert not data.endswith(b"!"), data
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(v) for k, _, v in (line.partition(": ") for line in lines[1:]) if k.lower() == "content-length")
    while len(body) < length:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), body


def test_too_many_separators_are_refused_before_the_rest_of_the_body_is_read(emulator_url: str,
                                                                             serve_gateway: ServeGateway) -> None:
    """The separator count runs on each chunk as it arrives: the 413 comes while most of the body is still
    unsent (a raw socket sends the headers of a 28.6 MB body and only its first 8 MB, then waits for the
    answer); the rest, sent afterwards, is discarded and the same connection serves the next request."""
    gw = serve_gateway(emulator_url)
    body = _blocks(1_000_000)
    head, rest = body[:8 * 1024 * 1024], body[8 * 1024 * 1024:]
    assert head.count(b",") > body_limits.MAX_SEPARATORS
    where = urlsplit(gw.url)
    with socket.create_connection((where.hostname or "127.0.0.1", where.port or 80), timeout=30) as sock:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"
                     b"x-api-key: %s\r\ncontent-length: %d\r\n\r\n" % (KEY.encode(), len(body)) + head)
        status, answer = _read_response(sock)  # before the fix: no answer until the whole body came (a timeout)
        assert status == 413, answer[:300]
        error = json.loads(answer)["error"]
        assert error["type"] == "request_too_large" and "JSON separators" in error["message"]
        sock.sendall(rest)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
        status, answer = _read_response(sock)
        assert status == 200 and json.loads(answer)["status"] == "ok", answer[:300]
