"""Policies that only an evaluation can run, because they read the recorded answers' quality.

`Oracle` sends each prompt to the cheapest tier whose recorded quality is the highest of all tiers:
the ceiling any router could reach with these models. `fit_task_map` learns a task -> tier table from
recorded quality (on a training split), for the task-map policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tiered.datasets import Item
from tiered.evaluation.replay import TierMap
from tiered.policies.base import Call, Flow, Result
from tiered.records import Decision
from tiered.types import Request


class Oracle:
    """Knows, for every prompt (by its text), the cheapest tier that answers it best."""

    def __init__(self, best: Mapping[str, str], default: str) -> None:
        self.best = best
        self.default = default

    @classmethod
    def from_items(cls, items: Sequence[Item], tiers: TierMap) -> Oracle:
        best: dict[str, str] = {}
        for item in items:
            qualities = [(item.outcomes[m].quality if m in item.outcomes else float("-inf"), t)
                         for t, m in tiers.tiers.items()]
            top = max(q for q, _ in qualities)
            best[Request.user(item.prompt).prompt_text] = next(t for q, t in qualities if q == top)
        return cls(best, default=tiers.names[-1])

    def flow(self, request: Request) -> Flow:
        tier = self.best.get(request.prompt_text, self.default)
        outcome = yield Call(tier, request, reason="oracle")
        return Result(outcome, Decision(repr(self), tier, "oracle: cheapest tier with the best recorded quality"))

    def __repr__(self) -> str:
        return f"Oracle({len(self.best)} prompts)"


def fit_task_map(items: Sequence[Item], tiers: TierMap, tolerance: float) -> dict[str, str]:
    """task -> the cheapest tier whose mean quality on the task is within `tolerance` of the best tier's.

    `tolerance` is relative: 0.05 accepts a tier at 95% of the best tier's quality on that task.
    """
    by_task: dict[str, list[Item]] = {}
    for item in items:
        by_task.setdefault(item.task, []).append(item)
    table: dict[str, str] = {}
    for task, task_items in sorted(by_task.items()):
        means = []
        for tier, model in tiers.tiers.items():
            qs = [i.outcomes[model].quality for i in task_items if model in i.outcomes]
            means.append((sum(qs) / len(qs) if qs else float("-inf"), tier))
        best = max(q for q, _ in means)
        table[task] = next(t for q, t in means if q >= (1.0 - tolerance) * best - 1e-12)
    return table
