"""Small regression trees over the dense prompt features, evaluated in pure Python.

The learned scorer adds a few dozen depth-3 trees (gradient boosting, fitted by `tiered train`) to its linear
part: they catch what a linear model over length and symbol counts cannot (very short prompts behave unlike
long ones). Node i splits on feature `feature[i]` (-1 marks a leaf) at `threshold[i]`: `x <= threshold` goes
to `left[i]`, as in sklearn; a leaf's `value` is added to the score. Children always come after their parent,
which `from_json` checks, so evaluation always ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tiered.errors import ConfigError

TreeTuple = tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...], tuple[int, ...], tuple[float, ...]]


def sum_trees(trees: Sequence[TreeTuple], x: Sequence[float]) -> float:
    """Σ tree(x), with the loop inlined: one method call per tree would cost as much as the walk itself."""
    total = 0.0
    for feature, threshold, left, right, value in trees:
        i = 0
        f = feature[0]
        while f >= 0:
            i = left[i] if x[f] <= threshold[i] else right[i]
            f = feature[i]
        total += value[i]
    return total


@dataclass(frozen=True, slots=True)
class Tree:
    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def predict(self, x: Sequence[float]) -> float:
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        i = 0
        while (f := feature[i]) >= 0:
            i = left[i] if x[f] <= threshold[i] else right[i]
        return self.value[i]

    def as_tuple(self) -> TreeTuple:
        return self.feature, self.threshold, self.left, self.right, self.value

    def to_json(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "feature": [names[f] if f >= 0 else None for f in self.feature],
            "threshold": list(self.threshold),
            "left": list(self.left),
            "right": list(self.right),
            "value": list(self.value),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], names: Sequence[str]) -> Tree:
        index = {n: i for i, n in enumerate(names)}
        try:
            feature = tuple(-1 if f is None else index[f] for f in raw["feature"])
            threshold = tuple(float(t) for t in raw["threshold"])
            left = tuple(int(v) for v in raw["left"])
            right = tuple(int(v) for v in raw["right"])
            value = tuple(float(v) for v in raw["value"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"learned-scorer tree is malformed: {e!r}") from e
        n = len(feature)
        if n == 0 or not all(len(a) == n for a in (threshold, left, right, value)):
            raise ConfigError("learned-scorer tree: node arrays must be non-empty and of one length")
        for i, f in enumerate(feature):
            if f >= 0 and not (i < left[i] < n and i < right[i] < n):
                raise ConfigError(f"learned-scorer tree: node {i} has children outside ({i}, {n})")
        return cls(feature, threshold, left, right, value)
