"""Installing a promoted router into a running route: the route's complexity routers get its scorer and cuts.

A route's policy is a tree (a fallback around a task map around a bypass around a router, ...). `routers_in`
finds every `ComplexityRouter` in it; `Installer.install` swaps their scorer and thresholds in place, between
two requests (plain attribute assignments on the event loop's thread: a request sees the old router or the new
one, never a mix), and remembers what the config built so that rolling back to no version restores it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from typing import Any

from tiered.errors import ConfigError
from tiered.policies.router import ComplexityRouter
from tiered.scoring.base import Scorer, Thresholds
from tiered.scoring.stepwise import StepScorer, as_step_scorer

_MAX_DEPTH = 12


def router_from_bytes(data: bytes) -> Scorer:
    """A router file's content (JSON, gzip'd or not) as a scorer: a learned scorer or a traffic-adapted router."""
    from tiered.learning.router import FORMAT, AdaptedRouter
    from tiered.scoring.learned import LearnedScorer

    try:
        raw = json.loads((gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"not a router file: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError("not a router file: not a JSON object")
    return AdaptedRouter.from_json(raw) if raw.get("format") == FORMAT else LearnedScorer.from_json(raw)


def routers_in(policy: object) -> list[ComplexityRouter]:
    """Every complexity router inside a policy tree (found through attributes, tuples, lists and dicts)."""
    found: list[ComplexityRouter] = []
    seen: set[int] = set()

    def walk(obj: object, depth: int) -> None:
        if depth > _MAX_DEPTH or id(obj) in seen or isinstance(obj, str | bytes | int | float | bool | type(None)):
            return
        seen.add(id(obj))
        if isinstance(obj, ComplexityRouter):
            found.append(obj)
        for child in _children(obj):
            walk(child, depth + 1)

    walk(policy, 0)
    return found


def _children(obj: object) -> Iterator[Any]:
    if isinstance(obj, dict):
        yield from obj.values()
    elif isinstance(obj, list | tuple):
        yield from obj
    elif getattr(type(obj), "__module__", "").startswith("tiered.policies"):
        yield from getattr(obj, "__dict__", {}).values()
        for name in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, name):
                yield getattr(obj, name)


class Installer:
    """Swaps routers in one route's policy; `install(None, None)` restores what the config built."""

    def __init__(self, policy: object) -> None:
        self.routers = routers_in(policy)
        self._original: list[tuple[StepScorer, Thresholds]] = [(r.scorer, r.thresholds) for r in self.routers]
        self.installed: str | None = None

    def install(self, scorer: Scorer | None, cuts: Sequence[float] | None, version: str | None = None) -> int:
        """Give every router of the route `scorer` and `cuts` (None: the configured ones); the routers changed."""
        plan = []
        for router, (scorer0, thresholds0) in zip(self.routers, self._original, strict=True):
            thresholds = thresholds0
            if scorer is not None and cuts is not None:
                thresholds = Thresholds.of(thresholds0.tiers, cuts)  # checks the count and the order, before any swap
            plan.append((router, scorer0 if scorer is None else as_step_scorer(scorer), thresholds))
        for router, step, thresholds in plan:
            router.scorer, router.thresholds = step, thresholds
        self.installed = version if scorer is not None else None
        return len(self.routers)
