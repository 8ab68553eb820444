"""Confidence cascade: ask the cheap tier first, and escalate only when its answer looks unsure.

    Cascade(("haiku", "sonnet", "opus"),
            escalate_when=low_confidence(0.7) | hedged() | refused(),
            stop=spent_over(0.05) | elapsed_over(30))

Every tier but the last gets the *same* prompt plus a forced `report_confidence` tool (see
`tiered.scoring.confidence`): the answer and a self-reported confidence come back as the tool input.
A `ConfidenceEstimator` checks the report against the answer (hedging, refusal, truncation, a
missing or malformed report; or a learned calibrator), and `escalate_when` reads the result. The
answer the caller gets is always plain text: the reported answer becomes a text block.

A request that brings its own tools is sent without the report tool (forcing ours would break its
tool use), and so is one with extended thinking on (the API refuses a forced tool then): those are
judged on heuristics alone (hedging, length for the question, refusal, truncation, a call to the
caller's tools, and the learned calibrator when the estimator has one). The last tier is asked
plainly: its answer is final whatever it says, so it needs no report and can stream straight to the
caller.

Escalation resends the same prompt; with `share_reasoning` (on by default, as the design note
passes the cheap tier's reasoning up) it appends the cheaper tier's draft, its answer and its
reasoning, clearly delimited, to the last user turn, and nothing else (the prompt is never rewritten
per tier, and an assistant prefill stays last and untouched). `stop` ends
the climb early (the last tier always stops it): a cost cap or a deadline, checked after each
tier. Each escalating attempt says why in `Attempt.reason` ("escalated: confidence 0.41 < 0.7").
`floors` (task -> tier, `tiered.policies.floors`) start the climb at the floor of the request's task,
declared or recognised in its text: untagged code review does not begin on Haiku.
A provider error at a higher tier returns the cheaper tier's answer, marked degraded; at the first
tier it returns the error (wrap the cascade in a `Fallback` for resilience).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tiered.policies.base import Call, Flow, Outcome, Result
from tiered.policies.floors import floor_for
from tiered.policies.triggers import Condition, Progress, invalid_report, low_confidence, never, refused
from tiered.records import Decision
from tiered.scoring.confidence import (
    REPORT_TOOL_NAME,
    ConfidenceEstimator,
    Reading,
    as_text_response,
    can_ask_report,
    with_report_tool,
)
from tiered.types import Request

DEFAULT_ESCALATE: Condition[Reading] = low_confidence(0.7) | refused() | invalid_report()


class Cascade:
    def __init__(
        self,
        tiers: Sequence[str],
        *,
        escalate_when: Condition[Reading] | Mapping[str, Condition[Reading]] = DEFAULT_ESCALATE,
        stop: Condition[Progress] | None = None,
        confidence: ConfidenceEstimator | None = None,
        self_report: bool = True,
        share_reasoning: bool = True,
        floors: Mapping[str, str] | None = None,
    ) -> None:
        if not tiers:
            raise ValueError("Cascade needs at least one tier")
        self.tiers = tuple(tiers)
        self.escalate_when = escalate_when
        self.stop: Condition[Progress] = stop or never()
        self.confidence = confidence or ConfidenceEstimator()
        self.self_report = self_report
        self.share_reasoning = share_reasoning
        self.floors = dict(floors or {})

    def _trigger(self, tier: str) -> Condition[Reading]:
        if isinstance(self.escalate_when, Mapping):
            return self.escalate_when.get(tier, DEFAULT_ESCALATE)
        return self.escalate_when

    def flow(self, request: Request) -> Flow:
        if request.max_tokens == 0:  # a prompt-cache pre-warm: the answer is empty by design, nothing to judge
            tier = self.tiers[0]
            out = yield Call(tier, request, reason="first", stream=True, kind="first")
            return Result(out, Decision(repr(self), tier, f"max_tokens 0 (cache pre-warm): {tier} only", {}))
        spent, elapsed = Decimal(0), 0.0
        scores: dict[str, float] = {}
        sent = request
        kept: tuple[Outcome, str] | None = None  # the best answer so far, and its tier
        why = ""
        climb, head = self.tiers, ""
        floor = floor_for(request, self.floors)
        if floor is not None and floor[0] in climb[1:]:  # the task's floor: start the climb there
            climb, head = climb[climb.index(floor[0]):], f"floor {floor[0]} for {floor[1]} ({floor[2]}); "
        for i, tier in enumerate(climb):
            last = i == len(climb) - 1
            ask = self.self_report and not last and can_ask_report(request)
            out = yield Call(tier, with_report_tool(sent) if ask else sent,
                             reason="first" if i == 0 else f"escalated: {why}", stream=last,
                             kind="first" if i == 0 else "escalation")
            spent += out.attempt.cost_usd
            elapsed += out.attempt.latency_ms / 1000.0
            if not out.ok:
                err = out.error.error_type if out.error else "error"
                if kept is None:
                    return Result(out, Decision(repr(self), tier, f"{head}{tier} failed: {err}", scores))
                why_kept = f"{head}{tier} failed ({err}); kept {kept[1]}'s answer"
                return Result(kept[0], Decision(repr(self), kept[1], why_kept, scores), degraded=True)
            if last:
                reason = f"escalated to {tier}: {why}" if i else f"single tier {tier}"
                return Result(out, Decision(repr(self), tier, head + reason, scores))
            assert out.response is not None
            reading = self.confidence.read(out.response, asked_report=ask, request=request)
            scores[f"confidence.{tier}"] = round(reading.value, 4)
            answered = replace(out, response=as_text_response(out.response, reading.answer)) if ask else out
            kept = (answered, tier)
            trigger = self._trigger(tier).explain(reading)
            if trigger is None:
                reason = f"confident at {tier} ({reading.value:.2f})"
                return Result(answered, Decision(repr(self), tier, head + reason, scores))
            stop = self.stop.explain(Progress(tier, spent, elapsed, i + 1))
            if stop is not None:
                reason = f"stopped at {tier} ({stop}) though {trigger}"
                return Result(answered, Decision(repr(self), tier, head + reason, scores))
            why = trigger
            if self.share_reasoning:
                calls = [b for b in out.response.tool_uses if b.get("name") != REPORT_TOOL_NAME]
                sent = request.with_appended_user_text(_draft_note(tier, reading, calls))
        raise AssertionError("unreachable: the last tier always returns")

    def __repr__(self) -> str:
        parts = [repr(self.tiers), f"escalate_when={self.escalate_when!r}"]
        if not isinstance(self.stop, never):
            parts.append(f"stop={self.stop!r}")
        if not self.share_reasoning:
            parts.append("share_reasoning=False")
        if not self.self_report:
            parts.append("self_report=False")
        if self.floors:
            parts.append(f"floors={self.floors!r}")
        return f"Cascade({', '.join(parts)})"


def _draft_note(tier: str, reading: Reading, calls: Sequence[Mapping[str, Any]] = ()) -> str:
    """The cheaper tier's draft: its answer (and any calls to the caller's tools) and its reasoning."""
    answer = reading.answer.strip()
    tools = "\n".join(f"{c.get('name')}({json.dumps(c.get('input'), sort_keys=True)})" for c in calls)
    parts = [f"<answer>\n{answer}\n</answer>"] if answer else []
    if tools:
        parts.append(f"<tool_calls>\n{tools}\n</tool_calls>")
    if reading.reasoning.strip():
        parts.append(f"<reasoning>\n{reading.reasoning.strip()}\n</reasoning>")
    body = "\n".join(parts)
    return (
        f'<draft_from_smaller_model tier="{tier}" confidence="{reading.value:.2f}">\n{body}\n'
        "</draft_from_smaller_model>\n"
        "A smaller model drafted the answer above and was unsure; it may be wrong. "
        "Answer the original request yourself, in full."
    )
