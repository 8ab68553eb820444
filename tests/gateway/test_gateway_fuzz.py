"""Fuzz: malformed requests to every endpoint never give a 5xx or a traceback.

A seeded generator (hypothesis is not installed) mutates valid bodies: keys dropped, values of the
wrong type, huge / negative / non-finite numbers (`1e999` in the JSON text too), nulls, lone UTF-16
surrogates, bad roles, bad content blocks and tool shapes, deep nesting, many blocks, huge bodies,
and bytes that are not JSON at all; to /v1/messages (whole and streamed), count_tokens,
/v1/chat/completions (whole and streamed) and the GET endpoints. Every answer must be below 500; an
error must be in the shape of the API the route speaks, with a message. A body that happens to be
valid may be answered (200) by the emulator upstream. CI runs `CASES`; bench/gateway_fuzz.py runs the
same generator for 10,000+ requests.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.gateway.settings import GatewaySettings

SEED = 20261126
CASES = 600  # per endpoint shape (messages, chat); bench/gateway_fuzz.py sends 10,000+

MESSAGES_BASE: dict[str, Any] = {"model": "auto", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
CHAT_BASE: dict[str, Any] = {"model": "auto", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
MESSAGES_KEYS = ("model", "max_tokens", "messages", "system", "stream", "temperature", "top_p", "top_k", "tools",
                 "tool_choice", "stop_sequences", "metadata", "thinking", "service_tier")
CHAT_KEYS = ("model", "max_tokens", "max_completion_tokens", "messages", "stream", "stream_options", "temperature",
             "top_p", "tools", "tool_choice", "stop", "n", "response_format", "user", "seed", "parallel_tool_calls")


def junk(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON-ish value, biased to what breaks parsers: wrong types and extreme numbers."""
    choices: list[Any] = [None, True, False, 0, -1, -(10 ** 30), 10 ** 30, 2 ** 63, 1.5, -0.0, float("nan"),
                          float("inf"), "", "x", "user", "assistant", "robot", "\u0000", "é" * 3,
                          "a" * 300, "hi \ud800", "\udc00", "ok \U0001f600", 1e308, 10 ** 400]
    if depth < 3:
        choices += [[], {}, [junk(rng, depth + 1)], {"type": junk(rng, depth + 1)},
                    {rng.choice(["type", "text", "role", "content", "name", "input", "id"]): junk(rng, depth + 1)}]
    return rng.choice(choices)


def block(rng: random.Random) -> Any:
    kinds = ["text", "image", "tool_use", "tool_result", "document", "thinking", "robot", None, 3]
    b: dict[str, Any] = {"type": rng.choice(kinds)}
    for key in rng.sample(["text", "source", "id", "name", "input", "tool_use_id", "content", "is_error",
                           "cache_control", "thinking", "signature"], rng.randint(0, 4)):
        b[key] = junk(rng)
    return b


def tool(rng: random.Random, openai: bool) -> Any:
    if openai:
        fn: dict[str, Any] = {"name": rng.choice(["f", "", 3, None, "bad name!"]),
                              "parameters": rng.choice([{}, {"type": "object"}, junk(rng)])}
        return rng.choice([{"type": "function", "function": fn}, {"type": junk(rng), "function": junk(rng)}, junk(rng)])
    return rng.choice([{"name": rng.choice(["f", "", 3, None]), "input_schema": rng.choice([{}, junk(rng)])},
                       {"name": "f"}, {"type": junk(rng), "name": "f"}, junk(rng)])


def message(rng: random.Random, openai: bool) -> Any:
    roles = ["user", "assistant", "system", "tool", "developer", "robot", "", None, 1]
    content = rng.choice([junk(rng), [block(rng) for _ in range(rng.randint(0, 3))], "hello", [], None])
    m: dict[str, Any] = {"role": rng.choice(roles), "content": content}
    if openai and rng.random() < 0.3:
        m["tool_calls"] = rng.choice([junk(rng), [{"id": junk(rng), "type": "function",
                                                  "function": {"name": junk(rng), "arguments": junk(rng)}}]])
    if openai and rng.random() < 0.2:
        m["tool_call_id"] = junk(rng)
    return rng.choice([m, m, m, junk(rng)])


def mutated(rng: random.Random, openai: bool) -> bytes:
    """One malformed request body."""
    roll = rng.random()
    if roll < 0.06:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    if roll < 0.10:
        text = json.dumps(CHAT_BASE if openai else MESSAGES_BASE)
        return text[: rng.randint(0, len(text) - 1)].encode()
    if roll < 0.11:  # numbers no float holds, written as JSON text (json.dumps cannot write them)
        base = dict(CHAT_BASE if openai else MESSAGES_BASE)
        key = rng.choice(["max_tokens", "temperature", "top_p", "top_k", "max_completion_tokens"])
        text = json.dumps({**base, key: "@n@"})
        return text.replace('"@n@"', rng.choice(["1e999", "-1e999", "1e-999", "9" * 5000, "-0", "1E400"])).encode()
    if roll < 0.12:  # many blocks, up to past the structural limits
        n = rng.choice([1_000, 20_001, 60_000, 120_000])
        return json.dumps({**(CHAT_BASE if openai else MESSAGES_BASE), "messages": [
            {"role": "user", "content": [{"type": "text", "text": rng.choice(["", "x"])}] * n}]}).encode()
    if roll < 0.13:
        depth = rng.choice([50, 90, 120, 900, 5000, 100_000])
        return (("[" * depth) + ("]" * depth)).encode() if rng.random() < 0.5 else (
            '{"model": "auto", "max_tokens": 8, "messages": ' + "[" * depth + "]" * depth + "}").encode()
    body: dict[str, Any] = json.loads(json.dumps(CHAT_BASE if openai else MESSAGES_BASE))
    keys = CHAT_KEYS if openai else MESSAGES_KEYS
    for _ in range(rng.randint(1, 4)):
        key = rng.choice(keys)
        action = rng.random()
        if action < 0.15:
            body.pop(key, None)
        elif key == "messages":
            body[key] = rng.choice([[message(rng, openai) for _ in range(rng.randint(0, 4))], junk(rng)])
        elif key == "tools":
            body[key] = rng.choice([[tool(rng, openai) for _ in range(rng.randint(0, 3))], junk(rng)])
        elif key in ("max_tokens", "max_completion_tokens"):
            body[key] = rng.choice([0, -5, 10 ** 9, 10 ** 30, 2.5, "8", None, float("nan"), True, junk(rng)])
        else:
            body[key] = junk(rng)
    if rng.random() < 0.1:
        body["x" * rng.randint(1, 5)] = junk(rng)
    return json.dumps(body).encode()  # NaN / Infinity are sent as Python writes them (not strict JSON)


def check(r: httpx2.Response, openai: bool, body: bytes) -> None:
    where = f"{r.status_code} for {body[:300]!r}: {r.text[:300]}"
    assert r.status_code < 500, where
    assert "Traceback" not in r.text, where
    if r.status_code < 400:
        return
    err = r.json()
    if openai:
        assert set(err) == {"error"} and isinstance(err["error"]["message"], str) and err["error"]["message"], where
        assert {"message", "type", "param", "code"} <= set(err["error"]), where
    else:
        assert err["type"] == "error" and err["request_id"] == r.headers["request-id"], where
        assert isinstance(err["error"]["type"], str) and err["error"]["message"], where


GETS = ["/v1/models", "/v1/models?limit=0", "/v1/models?limit=abc", "/v1/models?after_id=%00", "/healthz",
        "/metrics", "/v1/models/claude-haiku-4-5", "/v1/models/%ED%A0%80", "/v1/models/" + "x" * 5000, "/v1/nope"]


def request(rng: random.Random, i: int) -> tuple[str, str, bytes, bool]:
    """The i-th fuzzed request: (method, path, body, openai shape)."""
    if i % 23 == 0:
        return "GET", rng.choice(GETS), b"", False
    openai = i % 2 == 1
    body = mutated(rng, openai)
    if i % 7 == 3 and body.startswith(b"{"):  # streamed: the same body asking for a stream
        body = body[:-1] + b', "stream": true}' if body.endswith(b"}") else body
    if openai:
        return "POST", "/v1/chat/completions", body, True
    return "POST", "/v1/messages/count_tokens" if i % 10 == 0 else "/v1/messages", body, False


def fuzz(client: httpx2.Client, cases: int, seed: int = SEED) -> dict[int, int]:
    """Send `cases` fuzzed requests; every answer is checked; the count of each status is returned."""
    rng = random.Random(seed)
    statuses: dict[int, int] = {}
    for i in range(cases):
        method, path, body, openai = request(rng, i)
        r = client.request(method, path, content=body or None)
        check(r, openai, body)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    return statuses


def test_malformed_requests_never_get_a_5xx(emulator_url: str, serve_gateway: ServeGateway) -> None:
    # with a daily budget, so every body also goes through the worst-case hold and its settling
    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY}), usd_per_day=Decimal(10_000)))
    with httpx2.Client(base_url=gw.url, headers={"x-api-key": KEY, "content-type": "application/json"},
                       timeout=60) as client:
        statuses = fuzz(client, 2 * CASES)
    assert statuses.get(400, 0) > CASES  # most bodies are refused, as they should be
    assert statuses.get(200, 0) > 20 and statuses.get(413, 0) > 0 and statuses.get(404, 0) > 0


FOUND = [  # what the fuzz found (each was a 500 before the fix)
    ("/v1/messages", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("/v1/messages", b'{"model": "auto", "max_tokens": 8, "temperature": NaN, "messages": []}', "NaN"),
    ("/v1/chat/completions", json.dumps({"model": "auto", "messages": [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "\u0000"}}]},
        {"role": "user", "content": "hi"}]}).encode(), "tool call arguments are not JSON"),
    ("/v1/chat/completions", json.dumps({"model": "auto", "messages": [{"role": "user", "content": "hi"}],
                                         "stream": True, "stream_options": -1}).encode(), "stream_options"),
]


def test_what_the_fuzz_found_is_a_400(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    with httpx2.Client(base_url=gw.url, headers={"x-api-key": KEY}) as client:
        for path, body, why in FOUND:
            r = client.post(path, content=body)
            assert r.status_code == 400, (path, body[:80], r.text)
            check(r, path.endswith("completions"), body)
            message = r.json()["error"]["message"]
            assert why in message, (why, message)
