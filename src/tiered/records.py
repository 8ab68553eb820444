"""Frozen records of what happened: the routing decision, every attempt, and the request's record.

The driver builds them; sinks store them. Nothing here does I/O, and the core never imports a sink.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from tiered.pricing import format_usd

AttemptKind = Literal["first", "retry", "escalation", "fallback"]
"""Why a call was made, typed: the policy's first try, a retry of the same target, an escalation to a
stronger tier (a cascade), or a move to the next option after a failure (a fallback)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a policy answered the way it did: the tier it chose, the reason, the scores it used."""

    policy: str
    tier: str | None
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call to one model: what it cost, how long it took, how it ended."""

    model: str
    tier: str | None
    purpose: str
    """answer | classify | plan | step | synthesize | confidence | probe"""
    outcome: str
    """"ok", or the error type (overloaded_error, rate_limit_error, ...)"""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    status: int | None = None
    reason: str = ""
    """Why this attempt was made: "first", "escalated: low confidence 0.41", "fell back: overloaded_error"."""
    kind: AttemptKind = "first"
    """The same, typed: what `Record.escalated` and `Record.fell_back` are derived from."""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True, slots=True)
class Record:
    """Everything about one request, as one immutable row."""

    trace_id: str
    route: str
    policy: str
    decision: Decision
    attempts: tuple[Attempt, ...]
    cost_usd: Decimal
    latency_ms: float
    degraded: bool
    created_at: float
    model: str | None = None
    """The model that served the answer (None when the request failed)."""
    tier: str | None = None
    requested_model: str | None = None
    task: str | None = None
    escalated: bool = False
    fell_back: bool = False
    outcome: str = "ok"
    quality: float | None = None
    key_name: str | None = None
    """The gateway key's name (a named key's, or a flat key's short digest); never the secret. None for a
    library call or an open gateway."""
    team: str | None = None
    """The key's team, when it has one."""
    traceparent: str | None = None
    """The caller's W3C `traceparent` header, for telemetry sinks that continue its trace; not stored in SQL."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; costs as plain decimal strings are kept exact in `cost_usd_exact`."""
        data = asdict(self)
        data["cost_usd"] = float(self.cost_usd)
        data["cost_usd_exact"] = format_usd(self.cost_usd)
        data["decision"]["scores"] = dict(self.decision.scores)
        for a, src in zip(data["attempts"], self.attempts, strict=True):
            a["cost_usd"] = float(src.cost_usd)
        return data
