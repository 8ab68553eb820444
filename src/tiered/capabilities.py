"""What a model accepts (catalog data), and a request adapted to the model it is sent to.

A router may send a request written for one model to another: a valid
`thinking: {"type": "enabled", "budget_tokens": 4000}` for Sonnet 4.6 is a 400 on Opus 4.7, which
accepts only `{"type": "adaptive"}`. The driver therefore passes every call through `adapt` for
its target's catalog entry (`ModelInfo.thinking`, `efforts`, `tools`, `max_output`):

- thinking "enabled" to a model that accepts only "adaptive": `{"type": "adaptive"}` (display kept);
- thinking "adaptive" to a model that accepts only "enabled": "enabled" with a budget of half of
  `max_tokens` (at least 1,024, below `max_tokens`), or no thinking when `max_tokens` leaves no room;
- an `output_config.effort` the model does not accept: the highest accepted effort not above it
  (else the lowest accepted); removed for a model that takes no effort at all;
- `max_tokens` above the model's `max_output` but within `largest_output` (what the largest model of
  the catalog accepts: the request was written for another model): lowered to it (a thinking budget
  follows). Above every model's maximum, it is left for the API's own 400;
- what cannot be adapted (a tool type the model lacks, thinking asked of a model without it) raises
  `Unsupported`, and a fallback chain skips that model.

Each change is described in the returned `Adapted.changes`, which the driver appends to the attempt's
reason, so the record says what was sent. `refusal` is the emulator's side: the message the API
gives a body the model cannot take, from the same catalog fields, so tests catch a request that was
not adapted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tiered.catalog import EFFORTS, ModelInfo
from tiered.errors import Unsupported
from tiered.types import Request

MIN_THINKING_BUDGET = 1024
_DATED = re.compile(r"_\d{8}$")


@dataclass(frozen=True, slots=True)
class Adapted:
    request: Request
    changes: tuple[str, ...] = ()


def tool_family(tool: Mapping[str, Any]) -> str:
    """"custom" for a client tool, else the server tool's type without its date (web_search_20250305 -> web_search)."""
    kind = tool.get("type")
    if not isinstance(kind, str) or kind == "custom":
        return "custom"
    return _DATED.sub("", kind)


def _lower_effort(effort: str, accepted: tuple[str, ...]) -> str:
    rank = EFFORTS.index(effort) if effort in EFFORTS else len(EFFORTS)
    below = [e for e in accepted if e in EFFORTS and EFFORTS.index(e) <= rank]
    if below:
        return max(below, key=EFFORTS.index)
    return min(accepted, key=lambda e: EFFORTS.index(e) if e in EFFORTS else len(EFFORTS))


def adapt(request: Request, info: ModelInfo, *, largest_output: int | None = None) -> Adapted:
    """`request` as `info`'s model accepts it (see the module docstring); `Unsupported` when it cannot be."""
    changes: list[str] = []
    extra = dict(request.extra)
    max_tokens = request.max_tokens
    if info.max_output < max_tokens <= (largest_output or info.max_output):
        changes.append(f"max_tokens {max_tokens} -> {info.max_output} ({info.id}'s maximum)")
        max_tokens = info.max_output
    if info.tools is not None:
        for tool in request.tools:
            family = tool_family(tool)
            if family not in info.tools:
                raise Unsupported(f"{info.id} does not take {family} tools (tool {tool.get('name')!r})", model=info.id)
    thinking = extra.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if isinstance(thinking, Mapping) and kind in ("enabled", "adaptive") and info.thinking is not None:
        extra_display = {"display": thinking["display"]} if "display" in thinking else {}
        if not info.thinking:
            raise Unsupported(f"{info.id} has no extended thinking (thinking.type {kind!r} asked)", model=info.id)
        if kind not in info.thinking and kind == "enabled":
            extra["thinking"] = {"type": "adaptive", **extra_display}
            changes.append(f"thinking enabled -> adaptive ({info.id} accepts only adaptive)")
        elif kind not in info.thinking:
            if max_tokens > MIN_THINKING_BUDGET:
                budget = max(MIN_THINKING_BUDGET, min(max_tokens // 2, max_tokens - 1))
                extra["thinking"] = {"type": "enabled", "budget_tokens": budget, **extra_display}
                changes.append(f"thinking adaptive -> enabled, budget {budget} ({info.id} accepts only enabled)")
            else:
                del extra["thinking"]
                changes.append(f"thinking adaptive dropped ({info.id} needs a budget, max_tokens {max_tokens} "
                               "leaves none)")
        elif kind == "enabled" and isinstance(thinking.get("budget_tokens"), int) \
                and thinking["budget_tokens"] >= max_tokens and max_tokens != request.max_tokens:
            budget = max(MIN_THINKING_BUDGET, max_tokens // 2)
            extra["thinking"] = {**thinking, "budget_tokens": budget}
            changes.append(f"thinking budget -> {budget} (below the lowered max_tokens)")
    config = extra.get("output_config")
    effort = config.get("effort") if isinstance(config, Mapping) else None
    if isinstance(config, Mapping) and isinstance(effort, str) and info.efforts is not None \
            and effort not in info.efforts:
        rest = {k: v for k, v in config.items() if k != "effort"}
        if not info.efforts:
            if rest:
                extra["output_config"] = rest
            else:
                del extra["output_config"]
            changes.append(f"effort {effort} dropped ({info.id} takes no effort)")
        else:
            chosen = _lower_effort(effort, info.efforts)
            extra["output_config"] = {**rest, "effort": chosen}
            changes.append(f"effort {effort} -> {chosen} ({info.id} accepts {', '.join(info.efforts)})")
    if not changes:
        return Adapted(request)
    return Adapted(replace(request, max_tokens=max_tokens, extra=extra), tuple(changes))


def refusal(info: ModelInfo, body: Mapping[str, Any]) -> str | None:
    """The API's 400 message for a body `info`'s model cannot take, or None (the emulator's check)."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if kind in ("enabled", "adaptive") and info.thinking is not None and kind not in info.thinking:
        if info.thinking:
            use = " or ".join(f"thinking.type.{t}" for t in info.thinking)
            return f"thinking.type.{kind} is not supported for this model. Use {use} instead."
        return f"thinking.type.{kind}: this model does not support extended thinking."
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, Mapping) else None
    if effort is not None and info.efforts is not None and effort not in info.efforts:
        if not info.efforts:
            return "output_config.effort: this model does not support the effort parameter."
        return (f"output_config.effort: {effort!r} is not supported for this model; "
                f"supported: {', '.join(info.efforts)}")
    tools = body.get("tools")
    if info.tools is not None and isinstance(tools, list):
        for i, tool in enumerate(tools):
            if isinstance(tool, Mapping) and tool_family(tool) not in info.tools:
                return f"tools.{i}.type: {tool.get('type')!r} is not supported for this model."
    return None
