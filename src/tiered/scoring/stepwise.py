"""Scorers that may need a model call: the `StepScorer` protocol, and adapters for plain scorers.

A router must count what scoring costs. A scorer that asks a model (the `LLMScorer`) therefore does
not call it itself: like a policy, its `score_flow(request)` is a generator that yields `Call`s
(purpose "classify") and returns the score, so the driver performs the call and records its cost
and latency as an attempt of the request. A score that another scorer stood in for (the LLM
scorer's heuristic fallback when its call fails) comes back as a `Scored`, which says so. Plain
scorers (`Scorer.score`, or any `callable(Request) -> float`) are adapted with `as_step_scorer` and
yield nothing.

    def score_flow(self, request):
        outcome = yield Call("haiku", classify_request(request), purpose="classify")
        return label_to_score(outcome)
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

from tiered.policies.base import Call
from tiered.scoring.base import Scorer
from tiered.types import Request


@dataclass(frozen=True, slots=True)
class Scored:
    """A score and which scorer gave it, when that is not the scorer the router was built with (the LLM
    scorer's heuristic fallback after a failed classifier call): the routing decision says so."""

    value: float
    by: str
    """e.g. "heuristic fallback: classifier call failed (overloaded_error)"."""

    def __float__(self) -> float:
        return self.value


ScoreFlow: TypeAlias = Generator[Call, Any, "float | Scored"]


@runtime_checkable
class StepScorer(Protocol):
    def score_flow(self, request: Request) -> ScoreFlow: ...


ScorerLike: TypeAlias = StepScorer | Scorer | Callable[[Request], float]


class PlainScorer:
    """A scorer with no calls of its own, as a `StepScorer` (its repr is the wrapped scorer's)."""

    def __init__(self, scorer: Scorer | Callable[[Request], float]) -> None:
        self.scorer = scorer
        # resolved once: an isinstance check against a Protocol costs ~20 µs, paid per request otherwise
        self._score: Callable[[Request], float] = scorer.score if isinstance(scorer, Scorer) else scorer

    def score_flow(self, request: Request) -> ScoreFlow:
        return float(self._score(request))
        yield  # a generator that yields nothing: the driver sees no step

    def __repr__(self) -> str:
        s = self.scorer
        return getattr(s, "__name__", None) or repr(s)


def as_step_scorer(scorer: ScorerLike) -> StepScorer:
    if isinstance(scorer, StepScorer):
        return scorer
    return PlainScorer(scorer)
