"""The named policy families that `tiered eval` replays, each as a list of settings to sweep.

A builder takes the evaluation `Context` and returns `Setting`s: a display name, the parameters, and a
real policy object from `tiered.policies`. Scores and confidences are computed once per family and
served from tables (`PrecomputedScorer`, `StoredConfidence`), so the sweeps never re-score.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tiered.datasets import Item
from tiered.evaluation.oracle import Oracle, fit_task_map
from tiered.evaluation.replay import ReplayDriver, TierMap
from tiered.evaluation.scorers import resolve_scorer
from tiered.evaluation.sweep import precomputed, score_all, threshold_grid
from tiered.policies.base import Policy
from tiered.scoring.base import Scorer

TASKMAP_TOLERANCES = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    params: Mapping[str, Any]
    policy: Policy


@dataclass(slots=True)
class Context:
    driver: ReplayDriver
    items: tuple[Item, ...]
    train: tuple[Item, ...]
    tiers: TierMap
    steps: int = 20
    scorers: dict[str, Any] = field(default_factory=dict)
    """Scorer objects by name (overrides `resolve_scorer`); also caches the ones resolved."""
    scores: dict[str, np.ndarray] = field(default_factory=dict)

    def scorer(self, name: str | None) -> Scorer:
        key = name or "default"
        if key not in self.scorers:
            self.scorers[key] = resolve_scorer(name)
        scorer: Scorer = self.scorers[key]
        return scorer

    def scores_of(self, name: str | None) -> np.ndarray:
        key = name or "default"
        if key not in self.scores:
            self.scores[key] = score_all(self.scorer(name), self.driver, self.items)
        return self.scores[key]


def policy_class(name: str) -> Any:
    """A class of `tiered.policies` by name, from the package or one of its modules."""
    package = importlib.import_module("tiered.policies")
    if hasattr(package, name):
        return getattr(package, name)
    for module in ("classify", "router", "complexity", "static", "taskmap", "cascade", "delegate", "fallback",
                   "direct"):
        try:
            mod = importlib.import_module(f"tiered.policies.{module}")
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise ImportError(f"tiered.policies has no {name} in this build")


def always(ctx: Context) -> list[Setting]:
    direct = policy_class("Direct")
    return [Setting(f"always-{t}", {"tier": t}, direct(t)) for t in ctx.tiers.names]


def oracle(ctx: Context) -> list[Setting]:
    return [Setting("oracle", {}, Oracle.from_items(ctx.items, ctx.tiers))]


def _router(scorer_name: str | None, label: str) -> Callable[[Context], list[Setting]]:
    def build(ctx: Context) -> list[Setting]:
        router = policy_class("ComplexityRouter")
        scores = ctx.scores_of(scorer_name)
        table = precomputed(ctx.driver, ctx.items, scores)
        return [Setting(label, {"cuts": list(th.cuts)}, router(table, th))
                for th in threshold_grid(scores, ctx.tiers.names, ctx.steps)]

    return build


def taskmap(ctx: Context) -> list[Setting]:
    cls = policy_class("TaskMap")
    top = ctx.tiers.names[-1]
    seen: dict[tuple[tuple[str, str], ...], float] = {}
    for tol in TASKMAP_TOLERANCES:
        table = fit_task_map(ctx.train, ctx.tiers, tol)
        seen.setdefault(tuple(sorted(table.items())), tol)
    fit_on = "evaluated items" if ctx.train == ctx.items else "train split"
    return [Setting("taskmap", {"tolerance": tol, "map": dict(key), "fit_on": fit_on}, cls(dict(key), default=top))
            for key, tol in seen.items()]


def taskmap_router(ctx: Context) -> list[Setting]:
    """The task map for the tasks a cheaper tier serves nearly as well (within 5% or 10% on the training items),
    the router, swept, for the rest."""
    cls, router = policy_class("TaskMap"), policy_class("ComplexityRouter")
    top = ctx.tiers.names[-1]
    maps: dict[tuple[tuple[str, str], ...], float] = {}
    for tol in (0.05, 0.1):
        routes = {k: v for k, v in fit_task_map(ctx.train, ctx.tiers, tol).items() if v != top}
        maps.setdefault(tuple(sorted(routes.items())), tol)
    scores = ctx.scores_of(None)
    table = precomputed(ctx.driver, ctx.items, scores)
    return [Setting("taskmap+router", {"map": dict(key), "tolerance": tol, "cuts": list(th.cuts)},
                    cls(dict(key), default=router(table, th)))
            for key, tol in maps.items() for th in threshold_grid(scores, ctx.tiers.names, ctx.steps)]


def per_task(ctx: Context) -> list[Setting]:
    from tiered.evaluation.per_task import per_task_settings

    return per_task_settings(ctx)


def cascade(ctx: Context) -> list[Setting]:
    from tiered.evaluation.cascade import cascade_settings

    return cascade_settings(ctx)


BUILDERS: dict[str, Callable[[Context], list[Setting]]] = {
    "always": always,
    "random": _router("random", "random"),
    "oracle": oracle,
    "taskmap": taskmap,
    "router": _router(None, "router"),
    "router-heuristic": _router("heuristic", "router-heuristic"),
    "router-length": _router("length", "router-length"),
    "taskmap+router": taskmap_router,
    "router-per-task": per_task,
    "cascade": cascade,
}


def names() -> Sequence[str]:
    return tuple(BUILDERS)
