"""Anthropic SSE events <-> a whole `Response`, in both directions.

`response_events` turns a complete response into the event sequence the Messages API would have
streamed (the replay backend and fakes stream this way, so every consumer sees one shape).
`Accumulator` / `accumulate` / `collect` fold events back into a `Response` the way the SDK does:
`message_delta.usage` overwrites (it is cumulative), tool input arrives as JSON text and is parsed at
`content_block_stop`, unknown event types are ignored. A stream that ends without `message_stop` is
an error (`ServerError`, `midstream=True`), never a shorter answer passed off as complete; an
`error` event becomes the matching `ProviderError`, also with `midstream=True`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from tiered.errors import ServerError, error_for_status
from tiered.types import JSON, Response, StreamEvent, Usage

TEXT_CHUNK_CHARS = 24
"""How much text one synthesized `text_delta` carries (the API's deltas are a few tokens long)."""


def response_events(response: Response, *, chunk_chars: int = TEXT_CHUNK_CHARS) -> Iterator[StreamEvent]:
    """The SSE events (as dicts, in order) that stream `response`."""
    if chunk_chars < 1:
        raise ValueError("chunk_chars must be at least 1")
    start_usage = response.usage.to_api()
    start_usage["output_tokens"] = 0
    yield {
        "type": "message_start",
        "message": {
            "id": response.id, "type": "message", "role": "assistant", "model": response.model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage,
        },
    }
    for index, block in enumerate(response.content):
        yield from _block_events(index, block, chunk_chars)
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": response.stop_reason, "stop_sequence": response.stop_sequence},
        "usage": response.usage.to_api(),
    }
    yield {"type": "message_stop"}


def _block_events(index: int, block: Mapping[str, Any], chunk_chars: int) -> Iterator[StreamEvent]:
    kind = block.get("type")
    if kind == "text":
        text = str(block.get("text", ""))
        yield {"type": "content_block_start", "index": index, "content_block": {**block, "text": ""}}
        for i in range(0, len(text), chunk_chars):
            yield _delta(index, {"type": "text_delta", "text": text[i:i + chunk_chars]})
    elif kind == "tool_use":
        yield {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}
        yield _delta(index, {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})})
    elif kind == "thinking":
        yield {"type": "content_block_start", "index": index,
               "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
        yield _delta(index, {"type": "thinking_delta", "thinking": str(block.get("thinking", ""))})
        yield _delta(index, {"type": "signature_delta", "signature": str(block.get("signature", ""))})
    else:
        # Blocks without a delta form (redacted_thinking, server tool results) arrive whole.
        yield {"type": "content_block_start", "index": index, "content_block": dict(block)}
    yield {"type": "content_block_stop", "index": index}


def _delta(index: int, delta: JSON) -> StreamEvent:
    return {"type": "content_block_delta", "index": index, "delta": delta}


class Accumulator:
    """Folds stream events, one at a time, into a `Response` (the SDK's `accumulate_event`)."""

    def __init__(self, *, model: str = "") -> None:
        self._model = model
        self._message: JSON | None = None
        self._blocks: dict[int, JSON] = {}
        self._json_parts: dict[int, list[str]] = {}
        self._usage: JSON = {}
        self.done = False
        self.first_delta_seen = False
        self._deltas = 0

    def add(self, event: StreamEvent) -> None:
        kind = event.get("type")
        if kind == "error":
            err = event.get("error") or {}
            cls = error_for_status(200, str(err.get("type") or "api_error"))
            raise cls(f"error event mid-stream: {err.get('type')}: {err.get('message', '')}",
                      model=self._model, error_type=err.get("type"), midstream=True)
        if kind == "message_start":
            self._message = dict(event.get("message") or {})
            self._usage = dict(self._message.get("usage") or {})
        elif kind == "content_block_start":
            index = int(event["index"])
            self._blocks[index] = dict(event.get("content_block") or {})
            if self._blocks[index].get("type") == "tool_use":
                self._json_parts[index] = []
        elif kind == "content_block_delta":
            self.first_delta_seen = True
            self._deltas += 1
            self._apply_delta(int(event["index"]), event.get("delta") or {})
        elif kind == "content_block_stop":
            self._finish_block(int(event["index"]))
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            if self._message is not None:
                self._message.update({k: v for k, v in delta.items() if k in ("stop_reason", "stop_sequence")})
            self._usage.update(event.get("usage") or {})
        elif kind == "message_stop":
            self.done = True

    def _apply_delta(self, index: int, delta: Mapping[str, Any]) -> None:
        block = self._blocks.setdefault(index, {"type": "text", "text": ""})
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = str(block.get("text", "")) + str(delta.get("text", ""))
        elif kind == "input_json_delta":
            self._json_parts.setdefault(index, []).append(str(delta.get("partial_json", "")))
        elif kind == "thinking_delta":
            block["thinking"] = str(block.get("thinking", "")) + str(delta.get("thinking", ""))
        elif kind == "signature_delta":
            block["signature"] = str(delta.get("signature", ""))
        elif kind == "citations_delta":
            block["citations"] = [*(block.get("citations") or []), delta.get("citation")]

    def _finish_block(self, index: int) -> None:
        parts = self._json_parts.pop(index, None)
        if parts:
            try:
                self._blocks[index]["input"] = json.loads("".join(parts))
            except ValueError as e:
                raise ServerError(f"tool input of block {index} is not valid JSON", model=self._model,
                                  midstream=True) from e

    @property
    def partial_usage(self) -> Usage | None:
        """What a stream consumed so far, for one cut short (the upstream bills it anyway): the usage of
        `message_start` (input and cache tokens) updated by any `message_delta`, with the output tokens
        at least the number of content deltas seen (each carries one token or more, so this is a lower
        bound, never an overcharge). None before `message_start`: nothing is known to be billed."""
        if self._message is None:
            return None
        usage = Usage.from_api(self._usage)
        if usage.output_tokens >= self._deltas:
            return usage
        return Usage.from_api({**self._usage, "output_tokens": self._deltas})

    def response(self, *, request_id: str | None = None, ttft_ms: float | None = None) -> Response:
        """The accumulated response; raises `ServerError(midstream=True)` if the stream was cut short."""
        if not self.done or self._message is None:
            raise ServerError("stream ended before message_stop (truncated)", model=self._model,
                              request_id=request_id, midstream=True)
        msg = self._message
        return Response(
            id=str(msg.get("id", "")),
            model=str(msg.get("model") or self._model),
            content=tuple(self._blocks[i] for i in sorted(self._blocks)),
            stop_reason=msg.get("stop_reason"),
            stop_sequence=msg.get("stop_sequence"),
            usage=Usage.from_api(self._usage),
            request_id=request_id,
            ttft_ms=ttft_ms,
        )


def accumulate(events: Iterable[StreamEvent], *, model: str = "") -> Response:
    """The `Response` that `events` stream; raises if they hold an error or end before `message_stop`."""
    acc = Accumulator(model=model)
    for event in events:
        acc.add(event)
    return acc.response()


async def collect(
    stream: AsyncIterator[StreamEvent], *, model: str = "", clock: Callable[[], float] = time.perf_counter
) -> Response:
    """Consume a model's stream into a `Response` whose `ttft_ms` is the time to the first content delta.

    The clock starts here, before the first event is pulled: a `Model.stream` generator opens its
    request on that first pull, so this measures what a caller waits for the first token.
    """
    started = clock()
    ttft_ms: float | None = None
    acc = Accumulator(model=model)
    async for event in stream:
        acc.add(event)
        if ttft_ms is None and acc.first_delta_seen:
            ttft_ms = (clock() - started) * 1000.0
    return acc.response(ttft_ms=ttft_ms)
