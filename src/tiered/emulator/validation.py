"""Body checks for /v1/messages and /v1/messages/count_tokens.

The emulator rejects what the real API rejects with a 400 invalid_request_error whose message names
the field by its path ("messages.1.role: ..."), so client code and gateways are tested against the
same failures they will meet upstream. The checks cover structure and types, not every semantic rule
of the API; a body that passes is safe for the rest of the emulator to index without further checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_MESSAGES = 100_000
_ROLES = ("user", "assistant")
_TOOL_CHOICES = ("auto", "any", "tool", "none")


class InvalidRequest(Exception):
    """The body is not a valid request; str(e) is the message sent back."""


def _fail(path: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{path}: {problem}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_messages_body(body: Any, *, count_only: bool = False) -> dict[str, Any]:
    """The body as a dict when it is a valid Messages request; raises InvalidRequest otherwise."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object")
    model = body.get("model")
    if model is None:
        raise _fail("model", "Field required")
    if not isinstance(model, str) or not model:
        raise _fail("model", "Input should be a non-empty string")
    if not count_only:
        _check_max_tokens(body)
    _check_messages(body.get("messages"))
    _check_system(body.get("system"))
    _check_tools(body)
    _check_scalars(body)
    if not count_only:
        _check_thinking_budget(body)
        _check_forced_tool_with_thinking(body)
    return body


def _check_max_tokens(body: Mapping[str, Any]) -> None:
    if "max_tokens" not in body:
        raise _fail("max_tokens", "Field required")
    value = body["max_tokens"]
    if not _is_int(value):
        raise _fail("max_tokens", "Input should be a valid integer")
    if value < 0:  # 0 is allowed: it only pre-warms the prompt cache (an empty answer)
        raise _fail("max_tokens", "Input should be greater than or equal to 0")


def _check_messages(messages: Any) -> None:
    if messages is None:
        raise _fail("messages", "Field required")
    if not isinstance(messages, list):
        raise _fail("messages", "Input should be a valid list")
    if not messages:
        raise _fail("messages", "at least one message is required")
    if len(messages) > MAX_MESSAGES:
        raise _fail("messages", f"at most {MAX_MESSAGES} messages are allowed")
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        if not isinstance(message, dict):
            raise _fail(path, "Input should be a valid dictionary")
        role = message.get("role")
        if role not in _ROLES:
            raise _fail(f"{path}.role", "Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise _fail(f"{path}.content", "Field required")
        content = message["content"]
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _fail(f"{path}.content", "Input should be a valid string or a list of content blocks")
        for j, block in enumerate(content):
            _check_block(f"{path}.content.{j}", block)


def _check_block(path: str, block: Any) -> None:
    if not isinstance(block, dict):
        raise _fail(path, "Input should be a valid dictionary")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise _fail(f"{path}.type", "Field required")
    if kind == "text" and not isinstance(block.get("text"), str):
        raise _fail(f"{path}.text", "Input should be a valid string")
    elif kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise _fail(path, "tool_use blocks need string 'id' and 'name'")
        if not isinstance(block.get("input"), dict):
            raise _fail(f"{path}.input", "Input should be a valid dictionary")
    elif kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise _fail(f"{path}.tool_use_id", "Field required")
        if not isinstance(block.get("content", ""), str | list):
            raise _fail(f"{path}.content", "Input should be a valid string or a list of content blocks")
    elif kind in ("image", "document") and not isinstance(block.get("source"), dict):
        raise _fail(f"{path}.source", "Field required")
    control = block.get("cache_control")
    if control is not None and (not isinstance(control, dict) or control.get("type") != "ephemeral"):
        raise _fail(f"{path}.cache_control", "Input should be {'type': 'ephemeral', 'ttl'?: '5m' | '1h'}")
    if isinstance(control, dict) and control.get("ttl", "5m") not in ("5m", "1h"):
        raise _fail(f"{path}.cache_control.ttl", "Input should be '5m' or '1h'")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise _fail("system", "Input should be a valid string or a list of text blocks")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _fail(f"system.{i}", "Input should be a text block")
        _check_block(f"system.{i}", block)


def _check_tools(body: Mapping[str, Any]) -> None:
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list):
            raise _fail("tools", "Input should be a valid list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _fail(f"tools.{i}", "Input should be a valid dictionary")
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise _fail(f"tools.{i}.name", "Field required")
            if tool.get("type", "custom") == "custom" and not isinstance(tool.get("input_schema"), dict):
                raise _fail(f"tools.{i}.input_schema", "Field required")
            names.add(name)
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        raise _fail("tool_choice", "Input should be {'type': 'auto' | 'any' | 'tool' | 'none', ...}")
    if choice["type"] == "tool":
        if not isinstance(choice.get("name"), str):
            raise _fail("tool_choice.name", "Field required")
        if choice["name"] not in names:
            raise _fail("tool_choice.name", f"no tool named {choice['name']!r} in tools")
    if choice["type"] == "any" and not names:
        raise _fail("tool_choice", "'any' requires at least one tool")


_EFFORTS = ("low", "medium", "high", "xhigh", "max")


def _check_scalars(body: Mapping[str, Any]) -> None:
    if "stream" in body and not isinstance(body["stream"], bool):
        raise _fail("stream", "Input should be a valid boolean")
    config = body.get("output_config")
    if isinstance(config, Mapping) and "effort" in config and config["effort"] not in _EFFORTS:
        raise _fail("output_config.effort", "Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
    for key, low, high in (("temperature", 0.0, 1.0), ("top_p", 0.0, 1.0)):
        if key in body and body[key] is not None:
            if not _is_number(body[key]):
                raise _fail(key, "Input should be a valid number")
            if not low <= body[key] <= high:
                raise _fail(key, f"Input should be between {low} and {high}")
    if "top_k" in body and body["top_k"] is not None and (not _is_int(body["top_k"]) or body["top_k"] < 0):
        raise _fail("top_k", "Input should be a non-negative integer")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise _fail("stop_sequences", "Input should be a list of strings")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _fail("metadata", "Input should be a valid dictionary")
    thinking = body.get("thinking")
    if thinking is not None and (not isinstance(thinking, dict) or not isinstance(thinking.get("type"), str)):
        raise _fail("thinking", "Input should be {'type': 'enabled' | 'adaptive' | 'disabled', ...}")


def _check_thinking_budget(body: Mapping[str, Any]) -> None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        raise _fail("thinking.enabled.budget_tokens", "Input should be an integer >= 1024")
    if budget >= body["max_tokens"]:
        raise _fail("thinking.enabled.budget_tokens", "must be less than max_tokens")


THINKING_FORCED_TOOL = "Thinking may not be enabled when tool_choice forces tool use."
"""The API's own message: with extended thinking on, only tool_choice auto or none is accepted."""


def _check_forced_tool_with_thinking(body: Mapping[str, Any]) -> None:
    thinking, choice = body.get("thinking"), body.get("tool_choice")
    if (isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
            and isinstance(choice, dict) and choice.get("type") in ("any", "tool")):
        raise InvalidRequest(THINKING_FORCED_TOOL)
