"""Injected faults and latency, per request (headers) and per model (seeded config), seen through the SDK."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import MessageParam

from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.emulator.testing import running_emulator_app

HAIKU = "claude-haiku-4-5"
HI: list[MessageParam] = [{"role": "user", "content": "hi"}]


def sdk(url: str, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=url, max_retries=retries)


def create(client: anthropic.Anthropic, fault: str | None = None, prompt: str = "hi") -> anthropic.types.Message:
    headers = {"x-tiered-fault": fault} if fault else {}
    messages: list[MessageParam] = [{"role": "user", "content": prompt}]
    return client.messages.create(model=HAIKU, max_tokens=50, messages=messages, extra_headers=headers)


@pytest.mark.parametrize(
    ("fault", "error", "status", "kind"),
    [
        ("529", anthropic.OverloadedError, 529, "overloaded_error"),
        ("429", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("500", anthropic.InternalServerError, 500, "api_error"),
        ("503", anthropic.ServiceUnavailableError, 503, "api_error"),
        ("403", anthropic.PermissionDeniedError, 403, "permission_error"),
    ],
)
def test_fault_header_answers_that_status(
    emulator_url: str, fault: str, error: type[anthropic.APIStatusError], status: int, kind: str
) -> None:
    with pytest.raises(error) as caught:
        create(sdk(emulator_url), fault)
    assert caught.value.status_code == status and caught.value.type == kind
    body: Any = caught.value.body
    assert body["type"] == "error" and body["request_id"] == caught.value.request_id


def test_429_carries_retry_after_headers(emulator_url: str) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        create(sdk(emulator_url), "429")
    headers = caught.value.response.headers
    assert headers["retry-after-ms"] == "1000" and headers["retry-after"] == "1"
    with pytest.raises(anthropic.RateLimitError) as caught:
        create(sdk(emulator_url), "429;retry-after-ms=2500")
    assert caught.value.response.headers["retry-after-ms"] == "2500"
    assert caught.value.response.headers["retry-after"] == "3"
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        create(sdk(emulator_url), "529;retry-after=2")
    assert overloaded.value.response.headers["retry-after"] == "2"
    assert "retry-after-ms" not in overloaded.value.response.headers


def test_sdk_honours_retry_after_ms_and_the_emulator_sees_each_attempt() -> None:
    with running_emulator_app() as (url, app):
        started = time.perf_counter()
        with pytest.raises(anthropic.OverloadedError):
            create(sdk(url, retries=1), "529;retry-after-ms=300")
        elapsed = time.perf_counter() - started
        assert elapsed >= 0.3
        assert app.attempts == {"0": 1, "1": 1}


def test_sdk_retries_a_seeded_429_and_succeeds() -> None:
    flaky = Behaviour(error_rates={"429": 0.5}, retry_after_ms=5)
    with running_emulator_app(EmulatorConfig(seed=1, default=flaky)) as (url, app):
        client = sdk(url, retries=8)
        answers = [create(client, prompt=f"q{i}") for i in range(8)]
    assert all(a.type == "message" for a in answers)
    assert app.attempts["0"] == 8 and sum(app.attempts.values()) > 8  # some first attempts failed, retries won


def outcomes(url: str, n: int = 30) -> list[int]:
    client, seen = sdk(url), []
    for _ in range(n):
        try:
            with client.messages.stream(model=HAIKU, max_tokens=20, messages=HI) as stream:
                stream.get_final_message()
            seen.append(200)
        except anthropic.APIStatusError as e:
            seen.append(e.status_code if e.status_code != 200 else -1)  # -1: mid-stream error event
    return seen


def test_seeded_injection_repeats_exactly(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    rates = Behaviour(error_rates={"529": 0.2, "429": 0.1, "500": 0.1, "midstream": 0.2}, retry_after_ms=5)
    first = outcomes(start_emulator(EmulatorConfig(seed=42, default=rates)))
    again = outcomes(start_emulator(EmulatorConfig(seed=42, default=rates)))
    other = outcomes(start_emulator(EmulatorConfig(seed=43, default=rates)))
    assert first == again
    assert first != other
    assert {200, 529, 429, 500, -1} <= set(first)


def test_rates_apply_per_model_whatever_name_is_used(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    config = EmulatorConfig(per_model={"haiku": Behaviour(error_rates={"529": 1.0})})
    client = sdk(start_emulator(config))
    with pytest.raises(anthropic.OverloadedError):
        create(client)  # by id; the config named the tier
    answer = client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=HI)
    assert answer.type == "message"


def test_midstream_fault_raises_from_the_sdk_stream_after_some_text(emulator_url: str) -> None:
    received: list[str] = []
    client = sdk(emulator_url)
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=HAIKU, max_tokens=200, messages=HI,
                               extra_headers={"x-tiered-fault": "midstream"}) as stream,
    ):
        received.extend(stream.text_stream)
    assert caught.value.status_code == 200 and caught.value.type == "overloaded_error"
    assert len(received) == 1 and received[0]


def test_midstream_raw_stream_has_no_message_stop(emulator_url: str) -> None:
    body = {"model": HAIKU, "max_tokens": 100, "stream": True, "messages": HI}
    response = httpx2.post(f"{emulator_url}/v1/messages", json=body,
                           headers={"x-api-key": "k", "x-tiered-fault": "midstream"})
    events = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    assert response.status_code == 200
    assert events == ["message_start", "ping", "content_block_start", "content_block_delta", "error"]


def test_midstream_fault_cuts_a_tool_input_stream(emulator_url: str) -> None:
    tool: Any = {"name": "score", "input_schema": {"type": "object", "properties": {"confidence": {"type": "number"},
                                                                                    "reason": {"type": "string"}}}}
    kinds: list[str] = []
    client = sdk(emulator_url)
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=HAIKU, max_tokens=200, messages=HI, tools=[tool], tool_choice={"type": "any"},
                               extra_headers={"x-tiered-fault": "midstream"}) as stream,
    ):
        kinds.extend(event.type for event in stream)
    assert caught.value.type == "overloaded_error"
    assert "content_block_delta" in kinds and "message_stop" not in kinds


def test_midstream_on_a_non_streaming_request_is_a_529(emulator_url: str) -> None:
    with pytest.raises(anthropic.OverloadedError):
        create(sdk(emulator_url), "midstream")


@pytest.mark.parametrize("header", ["overloaded", "200", "529;retry-after-ms=soon", "529;colour=red"])
def test_malformed_fault_header_is_400(emulator_url: str, header: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        create(sdk(emulator_url), header)
    assert "x-tiered-fault" in str(caught.value.body)


def test_latency_header_delays_the_answer(emulator_url: str) -> None:
    client = sdk(emulator_url)
    started = time.perf_counter()
    client.messages.create(model=HAIKU, max_tokens=5, messages=HI, extra_headers={"x-tiered-latency-ms": "250"})
    assert time.perf_counter() - started >= 0.25
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=HAIKU, max_tokens=5, messages=HI, extra_headers={"x-tiered-latency-ms": "soon"})


def test_configured_latency_paces_the_stream(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    client = sdk(start_emulator(EmulatorConfig(default=Behaviour(ttft_ms=150, tpot_ms=2))))
    started = time.perf_counter()
    arrivals: list[float] = []
    with client.messages.stream(model=HAIKU, max_tokens=200, messages=HI) as stream:
        for _ in stream.text_stream:
            arrivals.append(time.perf_counter() - started)
        final = stream.get_final_message()
    assert arrivals[0] >= 0.15
    assert arrivals[-1] - arrivals[0] >= 0.002 * (final.usage.output_tokens - 12) * 0.9
