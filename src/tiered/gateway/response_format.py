"""OpenAI's `response_format` on /v1/chat/completions, honoured through a forced tool.

    {"type": "text"}                                   nothing to do
    {"type": "json_object"}                            the answer is one JSON object
    {"type": "json_schema", "json_schema": {"name": "...", "schema": {...}, "strict": true}}

JSON answers are asked of the model as one call of a tool `json_response` whose input schema is the
requested schema (`{"type": "object"}` for json_object), with `tool_choice` forcing it: every Claude
tier supports forced tools, so the answer is JSON that the API has checked against the schema. On the
way back the tool call becomes the message's `content` (the JSON text) with finish_reason "stop", whole
or streamed (`ChatChunks` turns the tool's argument deltas into content deltas).

Refused with a 400 invalid_request_error, never ignored: any other `type`, a schema whose top level is
not an object (a tool's input is always an object), and `response_format` together with `tools`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tiered.gateway.wire import HttpError
from tiered.types import JSON, Request

JSON_TOOL = "json_response"


def _bad(message: str) -> HttpError:
    return HttpError(400, "invalid_request_error", f"response_format: {message}")


def schema_of(response_format: Any) -> Mapping[str, Any] | None:
    """The JSON schema the answer must follow; None for plain text. `HttpError` 400 when it cannot be honoured."""
    if not isinstance(response_format, Mapping):
        raise _bad("must be an object such as {\"type\": \"json_object\"}")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind != "json_schema":
        raise _bad(f"type must be text, json_object or json_schema, not {json.dumps(kind)}")
    spec = response_format.get("json_schema")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise _bad("json_schema must be an object with a non-empty name and a schema")
    schema = spec.get("schema", {"type": "object"})
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise _bad("json_schema.schema: the top level must be an object schema ({\"type\": \"object\", ...}); "
                   "wrap other values in a property")
    return {"type": "object", **schema}


def apply(body: Mapping[str, Any], request: Request) -> tuple[Request, str | None]:
    """The request with the forced JSON tool when `body` asks for JSON, and that tool's name (else None)."""
    if body.get("response_format") is None:
        return request, None
    schema = schema_of(body["response_format"])
    if schema is None:
        return request, None
    if request.tools:
        raise _bad("cannot be combined with tools on this gateway (the JSON answer is itself a forced tool call); "
                   "send one or the other")
    tool: JSON = {"name": JSON_TOOL, "description": "Answer with the JSON object the user asked for.",
                  "input_schema": schema}
    return replace(request, tools=(tool,), tool_choice={"type": "tool", "name": JSON_TOOL}), JSON_TOOL


def rewrite(chat: JSON, tool: str) -> JSON:
    """A chat.completion whose forced JSON tool call becomes the message content."""
    for choice in chat.get("choices") or ():
        message = choice.get("message") or {}
        calls = message.get("tool_calls") or []
        json_calls = [c for c in calls if (c.get("function") or {}).get("name") == tool]
        if json_calls:
            message["content"] = json_calls[0]["function"]["arguments"]
            rest = [c for c in calls if c not in json_calls]
            if rest:
                message["tool_calls"] = rest
            else:
                message.pop("tool_calls", None)
            if choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
    return chat
