"""Per-task thresholds: a `TaskMap` whose every task is routed by its own `ComplexityRouter`.

A router with one set of cuts spends its top-tier calls where scores are highest, whatever the task;
tasks differ in how much each tier gains on them (a cheaper tier may be as good on one task and far
behind on another), so cuts per task can buy the same quality for less. Choosing them is a small
allocation problem over stored scores: each task's own frontier of threshold settings is computed
once (prefix-free, with numpy), the combinations of per-task settings are enumerated, and their joint
frontier gives the operating points. Each chosen point is then a real policy,

    TaskMap({"arc-challenge": ComplexityRouter(scorer, cuts_arc), "mbpp": ComplexityRouter(...), ...})

replayed through the driver like every other (the numbers reported are the replayed ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np

from tiered.evaluation.policies import Context, Setting, policy_class
from tiered.evaluation.sweep import precomputed, threshold_grid
from tiered.scoring.base import Thresholds

S = TypeVar("S")
T = TypeVar("T")

MAX_PER_TASK = 40
"""Settings kept on each task's own frontier (thinned evenly beyond this)."""
MAX_JOINT = 400
"""Combinations kept after each merge."""
POINTS = 30
"""Operating points returned along the joint frontier."""


def _frontier(cands: Iterable[tuple[float, float, T]], keep: int) -> list[tuple[float, float, T]]:
    """Non-dominated (cost, quality, what) candidates, cheapest first, thinned evenly to at most `keep`."""
    out: list[tuple[float, float, T]] = []
    for c in sorted(cands, key=lambda t: (t[0], -t[1])):
        if not out or c[1] > out[-1][1] + 1e-12:
            out.append(c)
    return _thinned(out, keep)


def _thinned(seq: list[S], keep: int) -> list[S]:
    """At most `keep` of `seq`, evenly spaced from the first to the last."""
    if len(seq) <= keep:
        return seq
    idx = np.unique(np.round(np.linspace(0, len(seq) - 1, keep)).astype(int))
    return [seq[int(i)] for i in idx]


def _joint(fronts: Sequence[list[tuple[float, float, Thresholds]]]) -> list[tuple[float, float, tuple[int, ...]]]:
    """The frontier of per-task combinations: (total cost, total quality, index of each task's setting).

    Tasks are merged one at a time (every pair of a partial frontier and the next task's settings),
    pruning to the frontier after each merge, so many tasks stay cheap.
    """
    joint: list[tuple[float, float, tuple[int, ...]]] = [(0.0, 0.0, ())]
    for front in fronts:
        merged = [(c + fc, q + fq, (*pick, j)) for c, q, pick in joint for j, (fc, fq, _) in enumerate(front)]
        joint = _frontier(merged, MAX_JOINT)
    return joint


def per_task_settings(ctx: Context, points: int = POINTS) -> list[Setting]:
    task_map, router = policy_class("TaskMap"), policy_class("ComplexityRouter")
    scores = ctx.scores_of(None)
    table = precomputed(ctx.driver, ctx.items, scores)
    names = ctx.tiers.names
    quality = np.array([[i.outcomes[m].quality for m in ctx.tiers.models] for i in ctx.items])
    cost = np.array([[float(a.cost) if (a := ctx.driver.answer(i, t, m)) else 0.0 for t, m in ctx.tiers.tiers.items()]
                     for i in ctx.items])
    tasks = sorted({i.task for i in ctx.items})
    grid = threshold_grid(scores, names, ctx.steps)
    fronts = []
    for task in tasks:
        rows = np.array([k for k, i in enumerate(ctx.items) if i.task == task])
        cands = []
        for th in grid:
            tier = np.searchsorted(np.asarray(th.cuts), scores[rows], side="right")
            cands.append((float(cost[rows, tier].sum()), float(quality[rows, tier].sum()), th))
        fronts.append(_frontier(cands, MAX_PER_TASK))
    joint = _thinned(_joint(fronts), points)
    settings = []
    for _, _, pick in joint:
        chosen = {task: fronts[k][j][2] for k, (task, j) in enumerate(zip(tasks, pick, strict=True))}
        policy = task_map({t: router(table, th) for t, th in chosen.items()}, default=names[-1])
        settings.append(Setting("router per task", {"cuts": {t: list(th.cuts) for t, th in chosen.items()}}, policy))
    return settings
