"""Bad input is the caller's error, never a 5xx and never a model's fault (over real HTTP, emulator upstream).

Each case here was a 500 (or a 27 s, 700 MB answer) before: lone UTF-16 surrogates, `max_tokens: 1e999`
on chat completions, `max_tokens: null` on count_tokens, a million empty text blocks. The structural
limits (`tiered.gateway.body_limits`) answer 400/413 naming the limit.
"""

from __future__ import annotations

import asyncio
import json

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
