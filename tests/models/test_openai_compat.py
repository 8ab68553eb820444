"""OpenAICompatModel over real HTTP against the scripted OpenAI-compatible fake upstream."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tiered.errors import AuthFailed, ConnectionFailed, RateLimited, ServerError
from tiered.models.events import collect
from tiered.models.openai_compat import OpenAICompatModel
from tiered.types import Request

KEY = "sk-openai-SECRET-987654321"
TOOL = {"name": "score", "input_schema": {"type": "object", "properties": {"confidence": {"type": "number"}}}}


def model(url: str) -> OpenAICompatModel:
    return OpenAICompatModel("local-llama", base_url=f"{url}/v1", api_key=KEY, upstream_model="llama3:8b")


async def test_complete_translates_both_ways(fake_upstream: tuple[str, Any]) -> None:
    url, app = fake_upstream
    m = model(url)
    response = await m.complete(Request.user("hi", system="Be brief.", extra={"temperature": 0}))
    await m.aclose()
    sent = app.bodies[-1]
    assert sent["model"] == "llama3:8b"
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert sent["temperature"] == 0 and "stream" not in sent
    assert response.model == "local-llama" and response.text == "Hello"
    assert response.stop_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.cache_read_input_tokens, response.usage.output_tokens) == (
        16, 4, 7)
    assert response.request_id == "req_fake"


async def test_complete_with_tool_call(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    response = await m.complete(Request.user("rate", tools=(TOOL,), tool_choice={"type": "any"}))
    await m.aclose()
    assert fake_upstream[1].bodies[-1]["tool_choice"] == "required"
    assert response.stop_reason == "tool_use"
    assert response.tool_input("score") == {"confidence": 0.9}


async def test_stream_becomes_anthropic_events(fake_upstream: tuple[str, Any]) -> None:
    url, app = fake_upstream
    m = model(url)
    request = Request.user("rate", tools=(TOOL,))
    events = [e async for e in m.stream(request)]
    assert app.bodies[-1]["stream"] is True
    assert app.bodies[-1]["stream_options"] == {"include_usage": True}
    response = await collect(m.stream(request))
    await m.aclose()
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert response.text == "Hello"
    assert response.tool_input("score") == {"confidence": 0.9}
    assert response.stop_reason == "tool_use"
    assert response.usage.output_tokens == 7 and response.usage.input_tokens == 16
    assert response.ttft_ms is not None


async def test_rate_limit_with_retry_after_ms(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    with pytest.raises(RateLimited) as info:
        await m.complete(Request.user("x", headers={"x-fake": "429"}))
    with pytest.raises(RateLimited):
        [e async for e in m.stream(Request.user("x", headers={"x-fake": "429"}))]
    await m.aclose()
    assert info.value.retry_after == pytest.approx(0.25)
    assert info.value.status == 429 and info.value.request_id == "req_fake"


async def test_error_chunk_midstream(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    with pytest.raises(ServerError) as info:
        await collect(m.stream(Request.user("x", headers={"x-fake": "error"})))
    await m.aclose()
    assert info.value.midstream and "model crashed" in str(info.value)


async def test_cut_stream_is_truncated(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    seen: list[str] = []

    async def drain() -> None:
        async for event in m.stream(Request.user("x", headers={"x-fake": "cut"})):
            seen.append(event["type"])

    with pytest.raises(ServerError) as info:
        await drain()
    await m.aclose()
    assert info.value.midstream
    assert "message_stop" not in seen


async def test_key_is_scrubbed_and_absent_from_repr(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    with pytest.raises(AuthFailed) as info:
        await m.complete(Request.user("x", headers={"x-fake": "echo-key"}))
    await m.aclose()
    assert "[redacted]" in str(info.value)
    assert info.value.__cause__ is None
    assert KEY not in str(info.value) and KEY not in repr(info.value) and KEY not in repr(m)


async def test_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    m = model(f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionFailed):
        await m.complete(Request.user("x"))
    await m.aclose()
