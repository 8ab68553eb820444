"""`LLMScorer`: a cheap model labels the request simple / medium / hard, and the label becomes a score.

The design note's pre-classifier: one forced tool call (`classify_difficulty`, an enum) on the
cheap tier, about 100 tokens out. It is a `StepScorer`: it yields the classification as a `Call`
with purpose "classify" instead of making it, so its cost and latency land in the request's record
as an attempt (and a `Bypass` can weigh them against the savings they buy).

The label maps to a number (`labels`), never to a tier: `Thresholds` decide the tier, so the usual
`LLM_THRESHOLDS` (cuts at 1/3 and 2/3) send simple -> haiku, medium -> sonnet, hard -> opus. When the
call fails or the label is missing, the `fallback` scorer (heuristic by default) scores instead, a
routing decision is still made, and it says which scorer decided ("heuristic fallback: classifier
call failed (overloaded_error)").

    ComplexityRouter(LLMScorer(target="haiku"), LLM_THRESHOLDS)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tiered.policies.base import Call
from tiered.scoring.base import Scorer, Thresholds
from tiered.scoring.heuristic import HeuristicScorer
from tiered.scoring.stepwise import Scored, ScoreFlow
from tiered.types import Request

CLASSIFY_TOOL = "classify_difficulty"
DEFAULT_LABELS: Mapping[str, float] = {"simple": 0.15, "medium": 0.5, "hard": 0.85}
LLM_THRESHOLDS = Thresholds(("haiku", "sonnet", "opus"), (1 / 3, 2 / 3))

_SYSTEM = (
    "You triage requests for an AI assistant by how capable a model must be to answer them well. "
    "simple: lookups, short rewrites, classification, extraction, short summaries, commit messages. "
    "medium: typical coding tasks, explanations, multi-paragraph writing, analysis with a clear method. "
    "hard: subtle reasoning, proofs, architecture or design decisions, code review, debugging across "
    "systems, long multi-step plans. Do not answer the request; only classify it."
)


def _tool(labels: Mapping[str, float]) -> Mapping[str, Any]:
    return {
        "name": CLASSIFY_TOOL,
        "description": "Record how difficult the request is.",
        "input_schema": {
            "type": "object",
            "properties": {"difficulty": {"type": "string", "enum": list(labels)}},
            "required": ["difficulty"],
        },
    }


@dataclass(frozen=True, slots=True)
class LLMScorer:
    target: str = "haiku"
    labels: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    fallback: Scorer | None = field(default_factory=HeuristicScorer)
    max_prompt_chars: int = 6000
    """Longer prompts are cut to their head and tail: the classifier needs the gist, not every token."""
    max_tokens: int = 100
    timeout_s: float | None = 10.0

    def classify_request(self, request: Request) -> Request:
        text = request.prompt_text
        if len(text) > self.max_prompt_chars:
            half = self.max_prompt_chars // 2
            text = f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"
        return Request(
            messages=({"role": "user", "content": f"<request>\n{text}\n</request>"},),
            max_tokens=self.max_tokens,
            system=_SYSTEM,
            tools=(_tool(self.labels),),
            tool_choice={"type": "tool", "name": CLASSIFY_TOOL},
            task="classify",
            headers=request.headers,
        )

    def score_flow(self, request: Request) -> ScoreFlow:
        outcome = yield Call(self.target, self.classify_request(request), purpose="classify", reason="classify",
                             timeout_s=self.timeout_s)
        label = None
        if outcome.ok and outcome.response is not None:
            raw = outcome.response.tool_input(CLASSIFY_TOOL)
            value = raw.get("difficulty") if raw is not None else None
            label = value.strip().lower() if isinstance(value, str) else None
        if label is not None and label in self.labels:
            return float(self.labels[label])
        if not outcome.ok:
            why = f"classifier call failed ({outcome.error.error_type if outcome.error else 'error'})"
        else:
            why = "classifier gave no valid label" if label is None else f"classifier gave unknown label {label!r}"
        if self.fallback is None:
            return Scored(0.5, f"default 0.5: {why}")
        return Scored(float(self.fallback.score(request)), f"{_name(self.fallback)} fallback: {why}")

    def __repr__(self) -> str:
        return f"LLMScorer({self.target!r})"


def _name(scorer: object) -> str:
    """A scorer's short name for a decision: "heuristic" for `HeuristicScorer()`."""
    name = type(scorer).__name__
    return name[: -len("Scorer")].lower() if name.endswith("Scorer") and name != "Scorer" else name
