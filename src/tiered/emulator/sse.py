"""A reply as a Messages event stream, in the exact order the SDK accumulates:

    message_start, ping, [content_block_start, content_block_delta+, content_block_stop]*,
    message_delta, message_stop

Text goes out in `TEXT_CHUNK`-character text_delta events (thinking as thinking_delta events and
one signature_delta) and tool input as input_json_delta chunks of its JSON. A mid-stream fault
replaces everything after the first delta with one `error` event (overloaded_error) and no
message_stop, as the real API does when it sheds load.
Each chunk comes with the number of output tokens it carries, so the server can pace the stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tiered.emulator.reply import Reply
from tiered.emulator.tokens import estimate_tokens
from tiered.emulator.wire import dumps, sse_event

TEXT_CHUNK = 48
JSON_CHUNK = 32


def _deltas(block: dict[str, Any]) -> Iterator[tuple[dict[str, Any], int]]:
    if block["type"] == "thinking":
        thinking: str = block["thinking"]
        for i in range(0, len(thinking), TEXT_CHUNK):
            piece = thinking[i : i + TEXT_CHUNK]
            yield {"type": "thinking_delta", "thinking": piece}, estimate_tokens(piece)
        yield {"type": "signature_delta", "signature": block["signature"]}, 0
    elif block["type"] == "text":
        text: str = block["text"]
        for i in range(0, max(1, len(text)), TEXT_CHUNK):
            piece = text[i : i + TEXT_CHUNK]
            yield {"type": "text_delta", "text": piece}, estimate_tokens(piece)
    else:
        raw = dumps(block["input"]).decode()
        for i in range(0, max(1, len(raw)), JSON_CHUNK):
            piece = raw[i : i + JSON_CHUNK]
            yield {"type": "input_json_delta", "partial_json": piece}, estimate_tokens(piece)


def _start_block(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "text":
        return {"type": "text", "text": ""}
    if block["type"] == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}


def stream_events(head: dict[str, Any], reply: Reply, *, fail_midstream: bool) -> Iterator[tuple[bytes, int]]:
    """(event bytes, output tokens in it). `head` is the message without content and stop fields."""
    start = {**head, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**head["usage"], "output_tokens": 1}
    yield sse_event("message_start", {"type": "message_start", "message": start}), 0
    yield sse_event("ping", {"type": "ping"}), 0
    for index, block in enumerate(reply.blocks):
        yield sse_event(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": _start_block(block)}
        ), 0
        for delta, tokens in _deltas(block):
            data = {"type": "content_block_delta", "index": index, "delta": delta}
            yield sse_event("content_block_delta", data), tokens
            if fail_midstream:
                error = {"type": "overloaded_error", "message": "Overloaded"}
                yield sse_event("error", {"type": "error", "error": error}), 0
                return
        yield sse_event("content_block_stop", {"type": "content_block_stop", "index": index}), 0
    yield sse_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence},
            "usage": {"output_tokens": reply.output_tokens},
        },
    ), 0
    yield sse_event("message_stop", {"type": "message_stop"}), 0
