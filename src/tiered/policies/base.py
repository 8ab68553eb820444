"""The sans-I/O core: a policy is a generator of steps; one driver performs them.

A policy's `flow(request)` yields `Call` (ask a tier or model), `Parallel` (several calls under a
concurrency bound) or `Sleep` (a back-off) and receives, for each, the `Outcome` (or tuple of
outcomes; `None` for a sleep). It ends by returning a `Result`. Composite policies nest by
`yield from child.flow(request)`, so the same code runs live (the async driver in
`tiered.runtime.driver`), in tests, and in offline replay over a dataset (`tiered.evaluation`).

    def flow(self, request):
        first = yield Call("haiku", request)
        if first.ok and confident(first.response):
            return Result(first, Decision(repr(self), "haiku", "confident"))
        second = yield Call("opus", request, reason="escalated: low confidence", kind="escalation")
        return Result(second, Decision(repr(self), "opus", "escalated"))
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

from tiered.errors import ProviderError
from tiered.records import Attempt, AttemptKind, Decision
from tiered.types import Request, Response


@dataclass(frozen=True, slots=True)
class Call:
    """Ask `target` (a tier name, a model id or an alias; the driver resolves it) to answer `request`."""

    target: str
    request: Request
    purpose: str = "answer"
    reason: str = "first"
    timeout_s: float | None = None
    stream: bool = False
    """This call's answer, when it succeeds, is the request's answer as it is: a streaming driver may
    forward its events to the caller as they arrive (see `tiered.runtime.driver.stream`)."""
    kind: AttemptKind | None = None
    """first | retry | escalation | fallback (`reason` says the same for people). Left None, it is read
    from `reason`'s prefix ("escalated", "fell back", "retry"), as policies written before it did."""

    def __post_init__(self) -> None:
        if self.kind is None:
            object.__setattr__(self, "kind", _kind_from_reason(self.reason))

    @property
    def attempt_kind(self) -> AttemptKind:
        return self.kind or "first"


def _kind_from_reason(reason: str) -> AttemptKind:
    if reason.startswith("escalated"):
        return "escalation"
    if reason.startswith("fell back"):
        return "fallback"
    if reason.startswith("retry"):
        return "retry"
    return "first"


@dataclass(frozen=True, slots=True)
class Parallel:
    """Run `calls` concurrently, at most `limit` at a time; receive their outcomes in the same order."""

    calls: tuple[Call, ...]
    limit: int = 4


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before the next step (a back-off). The driver sleeps with its injected sleep function."""

    seconds: float


Step: TypeAlias = Call | Parallel | Sleep


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a `Call` came to: a response or an error, and the attempt record."""

    call: Call
    attempt: Attempt
    response: Response | None = None
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None and self.error is None


@dataclass(frozen=True, slots=True)
class Result:
    """A policy's answer: the outcome that serves the request, and why."""

    outcome: Outcome
    decision: Decision
    degraded: bool = False
    """Served by a weaker model than the one the policy meant to use."""


Flow: TypeAlias = Generator[Step, Any, Result]


@runtime_checkable
class Policy(Protocol):
    def flow(self, request: Request) -> Flow: ...
