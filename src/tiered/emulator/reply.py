"""One answer to one valid Messages request, before it is framed as JSON or as SSE.

A forced tool choice ({"type": "tool", "name": X} or {"type": "any"}, which picks the first custom
tool) answers with a single tool_use block and stop_reason "tool_use" (the learning loop's judge tool,
with replay on, is answered from the replay data: `tiered.emulator.judge`); otherwise the answer is one
text block: the replayed response when the model is replayed, else invented text (content.py), cut
by stop sequences and max_tokens (an invented answer is shorter at a low `output_config.effort`, longer
at xhigh or max: `EFFORT_LENGTH`). Structured output (`output_config.format` of type json_schema)
makes that text a JSON document generated from the schema, as tool input is. With `thinking`
enabled or adaptive, a short thinking block (with a signature) comes first and counts toward
output tokens and max_tokens. `max_tokens: 0` (allowed: it pre-warms the prompt cache) answers no
content block at all, stop_reason "max_tokens" and 0 output tokens.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tiered.emulator.content import cut, invented_text, seed_for, tool_input
from tiered.emulator.judge import judge_input
from tiered.emulator.replay_lookup import ReplayAnswers, last_user_text
from tiered.emulator.tokens import estimate_tokens
from tiered.emulator.wire import Ids, dumps
from tiered.online.judge import JUDGE_TOOL


@dataclass(frozen=True, slots=True)
class Reply:
    blocks: tuple[dict[str, Any], ...]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def forced_tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choice = body.get("tool_choice")
    if not isinstance(choice, Mapping) or choice.get("type") not in ("tool", "any"):
        return None
    for tool in body.get("tools") or ():
        if choice["type"] == "any" and isinstance(tool.get("input_schema"), Mapping):
            return tool  # type: ignore[no-any-return]
        if choice["type"] == "tool" and tool["name"] == choice["name"]:
            return tool  # type: ignore[no-any-return]
    return None


def output_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON schema of `output_config.format` when structured output is asked for."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, Mapping) else None
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), Mapping):
        return fmt["schema"]  # type: ignore[no-any-return]
    return None


THINKING_TOKENS = 60
"""Emulated reasoning is short: at most this many tokens, within budget_tokens and max_tokens."""


def thinking_block(body: Mapping[str, Any], seed: int) -> dict[str, Any] | None:
    """A thinking block when `thinking` is enabled or adaptive (empty text when display is "omitted")."""
    config = body.get("thinking")
    if not isinstance(config, Mapping) or config.get("type") not in ("enabled", "adaptive"):
        return None
    budget = config.get("budget_tokens")
    limit = min(THINKING_TOKENS, budget if isinstance(budget, int) else THINKING_TOKENS, body["max_tokens"] // 2)
    text = cut(invented_text(seed ^ 0x5EED), max(0, limit)).text
    signature = f"emu{seed:016x}"
    return {"type": "thinking", "thinking": "" if config.get("display") == "omitted" else text, "signature": signature}


EFFORT_LENGTH = {"low": 0.35, "medium": 0.6, "high": 1.0, "xhigh": 1.4, "max": 1.8}
"""How `output_config.effort` scales an invented answer's length (the API's effort trades output for depth)."""


def _at_effort(text: str, body: Mapping[str, Any]) -> str:
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, Mapping) else None
    factor = EFFORT_LENGTH.get(effort, 1.0) if isinstance(effort, str) else 1.0
    if factor == 1.0:
        return text
    words = text.split(" ")
    wanted = max(1, round(len(words) * factor))
    return " ".join((words * (wanted // len(words) + 1))[:wanted])


def compose(body: Mapping[str, Any], replay: ReplayAnswers | None, ids: Ids) -> Reply:
    if body["max_tokens"] == 0:  # a cache pre-warm: the prompt is read (and cached), nothing is written
        return Reply((), "max_tokens", None, 0)
    model: str = body["model"]
    prompt = last_user_text(body["messages"])
    seed = seed_for(model, prompt)
    recorded = replay.answer(model, prompt) if replay is not None else None
    text = recorded if recorded is not None else _at_effort(invented_text(seed), body)
    thinking = thinking_block(body, seed)
    before: tuple[dict[str, Any], ...] = (thinking,) if thinking is not None else ()
    spent = estimate_tokens(thinking["thinking"]) if thinking is not None else 0
    tool = forced_tool(body)
    if tool is not None:
        schema = tool.get("input_schema")
        args = judge_input(replay, prompt) if replay is not None and tool["name"] == JUDGE_TOOL else None
        if args is None:
            args = tool_input(schema if isinstance(schema, Mapping) else {}, random.Random(seed), text)
        block = {"type": "tool_use", "id": ids.make("toolu"), "name": tool["name"], "input": args}
        return Reply((*before, block), "tool_use", None, spent + max(1, estimate_tokens(dumps(args).decode())))
    schema = output_schema(body)
    if schema is not None:
        text = dumps(tool_input(schema, random.Random(seed), text)).decode()
    stops = body.get("stop_sequences") or ()
    done = cut(text, body["max_tokens"] - spent, stops)
    return Reply(
        (*before, {"type": "text", "text": done.text}),
        done.stop_reason,
        done.stop_sequence,
        spent + max(1, estimate_tokens(done.text)),
    )
