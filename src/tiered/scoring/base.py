"""A scorer returns a number (higher = harder); thresholds, which are data, map it to a tier.

Keeping the two apart is what lets a Pareto curve come from sweeping thresholds over stored scores,
with no re-scoring, and lets calibration be a pure function over those scores.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tiered.errors import ConfigError
from tiered.types import Request


@runtime_checkable
class Scorer(Protocol):
    def score(self, request: Request) -> float:
        """Difficulty of the request: higher means a cheaper tier is more likely to fall short."""
        ...


@dataclass(frozen=True, slots=True)
class Thresholds:
    """`tiers[i]` serves scores in `[cuts[i-1], cuts[i])`: `Thresholds(("haiku","sonnet","opus"), (0.3, 0.7))`."""

    tiers: tuple[str, ...]
    cuts: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.cuts) != len(self.tiers) - 1:
            need = len(self.tiers) - 1
            raise ConfigError(f"thresholds: {len(self.tiers)} tiers need {need} cuts, got {len(self.cuts)}")
        if list(self.cuts) != sorted(self.cuts):
            raise ConfigError(f"thresholds: cuts must not decrease, got {list(self.cuts)}")

    def tier_for(self, score: float) -> str:
        return self.tiers[bisect_right(self.cuts, score)]

    @classmethod
    def of(cls, tiers: Sequence[str], cuts: Sequence[float]) -> Thresholds:
        return cls(tuple(tiers), tuple(float(c) for c in cuts))
