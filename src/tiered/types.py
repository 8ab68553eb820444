"""Frozen value objects every layer shares: a request, its usage, a response, a stream event.

A `Request` is the Anthropic Messages API body, split into the fields tiered reasons about and
`extra`, which carries everything else through untouched (so the gateway can forward fields it does
not know). Routing never rewrites the prompt: `with_model` only swaps the model, and
`with_appended_user_text` is the one sanctioned change (an escalation that shares the cheaper tier's
reasoning, when the policy is configured to do so).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

JSON = dict[str, Any]
StreamEvent = Mapping[str, Any]
"""One Anthropic SSE event as a dict: `{"type": "content_block_delta", ...}`."""


def _freeze_messages(messages: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple(dict(m) for m in messages)


@dataclass(frozen=True, slots=True)
class Request:
    """A Messages API request. `model` is what the caller asked for: an alias, an id or a route."""

    messages: tuple[Mapping[str, Any], ...]
    model: str = ""
    max_tokens: int = 1024
    system: str | tuple[Mapping[str, Any], ...] | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: Mapping[str, Any] | None = None
    stop_sequences: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other body fields (temperature, thinking, output_config, ...), forwarded as they are."""
    task: str | None = None
    """The task type, when the caller declares one (TaskMap routes on it). Not sent upstream."""
    conversation_id: str | None = None
    """Groups turns of one conversation (affinity). Not sent upstream."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra HTTP headers for the upstream call (anthropic-beta, ...). Not part of the body."""
    warm: Mapping[str, int] = field(default_factory=dict)
    """Model id -> how many tokens of this request's prompt prefix are warm in that model's prompt cache,
    as a cache ledger knew it when the request arrived (`tiered.runtime.prompt_cache`). Data for a
    cache-aware policy, which never looks anything up itself. Not sent upstream."""

    @classmethod
    def user(cls, text: str, *, model: str = "", max_tokens: int = 1024, **kw: Any) -> Request:
        """A single-turn request: the common case in code and tests."""
        return cls(messages=({"role": "user", "content": text},), model=model, max_tokens=max_tokens, **kw)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Request:
        """Build from a Messages API body that `tiered.emulator.validation` (or the gateway) checked."""
        known = {"model", "messages", "max_tokens", "system", "tools", "tool_choice", "stop_sequences", "metadata"}
        system = body.get("system")
        return cls(
            messages=_freeze_messages(body.get("messages", ())),
            model=str(body.get("model", "")),
            max_tokens=int(body.get("max_tokens", 1024)),
            system=system if isinstance(system, str) or system is None else tuple(system),
            tools=tuple(body.get("tools") or ()),
            tool_choice=body.get("tool_choice"),
            stop_sequences=tuple(body.get("stop_sequences") or ()),
            metadata=dict(body.get("metadata") or {}),
            extra={k: v for k, v in body.items() if k not in known and k != "stream"},
        )

    def to_body(self, model: str | None = None) -> JSON:
        """The JSON body to send upstream for `model` (default: the requested one)."""
        body: JSON = {
            "model": model or self.model,
            "max_tokens": self.max_tokens,
            "messages": [dict(m) for m in self.messages],
        }
        if self.system is not None:
            body["system"] = self.system if isinstance(self.system, str) else [dict(b) for b in self.system]
        if self.tools:
            body["tools"] = [dict(t) for t in self.tools]
        if self.tool_choice is not None:
            body["tool_choice"] = dict(self.tool_choice)
        if self.stop_sequences:
            body["stop_sequences"] = list(self.stop_sequences)
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        body.update(self.extra)
        return body

    def with_model(self, model: str) -> Request:
        return replace(self, model=model)

    def with_appended_user_text(self, text: str) -> Request:
        """Append text to the last user turn (escalation context). The original prompt stays first, and an
        assistant prefill after that turn stays last and untouched: the text never lands in an assistant turn."""
        msgs = list(self.messages)
        at = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i].get("role") == "user"), None)
        if at is None:  # no user turn at all (the API refuses such a body anyway): a new one, before any prefill
            return replace(self, messages=({"role": "user", "content": text}, *msgs))
        turn = dict(msgs[at])
        content = turn.get("content")
        if isinstance(content, str):
            turn["content"] = [{"type": "text", "text": content}, {"type": "text", "text": text}]
        else:
            turn["content"] = [*(content or []), {"type": "text", "text": text}]
        msgs[at] = turn
        return replace(self, messages=tuple(msgs))

    @property
    def prompt_text(self) -> str:
        """The text a scorer reads: the system prompt and every user turn's text, in order."""
        parts: list[str] = []
        if isinstance(self.system, str):
            parts.append(self.system)
        elif self.system:
            parts.extend(str(b.get("text", "")) for b in self.system)
        for m in self.messages:
            if m.get("role") != "user":
                continue
            parts.append(content_text(m.get("content")))
        return "\n".join(p for p in parts if p)

    @property
    def last_user_text(self) -> str:
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return content_text(m.get("content"))
        return ""

    @property
    def turns(self) -> int:
        return sum(1 for m in self.messages if m.get("role") == "user")


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text (and tool results) of its blocks."""
    if isinstance(content, str):
        return content
    out: list[str] = []
    for block in content or ():
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            out.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            out.append(content_text(block.get("content")))
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the API reports them. `input_tokens` excludes cached tokens."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0

    @classmethod
    def from_api(cls, usage: Mapping[str, Any] | None) -> Usage:
        """Read a `usage` object. Cache writes without a lifetime split count as 5-minute writes."""
        u = usage or {}
        created = int(u.get("cache_creation_input_tokens") or 0)
        split = u.get("cache_creation") or {}
        five = int(split.get("ephemeral_5m_input_tokens") or 0)
        hour = int(split.get("ephemeral_1h_input_tokens") or 0)
        if not split and created:
            five = created
        return cls(
            input_tokens=int(u.get("input_tokens") or 0),
            output_tokens=int(u.get("output_tokens") or 0),
            cache_creation_input_tokens=max(created, five + hour),
            cache_read_input_tokens=int(u.get("cache_read_input_tokens") or 0),
            cache_creation_5m_input_tokens=five,
            cache_creation_1h_input_tokens=hour,
        )

    def to_api(self) -> JSON:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.cache_creation_1h_input_tokens,
            },
        }

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


@dataclass(frozen=True, slots=True)
class Response:
    """A complete Messages API response."""

    id: str
    model: str
    content: tuple[Mapping[str, Any], ...]
    stop_reason: str | None
    usage: Usage
    stop_sequence: str | None = None
    request_id: str | None = None
    ttft_ms: float | None = None
    """Time to first token, when the response was streamed."""

    @classmethod
    def from_api(cls, body: Mapping[str, Any], *, request_id: str | None = None) -> Response:
        return cls(
            id=str(body.get("id", "")),
            model=str(body.get("model", "")),
            content=tuple(dict(b) for b in body.get("content") or ()),
            stop_reason=body.get("stop_reason"),
            stop_sequence=body.get("stop_sequence"),
            usage=Usage.from_api(body.get("usage")),
            request_id=request_id,
        )

    def to_api(self) -> JSON:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [dict(b) for b in self.content],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": self.usage.to_api(),
        }

    @property
    def text(self) -> str:
        return "".join(str(b.get("text", "")) for b in self.content if b.get("type") == "text")

    @property
    def tool_uses(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(b for b in self.content if b.get("type") == "tool_use")

    def tool_input(self, name: str) -> Mapping[str, Any] | None:
        """The input of the first `tool_use` block named `name`, or None."""
        for b in self.tool_uses:
            if b.get("name") == name:
                value = b.get("input")
                if isinstance(value, Mapping):
                    return value
                if isinstance(value, str):
                    try:
                        parsed = json.loads(value)
                    except ValueError:
                        return None
                    return parsed if isinstance(parsed, Mapping) else None
        return None
