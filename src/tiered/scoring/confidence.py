"""How sure is an answer? A structured self-report, checked against what the answer looks like.

Self-reported confidence alone is noisy (models are over-confident), so a `Reading` combines it with
cheap signals from the answer itself: hedging phrases, a refusal, a truncated or empty answer, an
answer far too short for an open question (a bare "C" to "Explain why..."), tool calls, and a
missing or malformed report (itself a bad sign: the model did not follow a forced tool call). A
tool call is a signal, not a failure: an answer that is only a call to one of the caller's tools (an
agent's turn) has no text, and reads as `tool_call` confidence rather than as an empty answer. When
a learned `Calibrator` is supplied it maps the same `Features` to a probability and replaces the
hand-set combination; the heuristics stay as features.

The self-report comes from a forced `report_confidence` tool call added to the *same* prompt
(`with_report_tool`); the answer then lives in the tool input, and `as_text_response` turns it back
into the plain text answer the caller asked for. The report cannot be asked when the request brings
its own tools or enables extended thinking (the API refuses a forced tool with thinking on): those
answers are read on the heuristics alone (`can_ask_report`).

    estimator = ConfidenceEstimator()
    reading = estimator.read(response, asked_report=True)
    reading.value, reading.answer, reading.features.hedges
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from tiered.types import Request, Response

REPORT_TOOL_NAME = "report_confidence"
REPORT_TOOL: Mapping[str, Any] = {
    "name": REPORT_TOOL_NAME,
    "description": "Give your complete answer to the user's request, and how confident you are that it is correct.",
    "input_schema": {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "description": "Your full answer, exactly as the user should read it."},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "Probability that the answer is correct and complete."},
            "reasoning": {"type": "string", "description": "Brief reasoning behind the answer."},
        },
        "required": ["answer", "confidence"],
    },
}

_HEDGES = (
    r"i'?m not (?:entirely |completely |totally )?sure", r"i am not (?:entirely )?sure", r"not certain",
    r"i'?m unsure", r"i don'?t know", r"hard to say", r"difficult to say", r"it'?s unclear", r"unclear",
    r"i think", r"i believe", r"i guess", r"probably", r"possibly", r"perhaps", r"might be", r"could be wrong",
    r"if i recall", r"as far as i know", r"i may be wrong", r"double-check", r"it depends", r"likely",
)
_REFUSALS = (
    r"i can'?t help", r"i cannot help", r"i can'?t assist", r"i cannot assist", r"i'?m unable to",
    r"i am unable to", r"i won'?t be able", r"i can'?t provide", r"i cannot provide", r"i must decline",
)
_OPEN = re.compile(
    r"\b(explain|why|how (?:do|does|did|can|would|should|to)|describe|discuss|write|compare|review|summari[sz]e|"
    r"design|implement|outline|walk me through|elaborate|justify|what are)\b",
    re.IGNORECASE,
)
_CLOSED = re.compile(
    r"^[ \t]*\(?[A-Ja-j][).:]\s|\bmultiple[- ]choice\b|\bwhich of the following\b|\b(?:only|just) (?:the|a|one) "
    r"(?:letter|number|word|digit|option)\b|\bone[- ]word\b|\bsingle (?:word|letter|number)\b|\byes or no\b|"
    r"\btrue or false\b|\banswer with\b",
    re.IGNORECASE | re.MULTILINE,
)
_HEDGE_RE = re.compile(r"\b(" + "|".join(_HEDGES) + r")\b", re.IGNORECASE)
_REFUSAL_RE = re.compile(r"\b(" + "|".join(_REFUSALS) + r")\b", re.IGNORECASE)


def with_report_tool(request: Request) -> Request:
    """The same prompt, with the `report_confidence` tool added and forced."""
    return replace(
        request,
        tools=(*request.tools, REPORT_TOOL),
        tool_choice={"type": "tool", "name": REPORT_TOOL_NAME},
    )


def can_ask_report(request: Request) -> bool:
    """Whether the forced report may be added: not to a request that brings its own tools (forcing ours
    would break its tool use), nor to one with extended thinking on (the API refuses a forced tool then)."""
    return not request.tools and request.tool_choice is None and not thinking_on(request)


def thinking_on(request: Request) -> bool:
    """Extended thinking is enabled (a budget) or adaptive for this request."""
    thinking = request.extra.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def open_question(request: Request) -> bool:
    """The request asks for an explanation or a piece of writing, not a letter, a number or yes/no."""
    text = request.last_user_text
    return bool(_OPEN.search(text)) and not _CLOSED.search(text)


def too_short(answer: str, request: Request | None) -> bool:
    """A bare token (at most two words, a dozen characters) answering an open question."""
    if request is None or not open_question(request):
        return False
    stripped = answer.strip()
    return 0 < len(stripped) <= 12 and len(stripped.split()) <= 2


def as_text_response(response: Response, answer: str) -> Response:
    """`response` with its content replaced by one text block: what the caller sees from a reported answer."""
    stop = "end_turn" if response.stop_reason == "tool_use" else response.stop_reason
    return replace(response, content=({"type": "text", "text": answer},), stop_reason=stop)


@dataclass(frozen=True, slots=True)
class Features:
    """What a reading is computed from; also the input of a learned calibrator."""

    self_report: float | None
    asked_report: bool
    report_valid: bool
    hedges: tuple[str, ...]
    refused: bool
    answer_chars: int
    truncated: bool
    tool_calls: int = 0
    """Calls to the caller's own tools in the answer (the report tool is not counted)."""
    too_short: bool = False
    """A bare token answering an open question (`too_short`)."""

    def vector(self) -> tuple[float, ...]:
        """A fixed-order numeric vector (a calibrator fitted on stored features reads this)."""
        return (
            -1.0 if self.self_report is None else self.self_report,
            float(self.asked_report),
            float(self.report_valid),
            float(len(self.hedges)),
            float(self.refused),
            float(min(self.answer_chars, 4000)) / 4000.0,
            float(self.truncated),
        )


@runtime_checkable
class Calibrator(Protocol):
    def probability(self, features: Features) -> float:
        """P(answer is good | features), in [0, 1]."""
        ...


@runtime_checkable
class TextCalibrator(Calibrator, Protocol):
    """A calibrator that also reads the answer's text (the shipped `LogisticCalibrator` does)."""

    def probability_of(self, features: Features, text: str | None = None, difficulty: float | None = None) -> float:
        ...


@dataclass(frozen=True, slots=True)
class Reading:
    value: float
    answer: str
    reasoning: str
    features: Features


@dataclass(frozen=True, slots=True)
class ConfidenceEstimator:
    """Hand-set combination of self-report and heuristics, unless a calibrator is given.

    Args:
        prior: the confidence of an answer with no self-report (none asked for): above the default
            0.7 bar, so only a bad sign (a hedge, a refusal, truncation) escalates it.
        invalid_report: the confidence when a report was forced but is missing or malformed.
        hedge_penalty: taken off per distinct hedging phrase, at most `max_hedge_penalty` in all.
    """

    prior: float = 0.75
    invalid_report: float = 0.2
    hedge_penalty: float = 0.15
    max_hedge_penalty: float = 0.45
    truncated_penalty: float = 0.3
    too_short_penalty: float = 0.5
    tool_call: float = 0.8
    """The confidence of an answer that is only a call to the caller's tools (an agent's turn): a decision
    to act, above the default 0.7 bar, so only a bad sign (truncation, a hedge in its text) escalates it."""
    calibrator: Calibrator | None = None

    def read(self, response: Response, *, asked_report: bool, request: Request | None = None) -> Reading:
        """Read `response`; with the `request` it answers, a bare token to an open question is caught too."""
        report = response.tool_input(REPORT_TOOL_NAME) if asked_report else None
        answer, confidence, reasoning = _parse_report(report)
        valid = answer is not None and confidence is not None
        text = answer if answer is not None else response.text
        hedges = tuple(sorted({m.group(0).lower() for m in _HEDGE_RE.finditer(text)}))
        calls = sum(1 for b in response.tool_uses if b.get("name") != REPORT_TOOL_NAME)
        features = Features(
            self_report=confidence,
            asked_report=asked_report,
            report_valid=valid or not asked_report,
            hedges=hedges,
            refused=response.stop_reason == "refusal" or bool(_REFUSAL_RE.search(text)),
            answer_chars=len(text.strip()),
            truncated=response.stop_reason == "max_tokens",
            tool_calls=calls,
            too_short=too_short(text, request),
        )
        return Reading(self._combine(features, text), text, reasoning or "", features)

    def _combine(self, f: Features, text: str | None = None) -> float:
        if f.refused:
            return 0.0
        if f.answer_chars == 0 and not f.tool_calls:
            return 0.0
        if self.calibrator is not None and f.answer_chars:
            value = (self.calibrator.probability_of(f, text) if isinstance(self.calibrator, TextCalibrator)
                     else self.calibrator.probability(f))
            return _clamp(value - (self.too_short_penalty if f.too_short else 0.0))
        if f.asked_report and not f.report_valid:
            value = self.invalid_report
        elif f.self_report is not None:
            value = f.self_report
        else:
            value = self.tool_call if f.tool_calls and not f.answer_chars else self.prior
        value -= min(self.max_hedge_penalty, self.hedge_penalty * len(f.hedges))
        if f.truncated:
            value -= self.truncated_penalty
        if f.too_short:
            value -= self.too_short_penalty
        return _clamp(value)


def _parse_report(report: Mapping[str, Any] | None) -> tuple[str | None, float | None, str | None]:
    if report is None:
        return None, None, None
    answer = report.get("answer")
    raw = report.get("confidence")
    reasoning = report.get("reasoning")
    conf: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 0.0 <= float(raw) <= 1.0:
        conf = float(raw)
    return (
        answer if isinstance(answer, str) and answer.strip() else None,
        conf,
        reasoning if isinstance(reasoning, str) else None,
    )


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, float(x)))
