"""Worker definitions as markdown files with YAML front matter, as in Claude Code's agents folder.

    ---
    name: date-extractor
    description: Extracts every date from a document, one per line, ISO 8601.
    model: haiku            # haiku | sonnet | opus | inherit | a model id (default: inherit)
    ---
    You extract dates. Answer with one ISO 8601 date per line and nothing else.

`load_agents(directory)` reads every `*.md` there into `Agent`s by name. The body is the agent's
system prompt. `model` is honoured: a tier alias or a model id is called as written, and `inherit`
(Claude Code's default) means the model of the conversation that delegates, i.e. the planner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tiered.errors import ConfigError

INHERIT = "inherit"


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    description: str
    model: str = INHERIT
    prompt: str = ""
    """The system prompt (the file's body)."""
    tools: tuple[str, ...] = ()
    """Claude Code's `tools` field, kept for reference; tiered's workers answer with text."""

    def target(self, inherit: str) -> str:
        return inherit if self.model == INHERIT else self.model


def parse_agent(text: str, *, source: str = "<agent>") -> Agent:
    """One agent file's text -> `Agent`; a missing or malformed front matter names the file."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ConfigError(f"{source}: an agent file starts with '---' front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ConfigError(f"{source}: front matter has no closing '---'") from None
    try:
        meta: Any = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: front matter is not valid YAML: {e}") from e
    if not isinstance(meta, Mapping):
        raise ConfigError(f"{source}: front matter must be a mapping")
    name, description = meta.get("name"), meta.get("description")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{source}: 'name' is required")
    if not isinstance(description, str):
        raise ConfigError(f"{source}: 'description' is required")
    model = meta.get("model", INHERIT)
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"{source}: 'model' must be haiku, sonnet, opus, inherit or a model id")
    tools = meta.get("tools") or ()
    if isinstance(tools, str):
        tools = [t.strip() for t in tools.split(",") if t.strip()]
    return Agent(
        name=name.strip(),
        description=" ".join(description.split()),
        model=model.strip(),
        prompt="\n".join(lines[end + 1:]).strip(),
        tools=tuple(str(t) for t in tools),
    )


def load_agents(directory: str | os.PathLike[str]) -> dict[str, Agent]:
    """Every `*.md` agent in `directory`, by name (sorted by file name; a duplicate name is an error)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"agents directory {root} does not exist")
    agents: dict[str, Agent] = {}
    for path in sorted(root.glob("*.md")):
        agent = parse_agent(path.read_text("utf-8"), source=str(path))
        if agent.name in agents:
            raise ConfigError(f"{path}: agent {agent.name!r} is already defined")
        agents[agent.name] = agent
    return agents
