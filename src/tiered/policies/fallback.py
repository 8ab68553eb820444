"""Fallback chain: resilience, not cost. Try the first option; on an upstream failure, the next.

    Fallback("opus", "sonnet", "haiku", retries=2)          # models or tiers, in order
    Fallback(Cascade(("haiku", "sonnet")), "opus")          # or whole policies

What moves the chain on is `fallback_on` (default `retryable()`: 429 rate limits, 529 overload, 5xx,
timeouts, connection errors, and the same arriving mid-stream), matched on error types, never on
message text. A 400/401/403/404/413 or a spend-limit 429 (`SpendLimit`) is returned at once: the
same request would fail everywhere, or should not be paid for elsewhere. An option whose model cannot
take the request at all (`Unsupported`: a capability the catalog says it lacks, found before any call)
is skipped.

Before moving on, a failing call is retried on the same target up to `retries` times: after the
upstream's retry-after when it sent one, else after an exponential back-off with jitter (`Backoff`,
injected rng). A retry-after longer than `max_retry_after_s` is not waited out: the chain moves on.
Every call also goes through a circuit breaker (`tiered.runtime.health`): a target that failed
`failure_threshold` times in a row is skipped without a call until its cooldown ends and a probe
succeeds (the last option of the chain is always tried, so a cooling chain still answers).

Calls inside a child policy get the same retries and breaker. The answer is marked `degraded` when
it came from a lower tier (catalog rank) than the first one the chain tried. When every option
fails, the Result carries the last error; the driver turns that into `AllFailed` holding every error.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from tiered.catalog import Catalog
from tiered.errors import Overloaded, ProviderError, Unsupported
from tiered.policies.base import Call, Flow, Outcome, Parallel, Policy, Result, Sleep, Step
from tiered.policies.direct import PolicyLike, as_policy
from tiered.policies.triggers import Condition, retryable
from tiered.records import Attempt, AttemptKind, Decision
from tiered.runtime.health import Breakers, Health
from tiered.types import Request


class Backoff:
    """`min(max_s, base_s * 2**n) * (1 - jitter * U[0,1))`, the anthropic SDK's own formula."""

    def __init__(
        self, base_s: float = 0.5, max_s: float = 8.0, jitter: float = 0.25, rng: random.Random | None = None
    ) -> None:
        self.base_s, self.max_s, self.jitter = base_s, max_s, jitter
        self.rng = rng or random.Random()

    def delay(self, retry: int) -> float:
        return float(min(self.max_s, self.base_s * 2.0**retry) * (1.0 - self.jitter * self.rng.random()))

    def __repr__(self) -> str:
        return f"Backoff({self.base_s:g}, {self.max_s:g})"


class Fallback:
    def __init__(
        self,
        *chain: PolicyLike,
        retries: int = 2,
        backoff: Backoff | None = None,
        max_retry_after_s: float = 30.0,
        fallback_on: Condition[ProviderError] | None = None,
        health: Health | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        if not chain:
            raise ValueError("Fallback needs at least one option")
        self.chain = chain
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.max_retry_after_s = max_retry_after_s
        self.fallback_on: Condition[ProviderError] = fallback_on or retryable()
        self.health: Health = health or Breakers()
        self._catalog = catalog

    def flow(self, request: Request) -> Flow:
        seen: list[Outcome] = []
        failures: list[str] = []
        result: Result | None = None
        for i, item in enumerate(self.chain):
            is_last = i == len(self.chain) - 1
            if isinstance(item, str) and not is_last and not self.health.available(item):
                failures.append(f"{item} cooling down")
                continue
            note = f"fell back: {failures[-1]}" if failures else None
            # A string option was admitted just above (or is the last resort): its call skips the breaker check.
            result = yield from self._guarded(as_policy(item), request, note, seen, checked=isinstance(item, str))
            err = result.outcome.error
            skip = isinstance(err, Unsupported)  # this model cannot take the request: the next one may
            if result.outcome.ok or err is None or (self.fallback_on.explain(err) is None and not skip):
                break
            failures.append(f"{err.error_type} on {result.outcome.call.target}")
        assert result is not None  # the last option always runs
        return self._result(result, seen, failures)

    def _result(self, result: Result, seen: list[Outcome], failures: list[str]) -> Result:
        out = result.outcome
        if not out.ok:
            why = "; ".join(failures) or (out.error.error_type if out.error else "failed")
            return Result(out, Decision(repr(self), None, f"failed: {why}", result.decision.scores))
        served = out.attempt.tier
        degraded = result.degraded
        if served is not None:
            catalog = self._catalog or Catalog.load()
            self._catalog = catalog
            first = self.chain[0]
            info = catalog.get(first) if isinstance(first, str) else None
            # What the chain meant to use: its first option, even when a breaker skipped it without a call.
            meant = info.tier if info is not None else next((o.attempt.tier for o in seen if o.attempt.tier), None)
            if meant and served != meant:
                degraded = degraded or catalog.tier_rank(served) < catalog.tier_rank(meant)
        reason = result.decision.reason if not failures else f"fell back to {out.call.target}: {'; '.join(failures)}"
        return Result(out, Decision(repr(self), served or out.call.target, reason, result.decision.scores), degraded)

    def _guarded(
        self, policy: Policy, request: Request, note: str | None, seen: list[Outcome], *, checked: bool
    ) -> Generator[Step, Any, Result]:
        """Run `policy`, giving each of its calls retries and a breaker; tag its first call with `note`."""
        gen = policy.flow(request)
        send: Any = None
        first = True
        while True:
            try:
                step = gen.send(send)
            except StopIteration as stop:
                result: Result = stop.value
                return result
            if isinstance(step, Call):
                if first and note:
                    step = _with_reason(step, note if step.reason == "first" else f"{note}; {step.reason}",
                                        "fallback")
                send = yield from self._call(step, seen, checked=checked and first)
                first = False
            elif isinstance(step, Parallel):
                send = yield step
                seen.extend(send)
            else:
                send = yield step

    def _call(self, call: Call, seen: list[Outcome], *, checked: bool) -> Generator[Step, Any, Outcome]:
        if not checked and not self.health.available(call.target):
            return _circuit_open(call)
        attempt_call = call
        for n in range(self.retries + 1):
            out: Outcome = yield attempt_call
            seen.append(out)
            err = out.error
            why = self.fallback_on.explain(err) if err is not None else None
            if why is None:
                self.health.record_success(call.target)
                return out
            self.health.record_failure(call.target)
            assert err is not None
            if n == self.retries:
                return out
            if err.retry_after is not None and err.retry_after > self.max_retry_after_s:
                return out
            wait = err.retry_after if err.retry_after is not None else self.backoff.delay(n)
            if wait > 0:
                yield Sleep(wait)
            if not self.health.available(call.target):
                return out
            attempt_call = _with_reason(call, f"retry {n + 1}: {why}", "retry")
        return out

    def __repr__(self) -> str:
        opts = ", ".join(map(repr, self.chain))
        return f"Fallback({opts}, retries={self.retries})"


def _with_reason(call: Call, reason: str, kind: AttemptKind) -> Call:
    return replace(call, reason=reason, kind=kind)


def _circuit_open(call: Call) -> Outcome:
    error = Overloaded(f"{call.target} is cooling down (circuit open)", model=call.target)
    attempt = Attempt(model=call.target, tier=None, purpose=call.purpose, outcome="circuit_open", reason=call.reason,
                      kind=call.attempt_kind)
    return Outcome(call, attempt, None, error)
