"""A labelled example: one prompt of the traffic and what is known of how well each tier answered it.

Examples come from the request log (`tiered.learning.store.examples_from_log`: prompts the gateway kept, joined
with their labels) or from an outcome dataset treated as traffic (`examples_from_dataset`), and they are all
the learning code sees: `learn` fits on them, `verify` measures on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tiered.datasets import Item


@dataclass(frozen=True, slots=True)
class Example:
    """One prompt and the quality in [0, 1] of the answers we know of, keyed by tier name or model id."""

    prompt: str
    task: str | None = None
    """The task the request declared (`x-tiered-task`, a task map's task, a dataset's `task`), if any."""
    outcomes: Mapping[str, float] = field(default_factory=dict)
    """Quality in [0, 1] per tier name or model id; only those known (a cascade label knows the cheap one)."""
    trace_id: str | None = None
    created_at: float | None = None
    source: str = ""
    """Where the labels came from: feedback | judge | cascade | manual (joined by '+'), or a dataset's name."""

    def gain(self, weak: str, strong: str) -> float | None:
        """The strong answer's quality minus the weak one's, or None when the weak one is unknown.

        A strong outcome that is not known (a cascade label names only the cheap tier) is taken as 1.0: what the
        cascade escalates to is the reference it trusts.
        """
        w = self.outcomes.get(weak)
        if w is None:
            return None
        return self.outcomes.get(strong, 1.0) - w

    def has(self, *names: str) -> bool:
        return all(n in self.outcomes for n in names)


def examples_from_items(items: Iterable[Item], models: Sequence[str] | None = None, *,
                        source: str = "") -> list[Example]:
    """Dataset items as examples (only the outcomes of `models` when given), in the items' order."""
    out = []
    for item in items:
        outcomes = {m: o.quality for m, o in item.outcomes.items() if models is None or m in models}
        out.append(Example(prompt=item.prompt, task=item.task or None, outcomes=outcomes, trace_id=item.id,
                           source=source or item.source))
    return out
