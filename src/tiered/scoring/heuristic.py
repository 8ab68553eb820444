"""A fast, pure difficulty score from surface cues of the prompt: no model, no I/O, microseconds.

    score = clamp(Σ weight_k × signal_k, 0, 1)

with each signal in [0, 1]: length (log-scaled, saturating around `long_chars`), code (fences,
code-like lines and keywords), maths (formulas, operators, proof words), multi-step structure
(numbered steps, "then", "step by step") and reasoning cues ("why", "trade-off", "design", "debug").
It is a baseline and a fallback (for the LLM scorer when its call fails), not a trained model; the
learned scorer (`tiered.scoring.learned`) does better on real traffic. Weights are data you can
tune (a threshold sweep over stored scores needs no re-scoring).

    ComplexityRouter(HeuristicScorer(), Thresholds.of(("haiku", "sonnet", "opus"), (0.3, 0.6)))
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tiered.types import Request

_CODE = re.compile(
    r"```|^[ \t]{4,}\S|\bdef |\bclass |\bimport |\breturn\b|#include|\bfunction\b|=>|\bSELECT\b|\bstack ?trace\b|"
    r"Traceback|\w+\(\)|[{};]\s*$",
    re.MULTILINE | re.IGNORECASE,
)
_MATH = re.compile(
    r"\\frac|\\sum|\\int|\$[^$]+\$|\b(prove|proof|theorem|lemma|integral|derivative|equation|matrix|eigen\w*|"
    r"probability|expected value|modulo|polynomial)\b|\d\s*[-+*/^=]\s*\d",
    re.IGNORECASE,
)
_STEPS = re.compile(
    r"^[ \t]*(\d+[.)]|[-*•])[ \t]+|\bstep[- ]by[- ]step\b|\bthen\b|\bafterwards\b|\bfinally\b|\bfirst(ly)?,",
    re.MULTILINE | re.IGNORECASE,
)
_REASONING = re.compile(
    r"\b(why|explain|analy[sz]e|compare|evaluate|design|architect\w*|trade-?offs?|optimi[sz]e|debug\w*|"
    r"root cause|refactor|review|strategy|plan|justify|critique|reason about|implications?)\b",
    re.IGNORECASE,
)

DEFAULT_WEIGHTS: Mapping[str, float] = {"length": 0.25, "code": 0.25, "maths": 0.2, "steps": 0.15, "reasoning": 0.3}


@dataclass(frozen=True, slots=True)
class HeuristicScorer:
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    long_chars: int = 4000
    """Prompts this long get the full length signal."""

    def signals(self, request: Request) -> dict[str, float]:
        """Each cue in [0, 1], by name (stored in the decision's scores, to explain a route)."""
        text = request.prompt_text
        return {
            "length": min(1.0, math.log1p(len(text)) / math.log1p(self.long_chars)),
            "code": _saturate(len(_CODE.findall(text)), 4),
            "maths": _saturate(len(_MATH.findall(text)), 3),
            "steps": _saturate(len(_STEPS.findall(text)), 4),
            "reasoning": _saturate(len(_REASONING.findall(text)), 3),
        }

    def score(self, request: Request) -> float:
        signals = self.signals(request)
        total = sum(self.weights.get(k, 0.0) * v for k, v in signals.items())
        return min(1.0, max(0.0, total))

    def __repr__(self) -> str:
        default = dict(self.weights) == dict(DEFAULT_WEIGHTS)
        return "HeuristicScorer()" if default else f"HeuristicScorer(weights={dict(self.weights)})"


def _saturate(count: int, full: int) -> float:
    return min(1.0, count / full)
