"""POST /v1/chat/completions: the OpenAI shape on the outside, the same policies inside.

The body is translated to a Messages `Request` by `tiered.models.openai_translate.messages_request`
(the one translation tiered has, also used by the OpenAI-compatible backend) and checked by the
same validator as /v1/messages; the answer goes back through `chat_response`. Errors use OpenAI's
shape (`{"error": {"message", "type", "param", "code"}}`) with the same statuses, so the openai SDK
raises its usual classes (RateLimitError, InternalServerError, ...).

Streams are OpenAI's data-only SSE: one `chat.completion.chunk` per text or tool-argument delta, a
last chunk with the finish_reason, a usage chunk when `stream_options.include_usage` is set, and
`data: [DONE]`. `ChatChunks` maps the Anthropic events the driver yields to those chunks (the
reverse of `openai_translate.ChunkTranslator`). A failure after bytes went out is a chunk holding
`{"error": ...}` (the SDK raises on it) and no [DONE].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from tiered.errors import TieredError
from tiered.gateway import response_format
from tiered.gateway.core import Context, Core
from tiered.gateway.messages import answer, checked, head, policy_stream, relay
from tiered.gateway.wire import HttpError, Receive, Scope, Send, dumps, header, read_json, send_bytes
from tiered.models.openai_translate import STOP_TO_FINISH, chat_response, messages_request, usage_to_chat
from tiered.types import JSON, Request, StreamEvent, Usage

DONE = b"data: [DONE]\n\n"
_ROLES = ("system", "developer", "user", "assistant", "tool")


def translated(body: Any) -> Request:
    """The Messages request for a chat body; HttpError 400 (OpenAI shape) when it is not a valid one."""
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_request_error", "The request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise HttpError(400, "invalid_request_error", "model: a non-empty string is required")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise HttpError(400, "invalid_request_error", "messages: a non-empty list is required")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise HttpError(400, "invalid_request_error", f"messages.{i}.role: must be one of {', '.join(_ROLES)}")
    if body.get("n", 1) != 1:
        raise HttpError(400, "invalid_request_error", "n: only 1 is supported")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise HttpError(400, "invalid_request_error", "stream: must be a boolean")
    if not isinstance(body.get("stream_options") or {}, dict):
        raise HttpError(400, "invalid_request_error", "stream_options: must be an object")
    try:
        request = messages_request(body)
    except TieredError as e:  # the translator's own complaint (e.g. tool call arguments that are not JSON)
        raise HttpError(400, "invalid_request_error", f"cannot read the request: {e}") from e
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise HttpError(400, "invalid_request_error", f"cannot read the request: {type(e).__name__}: {e}") from e
    checked(request.to_body())  # the Messages rules (roles, blocks, max_tokens, temperature, ...)
    return request


async def create(core: Core, ctx: Context, scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_json(receive, scope, core.settings.max_body_bytes)
    request, json_tool = response_format.apply(body, core.decorate(translated(body), scope, forward=False))
    selected = core.selector.select(request.model, header(scope, b"x-tiered-route"))
    ctx.route = selected.route
    core.allow(ctx, selected)
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        s = policy_stream(core, ctx, selected, request)
        await relay(core, ctx, s, receive, send, encode=ChatChunks(include_usage, json_tool=json_tool).encode,
                    end=DONE)
        return
    response, record = await answer(core, ctx, selected, request)
    chat = {**chat_response(response), "created": int(time.time())}
    if json_tool is not None:
        chat = response_format.rewrite(chat, json_tool)
    await send_bytes(send, 200, dumps(chat), head(core, ctx, core.served_headers(record)))
    core.after(ctx, selected.route, request, response.text, record)


class ChatChunks:
    """Anthropic stream events -> OpenAI chunk lines (bytes; empty for events with no chunk form)."""

    def __init__(self, include_usage: bool, *, clock: Callable[[], float] = time.time,
                 json_tool: str | None = None) -> None:
        self.include_usage = include_usage
        self._json_tool = json_tool
        """The forced tool that carries a `response_format` answer: its arguments are sent as content."""
        self._json_block: int | None = None
        self._id = "chatcmpl-tiered"
        self._model = ""
        self._created = int(clock())
        self._tools: dict[int, int] = {}
        """Anthropic block index -> OpenAI tool_calls index."""
        self._usage = Usage()

    def _chunk(self, delta: JSON, finish: str | None = None) -> bytes:
        chunk = {"id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self._model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        return b"data: " + dumps(chunk) + b"\n\n"

    def encode(self, event: StreamEvent) -> bytes:
        kind = event.get("type")
        if kind == "message_start":
            message: Mapping[str, Any] = event.get("message") or {}
            self._id = f"chatcmpl-{message.get('id', 'tiered')}"
            self._model = str(message.get("model", ""))
            self._usage = Usage.from_api(message.get("usage"))
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") != "tool_use":
                return b""
            if self._json_tool is not None and block.get("name") == self._json_tool:
                self._json_block = int(event["index"])
                return b""
            slot = self._tools[int(event["index"])] = len(self._tools)
            return self._chunk({"tool_calls": [{"index": slot, "id": block.get("id"), "type": "function",
                                                "function": {"name": block.get("name"), "arguments": ""}}]})
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self._chunk({"content": delta.get("text", "")})
            if delta.get("type") == "input_json_delta" and int(event["index"]) == self._json_block:
                return self._chunk({"content": delta.get("partial_json", "")})
            if delta.get("type") == "input_json_delta" and int(event["index"]) in self._tools:
                slot = self._tools[int(event["index"])]
                return self._chunk({"tool_calls": [{"index": slot,
                                                    "function": {"arguments": delta.get("partial_json", "")}}]})
            return b""
        if kind == "message_delta":
            usage = {**self._usage.to_api(), **(event.get("usage") or {})}
            self._usage = Usage.from_api(usage)
            stop = (event.get("delta") or {}).get("stop_reason")
            if stop == "tool_use" and self._json_block is not None and not self._tools:
                stop = "end_turn"  # the JSON answer was the forced tool's call
            return self._chunk({}, STOP_TO_FINISH.get(str(stop), "stop"))
        if kind == "message_stop" and self.include_usage:
            chunk = {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                     "model": self._model, "choices": [], "usage": usage_to_chat(self._usage)}
            return b"data: " + dumps(chunk) + b"\n\n"
        if kind == "error":
            err = event.get("error") or {}
            return b"data: " + dumps({"error": {"message": err.get("message", "stream failed"),
                                                "type": err.get("type", "api_error"), "param": None,
                                                "code": err.get("type", "api_error")}}) + b"\n\n"
        return b""
