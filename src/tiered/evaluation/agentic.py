"""A multi-turn agentic workload, shaped like a coding agent's traffic, for prompt-cache experiments.

Each conversation is an agent loop: a long stable prefix (about a dozen tool definitions and a
system prompt, ~14,000 tokens, with a cache breakpoint on the system prompt), the user's task, then
turns of `assistant: text + tool_use` / `user: tool_result` whose results (file contents, command
output) are a few hundred to several thousand tokens each, so the prompt grows every turn. Every
request marks its last block with `cache_control`, as agent clients do, so each turn can read the
previous turn's prefix (the API's 20-block lookback finds it).

Each turn carries the tier it needs (`needed`: most reading-and-deciding turns are Haiku work, some
need Sonnet, a few Opus), and a time: turns follow each other by seconds, and now and then the user
steps away for longer than the 5-minute cache lifetime. Assistant turns are fixed by the generator,
not taken from whichever model answered, so every routing policy replays exactly the same prompts.
Deterministic in `seed`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tiered.types import Request

TIERS = ("haiku", "sonnet", "opus")
SCORES = {"haiku": 0.15, "sonnet": 0.5, "opus": 0.85}
"""A difficulty per needed tier, for a scorer that knows the labels (see `labelled_scorer`)."""
_SENTENCE = ("the function returns a value when input is parsed config module error handler request response cache "
             "token model route tier test assert import class def self return yield async await state store key "
             "buffer stream event record policy driver catalog price budget hold settle limit retry fallback")
_WORDS = tuple(w for w in _SENTENCE.split(" ") if w)
_TOOLS = ("Read", "Edit", "Write", "Bash", "Grep", "Glob", "LS", "WebFetch", "TodoWrite", "Task", "NotebookEdit",
          "MultiEdit")
_EPHEMERAL = {"type": "ephemeral"}


@dataclass(frozen=True, slots=True)
class Turn:
    request: Request
    at_s: float
    """Seconds since the workload's start."""
    needed: str
    """The weakest tier that does this turn well."""


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    turns: tuple[Turn, ...]


def _text(rng: random.Random, tokens: int) -> str:
    words: list[str] = []
    chars = 0
    while chars < tokens * 4:
        w = rng.choice(_WORDS)
        words.append(w)
        chars += len(w) + 1
    return " ".join(words)


def agent_prefix(seed: int = 0, tool_tokens: int = 800, system_tokens: int = 4000) -> tuple[list[Any], list[Any]]:
    """(tools, system blocks): the stable prefix every conversation of one agent shares."""
    rng = random.Random(seed)
    tools = [{"name": name, "description": _text(rng, tool_tokens),
              "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}, "required": ["arg"]}}
             for name in _TOOLS]
    system = [{"type": "text", "text": _text(rng, system_tokens), "cache_control": dict(_EPHEMERAL)}]
    return tools, system


def _needed(rng: random.Random, mix: Mapping[str, float]) -> str:
    x = rng.random()
    for tier in TIERS:
        x -= mix[tier]
        if x < 0:
            return tier
    return TIERS[-1]


def agentic_workload(conversations: int = 24, *, seed: int = 0, min_turns: int = 8, max_turns: int = 24,
                     max_tokens: int = 1024, pause_chance: float = 0.08,
                     phase_stay: float = 0.6, gap_s: tuple[float, float] = (4.0, 40.0)) -> list[Conversation]:
    """`conversations` agent conversations (see the module docstring)."""
    rng = random.Random(seed)
    tools, system = agent_prefix(seed)
    out: list[Conversation] = []
    now = 0.0
    for c in range(conversations):
        kind = rng.choice(("easy", "mixed", "mixed", "hard"))
        mix = {"easy": {"haiku": 0.75, "sonnet": 0.22, "opus": 0.03},
               "mixed": {"haiku": 0.55, "sonnet": 0.35, "opus": 0.10},
               "hard": {"haiku": 0.35, "sonnet": 0.40, "opus": 0.25}}[kind]
        cid = f"agent-{seed}-{c}"
        messages: list[dict[str, Any]] = [{"role": "user", "content": [
            {"type": "text", "text": f"[{cid}] " + _text(rng, rng.randint(80, 400))}]}]
        turns: list[Turn] = []
        for t in range(rng.randint(min_turns, max_turns)):
            if t == 0:
                needed = "sonnet" if kind != "easy" else "haiku"
            elif rng.random() >= phase_stay:  # agents work in phases: explore, plan, edit, debug
                needed = _needed(rng, mix)
            else:
                needed = turns[-1].needed
            turns.append(Turn(_request(tools, system, messages, cid, max_tokens), now, needed))
            tool_id = f"toolu_{c:03d}_{t:03d}"
            messages.append({"role": "assistant", "content": [
                {"type": "text", "text": _text(rng, rng.randint(20, 120))},
                {"type": "tool_use", "id": tool_id, "name": rng.choice(_TOOLS), "input": {"arg": f"src/f{t}.py"}}]})
            size = min(8000, int(rng.lognormvariate(6.6, 0.9)))
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": tool_id, "content": _text(rng, size)}]})
            now += rng.uniform(*gap_s) if rng.random() >= pause_chance else rng.uniform(360.0, 1800.0)
        out.append(Conversation(cid, tuple(turns)))
        now += rng.uniform(30.0, 600.0)
    return out


def _request(tools: list[Any], system: list[Any], messages: list[dict[str, Any]], cid: str,
             max_tokens: int) -> Request:
    """The turn's request: the history so far with a cache breakpoint on its last block."""
    sent = [dict(m) for m in messages]
    last = dict(sent[-1])
    blocks = [dict(b) for b in last["content"]]
    blocks[-1] = {**blocks[-1], "cache_control": dict(_EPHEMERAL)}
    last["content"] = blocks
    sent[-1] = last
    return Request(messages=tuple(sent), max_tokens=max_tokens, system=tuple(system), tools=tuple(tools),
                   conversation_id=cid)


def labelled_scorer(workload: list[Conversation]) -> Any:
    """A scorer that knows each turn's needed tier (a stand-in for a perfect router), so cache-blind and
    cache-aware routing are compared at the same quality floor, whatever the scorer's own error."""
    labels = {(conv.id, turn.request.turns): SCORES[turn.needed] for conv in workload for turn in conv.turns}

    def score(request: Request) -> float:
        return labels.get((request.conversation_id or "", request.turns), SCORES["sonnet"])

    return score
