"""AnthropicModel over real HTTP: tiered's emulator for answers and injected faults, the fake upstream
for the few edge cases the emulator has no fault for (spend-limit body, a key echoed back, a cut stream)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tiered.emulator.testing import running_emulator_app
from tiered.errors import (
    AuthFailed,
    BadRequest,
    ConnectionFailed,
    Overloaded,
    ProviderError,
    RateLimited,
    ServerError,
    SpendLimit,
    UpstreamTimeout,
)
from tiered.models.anthropic import AnthropicModel
from tiered.models.events import collect
from tiered.types import Request

KEY = "sk-ant-test-SECRET-0123456789"


def model(url: str, **kw: Any) -> AnthropicModel:
    return AnthropicModel("claude-haiku-4-5", api_key=KEY, base_url=url, **kw)


def faulty(fault: str, text: str = "Say hello.", **kw: Any) -> Request:
    return Request.user(text, headers={"x-tiered-fault": fault}, **kw)


async def test_complete_answers(emulator_url: str) -> None:
    m = model(emulator_url)
    response = await m.complete(Request.user("What is the capital of France?", extra={"temperature": 0}))
    await m.aclose()
    assert response.model == "claude-haiku-4-5"
    assert response.text
    assert response.stop_reason in ("end_turn", "max_tokens")
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.request_id


async def test_stream_yields_raw_events_in_order(emulator_url: str) -> None:
    m = model(emulator_url)
    request = Request.user("Tell me about tiers.", max_tokens=64)
    events = [e async for e in m.stream(request)]
    streamed = await collect(m.stream(request))
    await m.aclose()
    types = [e["type"] for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "content_block_delta" in types
    assert all(isinstance(e, dict) for e in events)
    assert streamed.text and streamed.stop_reason is not None
    assert streamed.ttft_ms is not None and streamed.ttft_ms >= 0


async def test_body_fields_the_sdk_has_no_kwarg_for_pass_through(fake_upstream: tuple[str, Any]) -> None:
    url, app = fake_upstream
    m = model(url)
    request = Request.user("hi", extra={"temperature": 0.2, "top_k": 5},
                           headers={"anthropic-beta": "tools-2026-01-01", "x-fake": "spend"})
    with pytest.raises(SpendLimit):
        await m.complete(request)
    await m.aclose()
    assert app.bodies[-1]["temperature"] == 0.2 and app.bodies[-1]["top_k"] == 5
    assert app.bodies[-1]["model"] == "claude-haiku-4-5"
    assert app.headers[-1]["anthropic-beta"] == "tools-2026-01-01"


async def test_upstream_model_is_sent(fake_upstream: tuple[str, Any]) -> None:
    url, app = fake_upstream
    m = AnthropicModel("haiku-via-proxy", api_key=KEY, base_url=url, upstream_model="claude-haiku-4-5")
    with pytest.raises(SpendLimit):
        await m.complete(Request.user("hi", headers={"x-fake": "spend"}))
    await m.aclose()
    assert app.bodies[-1]["model"] == "claude-haiku-4-5"


async def test_rate_limited_parses_retry_after_ms_and_makes_one_attempt() -> None:
    with running_emulator_app() as (url, app):
        m = model(url)
        with pytest.raises(RateLimited) as info:
            await m.complete(faulty("429;retry-after-ms=5"))
        await m.aclose()
        assert app.attempts == {"0": 1}  # max_retries=0: the SDK did not retry
    err = info.value
    assert err.retry_after == pytest.approx(0.005)
    assert (err.status, err.error_type, err.retryable, err.midstream) == (429, "rate_limit_error", True, False)
    assert err.request_id
    assert err.model == "claude-haiku-4-5"


async def test_retry_after_seconds_and_http_date(emulator_url: str, fake_upstream: tuple[str, Any]) -> None:
    m = model(emulator_url)
    with pytest.raises(RateLimited) as info:
        await m.complete(faulty("429;retry-after=3"))
    await m.aclose()
    assert info.value.retry_after == pytest.approx(3.0)
    f = model(fake_upstream[0])
    with pytest.raises(RateLimited) as dated:
        await f.complete(Request.user("hi", headers={"x-fake": "http-date"}))
    await f.aclose()
    assert dated.value.retry_after is not None and 100 < dated.value.retry_after <= 120


@pytest.mark.parametrize(("fault", "error", "status"), [
    ("529", Overloaded, 529),
    ("500", ServerError, 500),
    ("503", ServerError, 503),
    ("504", UpstreamTimeout, 504),
    ("400", BadRequest, 400),
    ("401", AuthFailed, 401),
    ("403", AuthFailed, 403),
    ("402", SpendLimit, 402),
])
async def test_status_maps_to_error(emulator_url: str, fault: str, error: type[ProviderError], status: int) -> None:
    m = model(emulator_url)
    with pytest.raises(error) as info:
        await m.complete(faulty(fault))
    await m.aclose()
    assert type(info.value) is error
    assert info.value.status == status
    assert info.value.request_id
    assert not info.value.midstream


async def test_unknown_model_is_bad_request(emulator_url: str) -> None:
    m = AnthropicModel("claude-nonexistent-9", api_key=KEY, base_url=emulator_url)
    with pytest.raises(BadRequest) as info:
        await m.complete(Request.user("hi"))
    await m.aclose()
    assert info.value.status == 404 and not info.value.retryable


async def test_spend_limit_429_is_not_retryable(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    with pytest.raises(SpendLimit) as info:
        await m.complete(Request.user("hi", headers={"x-fake": "spend"}))
    await m.aclose()
    assert info.value.status == 429 and not info.value.retryable


async def test_midstream_error_is_overloaded_and_never_a_partial_success(emulator_url: str) -> None:
    m = model(emulator_url)
    seen: list[str] = []

    async def drain() -> None:
        async for event in m.stream(faulty("midstream", max_tokens=64)):
            seen.append(event["type"])

    with pytest.raises(Overloaded) as info:
        await drain()
    assert info.value.midstream and info.value.retryable
    assert info.value.request_id
    assert "content_block_delta" in seen and "message_stop" not in seen
    with pytest.raises(Overloaded):
        await collect(m.stream(faulty("midstream", max_tokens=64)))
    await m.aclose()


async def test_midstream_fault_without_stream_is_a_529(emulator_url: str) -> None:
    m = model(emulator_url)
    with pytest.raises(Overloaded) as info:
        await m.complete(faulty("midstream"))
    await m.aclose()
    assert not info.value.midstream and info.value.status == 529


async def test_stream_status_error_before_any_event(emulator_url: str) -> None:
    m = model(emulator_url)
    with pytest.raises(RateLimited) as info:
        [e async for e in m.stream(faulty("429;retry-after-ms=7"))]
    await m.aclose()
    assert info.value.retry_after == pytest.approx(0.007) and not info.value.midstream


async def test_stream_cut_before_message_stop_is_an_error(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    with pytest.raises(ServerError) as info:
        [e async for e in m.stream(Request.user("hi", headers={"x-fake": "cut"}))]
    await m.aclose()
    assert info.value.midstream and "truncated" in str(info.value)


async def test_default_headers_are_sent_on_every_request(emulator_url: str) -> None:
    m = model(emulator_url, default_headers={"x-tiered-fault": "529"})
    for _ in range(2):
        with pytest.raises(Overloaded):
            await m.complete(Request.user("hi"))
    # a per-request header overrides the default one
    with pytest.raises(ServerError):
        await m.complete(faulty("500"))
    await m.aclose()


async def test_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    m = model(f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionFailed) as info:
        await m.complete(Request.user("hi"))
    with pytest.raises(ConnectionFailed):
        [e async for e in m.stream(Request.user("hi"))]
    await m.aclose()
    assert info.value.retryable


async def test_timeout(emulator_url: str) -> None:
    m = model(emulator_url, timeout_s=0.2)
    slow = Request.user("hi", headers={"x-tiered-latency-ms": "1500"})
    with pytest.raises(UpstreamTimeout) as info:
        await m.complete(slow)
    assert info.value.retryable and not info.value.midstream
    with pytest.raises(UpstreamTimeout) as streamed:
        [e async for e in m.stream(slow)]
    await m.aclose()
    assert streamed.value.retryable


async def test_key_never_in_errors_or_repr(emulator_url: str, fake_upstream: tuple[str, Any]) -> None:
    m = model(emulator_url)
    errors: list[ProviderError] = []
    for fault in ("401", "429;retry-after-ms=1", "529", "400"):
        with pytest.raises(ProviderError) as info:
            await m.complete(faulty(fault))
        errors.append(info.value)
    echo = model(fake_upstream[0])
    with pytest.raises(AuthFailed) as echoed:
        await echo.complete(Request.user("hi", headers={"x-fake": "echo-key"}))
    errors.append(echoed.value)
    assert "[redacted]" in str(echoed.value)  # the upstream did echo the key; it was scrubbed
    assert echoed.value.__cause__ is None  # and the SDK error that quotes it is not chained
    assert isinstance(errors[0].__cause__, Exception)  # other SDK errors are
    for err in errors:
        assert KEY not in str(err) and KEY not in repr(err) and KEY not in err.message
    assert KEY not in repr(m) and KEY not in str(m)
    await m.aclose()
    await echo.aclose()
