"""Anthropic Messages <-> OpenAI chat completions, as pure functions over dicts (no HTTP, no SDK).

`OpenAICompatModel` uses the Messages -> chat direction for requests and chat -> Messages for
responses and streams; the reverse functions exist so that round trips can be checked and so that
a chat-completions front end can reuse them. The mapping:

    Messages                          chat completions
    system (str | text blocks)        leading {"role": "system"} message
    user text / image blocks          user content (str | text / image_url parts)
    user tool_result blocks           {"role": "tool", "tool_call_id", "content"} messages, first
    assistant text + tool_use         assistant content + tool_calls (input <-> JSON arguments)
    tools[].input_schema              tools[].function.parameters
    tool_choice auto/any/tool/none    "auto" / "required" / {"type": "function", ...} / "none"
    disable_parallel_tool_use         parallel_tool_calls = false
    stop_sequences, metadata.user_id  stop, user
    temperature, top_p (in extra)     temperature, top_p (other Anthropic-only fields are dropped)
    stop_reason                       finish_reason (end_turn/stop_sequence/pause_turn <-> stop,
                                      max_tokens <-> length, tool_use <-> tool_calls,
                                      refusal <-> content_filter)
    usage input + cache read          prompt_tokens (cache read = prompt_tokens_details.cached_tokens)

Thinking blocks have no chat form and are dropped; server tools (no `input_schema`) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tiered.errors import ServerError
from tiered.types import JSON, Request, Response, StreamEvent, Usage, content_text

PASSTHROUGH = ("temperature", "top_p")
"""Body fields that mean the same on both APIs."""
STOP_TO_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}
FINISH_TO_STOP = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
    "content_filter": "refusal",
}


# Requests ------------------------------------------------------------------------------------------

def chat_request(request: Request, model: str, *, stream: bool = False) -> JSON:
    """The chat-completions body for a Messages `request`, sent as `model`."""
    messages: list[JSON] = []
    system = request.system if isinstance(request.system, str) else content_text(request.system)
    if system:
        messages.append({"role": "system", "content": system})
    for message in request.messages:
        messages.extend(_chat_messages(message))
    body: JSON = {"model": model, "messages": messages, "max_tokens": request.max_tokens}
    tools = [_chat_tool(t) for t in request.tools if "input_schema" in t]
    if tools:
        body["tools"] = tools
    if request.tool_choice is not None:
        body.update(_chat_tool_choice(request.tool_choice))
    if request.stop_sequences:
        body["stop"] = list(request.stop_sequences)
    if request.metadata.get("user_id"):
        body["user"] = str(request.metadata["user_id"])
    body.update({k: request.extra[k] for k in PASSTHROUGH if k in request.extra})
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _chat_messages(message: Mapping[str, Any]) -> list[JSON]:
    role, content = message.get("role"), message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = list(content or ())
    if role == "assistant":
        text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
        out: JSON = {"role": "assistant", "content": text or None}
        calls = [{"id": b["id"], "type": "function",
                  "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
                 for b in blocks if b.get("type") == "tool_use"]
        if calls:
            out["tool_calls"] = calls
        return [out]
    results = [{"role": "tool", "tool_call_id": b["tool_use_id"], "content": content_text(b.get("content"))}
               for b in blocks if b.get("type") == "tool_result"]
    parts = [p for p in (_chat_part(b) for b in blocks) if p is not None]
    return results + ([{"role": role, "content": parts}] if parts else [])


def _chat_part(block: Mapping[str, Any]) -> JSON | None:
    if block.get("type") == "text":
        return {"type": "text", "text": str(block.get("text", ""))}
    if block.get("type") == "image":
        source = block.get("source") or {}
        url = source.get("url") if source.get("type") == "url" else \
            f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "image_url", "image_url": {"url": url}}
    return None


def _chat_tool(tool: Mapping[str, Any]) -> JSON:
    function: JSON = {"name": tool["name"], "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: Mapping[str, Any]) -> JSON:
    kind = choice.get("type")
    out: JSON = {"tool_choice": {"auto": "auto", "any": "required", "none": "none"}.get(str(kind), "auto")}
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def messages_request(body: Mapping[str, Any]) -> Request:
    """The Messages `Request` for a chat-completions body (the reverse of `chat_request`)."""
    system: list[str] = []
    messages: list[JSON] = []
    for m in body.get("messages") or ():
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(_chat_text(m.get("content")))
        elif role == "tool":
            result = {"type": "tool_result", "tool_use_id": m.get("tool_call_id"),
                      "content": _chat_text(m.get("content"))}
            if messages and messages[-1]["role"] == "user" and isinstance(messages[-1]["content"], list) \
                    and all(b.get("type") == "tool_result" for b in messages[-1]["content"]):
                messages[-1]["content"].append(result)
            else:
                messages.append({"role": "user", "content": [result]})
        elif role == "assistant":
            messages.append({"role": "assistant", "content": _assistant_blocks(m)})
        else:
            content = m.get("content")
            messages.append({"role": "user", "content": content if isinstance(content, str) else
                             [_anthropic_part(p) for p in content or ()]})
    extra = {k: body[k] for k in PASSTHROUGH if k in body}
    stop = body.get("stop")
    return Request(
        messages=tuple(messages),
        model=str(body.get("model", "")),
        max_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 1024),
        system="\n\n".join(system) if system else None,
        tools=tuple({"name": t["function"]["name"], "input_schema": t["function"].get("parameters") or {},
                     **({"description": t["function"]["description"]} if t["function"].get("description") else {})}
                    for t in body.get("tools") or ()),
        tool_choice=_anthropic_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        stop_sequences=(stop,) if isinstance(stop, str) else tuple(stop or ()),
        metadata={"user_id": body["user"]} if body.get("user") else {},
        extra=extra,
    )


def _chat_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content or () if p.get("type") == "text")


def _assistant_blocks(message: Mapping[str, Any]) -> list[JSON]:
    blocks: list[JSON] = []
    text = _chat_text(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        blocks.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                       "input": _arguments(call["function"].get("arguments"))})
    return blocks


def _anthropic_part(part: Mapping[str, Any]) -> JSON:
    if part.get("type") == "image_url":
        url = str((part.get("image_url") or {}).get("url", ""))
        if url.startswith("data:") and ";base64," in url:
            media_type, data = url[5:].split(";base64,", 1)
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
        return {"type": "image", "source": {"type": "url", "url": url}}
    return {"type": "text", "text": str(part.get("text", ""))}


def _anthropic_tool_choice(choice: Any, parallel: Any) -> JSON | None:
    if choice is None:
        return None
    if isinstance(choice, Mapping):
        out: JSON = {"type": "tool", "name": choice["function"]["name"]}
    else:
        out = {"type": {"auto": "auto", "required": "any", "none": "none"}.get(str(choice), "auto")}
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def _arguments(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        return json.loads(raw or "{}")
    except ValueError as e:
        raise ServerError(f"tool call arguments are not JSON: {str(raw)[:80]!r}") from e


# Responses -----------------------------------------------------------------------------------------

def usage_from_chat(usage: Mapping[str, Any] | None) -> Usage:
    u = usage or {}
    prompt = int(u.get("prompt_tokens") or 0)
    cached = int((u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return Usage(input_tokens=max(0, prompt - cached), output_tokens=int(u.get("completion_tokens") or 0),
                 cache_read_input_tokens=cached)


def usage_to_chat(usage: Usage) -> JSON:
    prompt = usage.total_input_tokens
    return {"prompt_tokens": prompt, "completion_tokens": usage.output_tokens,
            "total_tokens": prompt + usage.output_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens}}


def messages_response(body: Mapping[str, Any], *, model: str, request_id: str | None = None) -> Response:
    """A Messages `Response` (answering as `model`) for a chat-completions response body."""
    choices = body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    finish = choices[0].get("finish_reason")
    return Response(
        id=str(body.get("id", "")),
        model=model,
        content=tuple(_assistant_blocks(message)),
        stop_reason=FINISH_TO_STOP.get(str(finish), "end_turn") if finish is not None else None,
        usage=usage_from_chat(body.get("usage")),
        request_id=request_id,
    )


def chat_response(response: Response) -> JSON:
    """The chat-completions body for a Messages `Response` (the reverse of `messages_response`)."""
    message: JSON = {"role": "assistant", "content": response.text or None}
    calls = [{"id": b["id"], "type": "function",
              "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
             for b in response.tool_uses]
    if calls:
        message["tool_calls"] = calls
    finish = STOP_TO_FINISH.get(str(response.stop_reason), "stop")
    return {"id": response.id, "object": "chat.completion", "model": response.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage_to_chat(response.usage)}


class ChunkTranslator:
    """Turns chat-completion stream chunks into Anthropic SSE events, one chunk at a time.

    Text deltas and tool-call argument deltas become content blocks in arrival order; a block
    closes when another kind (or another tool call) starts. `finish()` closes the message and
    raises `ServerError(midstream=True)` if no chunk carried a `finish_reason` (a cut stream).
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._index = -1
        self._open: str | None = None
        self._tool_blocks: dict[int, int] = {}
        self._finish: str | None = None
        self._usage = Usage()

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self._started:
            events.append(self._message_start(str(chunk.get("id", ""))))
        if chunk.get("usage"):
            self._usage = usage_from_chat(chunk["usage"])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self._open != "text":
                    events += self._start({"type": "text", "text": ""}, "text")
                events.append(self._delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or ():
                events += self._tool_delta(call)
            if choice.get("finish_reason"):
                self._finish = str(choice["finish_reason"])
        return events

    def _tool_delta(self, call: Mapping[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        slot = int(call.get("index", 0))
        function = call.get("function") or {}
        if slot not in self._tool_blocks:
            block = {"type": "tool_use", "id": call.get("id") or f"toolu_{slot}", "name": function.get("name", ""),
                     "input": {}}
            events += self._start(block, f"tool{slot}")
            self._tool_blocks[slot] = self._index
        if function.get("arguments"):
            events.append({"type": "content_block_delta", "index": self._tool_blocks[slot],
                           "delta": {"type": "input_json_delta", "partial_json": function["arguments"]}})
        return events

    def finish(self) -> list[StreamEvent]:
        if self._finish is None:
            raise ServerError(f"{self._model}: stream ended without a finish_reason (truncated)",
                              model=self._model, midstream=True)
        events: list[StreamEvent] = [] if self._started else [self._message_start("")]
        events += self._close()
        events.append({"type": "message_delta",
                       "delta": {"stop_reason": FINISH_TO_STOP.get(self._finish, "end_turn"), "stop_sequence": None},
                       "usage": self._usage.to_api()})
        events.append({"type": "message_stop"})
        return events

    def _message_start(self, message_id: str) -> StreamEvent:
        self._started = True
        return {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": self._model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": Usage().to_api()}}

    def _start(self, block: JSON, kind: str) -> list[StreamEvent]:
        events = self._close()
        self._index += 1
        self._open = kind
        return [*events, {"type": "content_block_start", "index": self._index, "content_block": block}]

    def _close(self) -> list[StreamEvent]:
        if self._open is None:
            return []
        self._open = None
        return [{"type": "content_block_stop", "index": self._index}]

    def _delta(self, delta: JSON) -> StreamEvent:
        return {"type": "content_block_delta", "index": self._index, "delta": delta}

