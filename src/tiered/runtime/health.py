"""Circuit breakers: stop sending requests to a deployment that keeps failing, then probe it.

Per target (a tier name or model id, as a policy names it), a breaker is

    closed ──(failures in a row ≥ threshold)──▶ open ──(cooldown elapsed)──▶ half-open
      ▲                                            ▲                             │
      └────────────── probe succeeds ──────────────┼──────── probe fails ────────┘

While open, `available()` is False and a `Fallback` skips the target without calling it. After the
cooldown one caller is let through as a probe (half-open); its result closes or re-opens the breaker.
Only failures that say something about the deployment count (the policy passes retryable errors
only: a 400 is the request's fault, not the model's).

State is plain data under an injected clock, so tests move time by hand and the same object works
in offline replay. `Breakers` keeps it in memory (one process); `tiered.runtime.redis_state.RedisBreakers`
shares it across gateway replicas.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, Protocol, runtime_checkable

BreakerStatus = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerState:
    status: BreakerStatus = "closed"
    failures: int = 0
    """Consecutive failures while closed."""
    opened_at: float | None = None
    """When it opened, or when the current half-open probe started."""
    probing: bool = False
    """A half-open probe is in flight; others keep away until it reports."""


@runtime_checkable
class Health(Protocol):
    def available(self, target: str) -> bool:
        """May a request go to `target` now? In half-open state the first caller gets the probe."""
        ...

    def record_success(self, target: str) -> None: ...

    def record_failure(self, target: str) -> None: ...

    def state(self, target: str) -> BreakerState: ...


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 5
    cooldown_s: float = 30.0


def next_state(
    state: BreakerState, event: Literal["success", "failure"], now: float, cfg: BreakerConfig
) -> BreakerState:
    """The breaker's transition function, shared by the in-memory and Redis implementations."""
    if event == "success":
        return BreakerState()
    if state.status == "half_open":
        return BreakerState("open", cfg.failure_threshold, now)
    failures = state.failures + 1
    if failures >= cfg.failure_threshold:
        return BreakerState("open", failures, now)
    return replace(state, failures=failures)


def admit(state: BreakerState, now: float, cfg: BreakerConfig) -> tuple[bool, BreakerState]:
    """Whether a caller may go ahead, and the state after letting it (a probe marks half-open busy)."""
    if state.status == "closed":
        return True, state
    since = now - (state.opened_at if state.opened_at is not None else now)
    if state.status == "open" and since < cfg.cooldown_s:
        return False, state
    if state.status == "half_open" and state.probing and since < cfg.cooldown_s:
        return False, state  # a probe is out; a lost probe (caller cancelled) is replaced after a cooldown
    return True, BreakerState("half_open", state.failures, now, probing=True)


class Breakers:
    """In-memory circuit breakers, one per target."""

    def __init__(self, config: BreakerConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self._states: dict[str, BreakerState] = {}

    def available(self, target: str) -> bool:
        ok, self._states[target] = admit(self.state(target), self._clock(), self.config)
        return ok

    def record_success(self, target: str) -> None:
        self._states[target] = next_state(self.state(target), "success", self._clock(), self.config)

    def record_failure(self, target: str) -> None:
        self._states[target] = next_state(self.state(target), "failure", self._clock(), self.config)

    def state(self, target: str) -> BreakerState:
        return self._states.get(target, BreakerState())

    def adopt(self, target: str, state: BreakerState) -> None:
        """Take `state` as the breaker's (a mirror of shared state, `tiered.gateway.state_store`)."""
        self._states[target] = state

    def snapshot(self) -> Mapping[str, BreakerState]:
        """Every breaker that has seen traffic (for `tiered stats` and /metrics)."""
        return dict(self._states)

    def __repr__(self) -> str:
        c = self.config
        return f"Breakers(failure_threshold={c.failure_threshold}, cooldown_s={c.cooldown_s:g})"
