"""Response <-> SSE events: the synthesized sequence, accumulation, truncation and error events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import pytest

from tiered.errors import Overloaded, RateLimited, ServerError
from tiered.models.events import accumulate, collect, response_events
from tiered.types import Response, StreamEvent, Usage

RESPONSE = Response(
    id="msg_1",
    model="claude-haiku-4-5",
    content=(
        {"type": "thinking", "thinking": "let me see", "signature": "sig"},
        {"type": "text", "text": "The answer is forty-two, as computed below."},
        {"type": "tool_use", "id": "toolu_1", "name": "score", "input": {"confidence": 0.9, "tags": ["a"]}},
    ),
    stop_reason="tool_use",
    usage=Usage(input_tokens=12, output_tokens=30, cache_read_input_tokens=5),
)


def test_event_sequence_follows_the_api_order() -> None:
    types = [e["type"] for e in response_events(RESPONSE, chunk_chars=10)]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    # thinking: start, thinking_delta, signature_delta, stop; text of 43 chars in 10-char deltas: 5; tool: 1 delta
    assert types[1:-2] == ["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                           "content_block_start", *["content_block_delta"] * 5, "content_block_stop",
                           "content_block_start", "content_block_delta", "content_block_stop"]


def test_message_start_has_no_stop_reason_and_blocks_start_empty() -> None:
    events = list(response_events(RESPONSE))
    start = events[0]["message"]
    assert start["stop_reason"] is None
    assert start["content"] == []
    assert start["usage"]["input_tokens"] == 12
    assert start["usage"]["output_tokens"] == 0
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert starts[1] == {"type": "text", "text": ""}
    assert starts[2]["input"] == {}


def test_round_trip_is_identical() -> None:
    for size in (1, 7, 1000):
        assert accumulate(response_events(RESPONSE, chunk_chars=size)) == RESPONSE


def test_accumulate_ignores_ping_and_unknown_events() -> None:
    events = list(response_events(RESPONSE))
    noisy = [events[0], {"type": "ping"}, *events[1:3], {"type": "some_future_event", "x": 1}, *events[3:]]
    assert accumulate(noisy) == RESPONSE


def test_message_delta_usage_overwrites_and_keeps_missing_fields() -> None:
    events = list(response_events(RESPONSE))
    events[-2] = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                  "usage": {"output_tokens": 99}}
    result = accumulate(events)
    assert result.usage.output_tokens == 99
    assert result.usage.input_tokens == 12
    assert result.usage.cache_read_input_tokens == 5
    assert result.stop_reason == "end_turn"


def test_stream_without_message_stop_is_a_truncation_error() -> None:
    events = list(response_events(RESPONSE))[:-1]
    with pytest.raises(ServerError) as info:
        accumulate(events, model="claude-haiku-4-5")
    assert info.value.midstream
    assert info.value.retryable
    assert "truncated" in str(info.value)


def test_empty_stream_is_a_truncation_error() -> None:
    with pytest.raises(ServerError):
        accumulate([])


def test_error_event_raises_the_matching_error_midstream() -> None:
    events: list[StreamEvent] = [*list(response_events(RESPONSE))[:4],
                                 {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    with pytest.raises(Overloaded) as info:
        accumulate(events)
    assert info.value.midstream
    with pytest.raises(RateLimited):
        accumulate([{"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}])


def test_bad_tool_json_is_an_error() -> None:
    events = [e for e in response_events(RESPONSE) if e.get("delta", {}).get("type") != "input_json_delta"]
    broken = {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{"}}
    stop_at = next(i for i, e in enumerate(events) if e["type"] == "content_block_stop" and e["index"] == 2)
    events.insert(stop_at, broken)
    with pytest.raises(ServerError):
        accumulate(events)


def test_chunk_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_chars"):
        list(response_events(RESPONSE, chunk_chars=0))


async def _aiter(events: Iterable[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for e in events:
        yield e


async def test_collect_measures_time_to_first_delta() -> None:
    now = [0.0]

    async def slow_events() -> AsyncIterator[StreamEvent]:
        for i, event in enumerate(response_events(RESPONSE)):
            now[0] = 0.1 * (i + 1)  # event i arrives at (i + 1) x 100 ms
            yield event

    result = await collect(slow_events(), clock=lambda: now[0])
    # message_start (100 ms), thinking block start (200 ms), first delta (300 ms); the clock started at 0
    assert result.ttft_ms == pytest.approx(300.0)
    assert result.content == RESPONSE.content


async def test_collect_raises_on_truncation() -> None:
    with pytest.raises(ServerError):
        await collect(_aiter(list(response_events(RESPONSE))[:5]))
