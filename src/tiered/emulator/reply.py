"""One answer to one valid Messages request, before it is framed as JSON or as SSE.

A forced tool choice ({"type": "tool", "name": X} or {"type": "any"}, which picks the first custom
tool) answers with a single tool_use block and stop_reason "tool_use"; otherwise the answer is one
text block: the replayed response when the model is replayed, else invented text (content.py), cut
by stop sequences and max_tokens. Structured output (`output_config.format` of type json_schema)
makes that text a JSON document generated from the schema, as tool input is.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tiered.emulator.content import cut, invented_text, seed_for, tool_input
from tiered.emulator.replay_lookup import ReplayAnswers, last_user_text
from tiered.emulator.tokens import estimate_tokens
from tiered.emulator.wire import Ids, dumps


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


def compose(body: Mapping[str, Any], replay: ReplayAnswers | None, ids: Ids) -> Reply:
    model: str = body["model"]
    prompt = last_user_text(body["messages"])
    seed = seed_for(model, prompt)
    recorded = replay.answer(model, prompt) if replay is not None else None
    text = recorded if recorded is not None else invented_text(seed)
    tool = forced_tool(body)
    if tool is not None:
        schema = tool.get("input_schema")
        args = tool_input(schema if isinstance(schema, Mapping) else {}, random.Random(seed), text)
        block = {"type": "tool_use", "id": ids.make("toolu"), "name": tool["name"], "input": args}
        return Reply((block,), "tool_use", None, max(1, estimate_tokens(dumps(args).decode())))
    schema = output_schema(body)
    if schema is not None:
        text = dumps(tool_input(schema, random.Random(seed), text)).decode()
    stops = body.get("stop_sequences") or ()
    done = cut(text, body["max_tokens"], stops)
    return Reply(
        ({"type": "text", "text": done.text},),
        done.stop_reason,
        done.stop_sequence,
        max(1, estimate_tokens(done.text)),
    )
