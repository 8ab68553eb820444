"""Task-specific routing: when the caller knows the task type, skip generic scoring and use a map.

    TaskMap.default_map(default=ComplexityRouter(HeuristicScorer(), thresholds))
    TaskMap({"commit-message": "haiku", "code-review": Fallback("opus", "sonnet")}, default="sonnet")

The task comes from, in order: `key(request)` when given (any function of the request), else
`Request.task` (the library argument, or the header value the gateway copies there), else
`request.metadata["task"]`. Names match case-insensitively, with spaces and underscores as dashes
("Code review" == "code_review" == "code-review"). A task maps to a tier, a model id or a whole
policy; an unknown or missing task goes to `default` (a tier, or a policy such as a router).

The packaged map (`tiered/data/taskmap.toml`) encodes the design note's table: commit messages,
short summaries, intent classification, labels, bulk processing and moderation on Haiku; fixing a
failing test and writing a feature on Sonnet; code review, architecture decisions, multi-agent
orchestration and debugging across systems on Opus. Its `[floors]` table holds the design note's
anti-pattern fix ("Haiku for code review: Sonnet minimum"), which a router applies even when the
task is only recognised from the text (`tiered.policies.floors`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from tiered.errors import ConfigError
from tiered.policies.base import Flow, Result
from tiered.policies.direct import PolicyLike, as_policy
from tiered.records import Decision
from tiered.types import Request

TaskKey = Callable[[Request], str | None]
PACKAGED = "tiered/data/taskmap.toml"


def normalize_task(task: str) -> str:
    return "-".join(task.strip().lower().replace("_", " ").split())


def load_task_routes(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The `[tasks]` table of a task map file (default: the packaged one), names normalised."""
    return _read_table(path, "tasks")


def load_task_floors(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The `[floors]` table of a task map file (default: the packaged one): task -> the lowest tier it may
    go to whatever a router scores (`tiered.policies.floors`)."""
    return _read_table(path, "floors")


def _read_table(path: str | os.PathLike[str] | None, table: str) -> dict[str, str]:
    try:
        text = (Path(path).read_text("utf-8") if path is not None
                else resources.files("tiered.data").joinpath("taskmap.toml").read_text("utf-8"))
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read task map {path or PACKAGED}: {e}") from e
    unknown = set(data) - {"tasks", "floors"}
    if unknown:
        raise ConfigError(f"task map: unknown key {sorted(unknown)[0]!r}")
    routes = data.get(table, {})
    for name, target in routes.items():
        if not isinstance(target, str):
            raise ConfigError(f"{table}.{name}: expected a tier or model name, got {target!r}")
    return {normalize_task(k): v for k, v in routes.items()}


class TaskMap:
    def __init__(
        self,
        routes: Mapping[str, PolicyLike],
        *,
        default: PolicyLike = "sonnet",
        key: TaskKey | None = None,
        source: str | None = None,
    ) -> None:
        self.routes = {normalize_task(k): v for k, v in routes.items()}
        self.default = default
        self.key = key
        self._source = source

    @classmethod
    def default_map(
        cls,
        *,
        default: PolicyLike = "sonnet",
        overrides: Mapping[str, PolicyLike] | None = None,
        key: TaskKey | None = None,
    ) -> TaskMap:
        """The packaged map, with `overrides` on top."""
        routes: dict[str, PolicyLike] = dict(load_task_routes())
        routes.update({normalize_task(k): v for k, v in (overrides or {}).items()})
        return cls(routes, default=default, key=key, source=None if overrides else PACKAGED)

    def task_of(self, request: Request) -> str | None:
        if self.key is not None:
            task = self.key(request)
        else:
            meta = request.metadata.get("task")
            task = request.task or (meta if isinstance(meta, str) else None)
        return normalize_task(task) if task else None

    def target_for(self, task: str | None) -> PolicyLike | None:
        """What `task` maps to, or None when it is unknown (the default then serves)."""
        return self.routes.get(normalize_task(task)) if task else None

    def flow(self, request: Request) -> Flow:
        task = self.task_of(request)
        mapped = self.target_for(task)
        chosen = mapped if mapped is not None else self.default
        result: Result = yield from as_policy(chosen).flow(request)
        if mapped is not None:
            head = f"task {task} -> {chosen if isinstance(chosen, str) else type(chosen).__name__}"
        else:
            head = f"unknown task {task} -> default" if task else "no task -> default"
        child = result.decision.reason
        reason = head if child.startswith("direct to") and mapped is not None else f"{head}; {child}"
        served = result.outcome.attempt.tier if result.outcome.ok else result.decision.tier
        return Result(result.outcome, Decision(repr(self), served, reason, result.decision.scores), result.degraded)

    def __repr__(self) -> str:
        routes = f"<{self._source}>" if self._source else repr(self.routes)
        extra = f", key={getattr(self.key, '__name__', repr(self.key))}" if self.key is not None else ""
        return f"TaskMap({routes}, default={self.default!r}{extra})"
