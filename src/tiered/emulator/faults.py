"""Injected faults: which requests fail, and how.

A fault comes from one of two places:

- The request header `x-tiered-fault`, which always wins: `529`, `429`, `500`, any error status
  400–599, or `midstream`, optionally followed by `;retry-after-ms=N` and/or `;retry-after=S`
  (e.g. `429;retry-after-ms=5`). The SDK resends its headers on every retry, so a header fault
  fails every attempt.
- The configured error rates of the request's model (config.Behaviour.error_rates). The sequence is
  fixed by the seed: model M has its own `random.Random(f"{seed}/{M}")`, and the k-th request for M
  that reaches the draw (a valid body with no `x-tiered-fault` header) takes its k-th value u, one
  value per request (M is the catalog id, whichever alias the request used). Kinds are tried in
  sorted order; the request fails with the first kind whose cumulative rate exceeds u. So a run is
  repeated exactly by the same seed and the same per-model order of requests, whatever the timing
  and whatever other models are doing.

`midstream` on a stream sends an `error` event (overloaded_error) after the first delta and no
`message_stop`; a non-streaming request cannot fail mid-way, so there it becomes a 529.
Both sources apply to /v1/messages and to /v1/messages/count_tokens (a non-streaming request, which
takes its draw from the same per-model sequence).
Latency (`x-tiered-latency-ms: N` or `N;tpot=M`, else the model's ttft_ms/tpot_ms) is not random.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from tiered.emulator.config import MIDSTREAM, Behaviour

ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_MESSAGES: Mapping[str, str] = {
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit (emulated)",
    "overloaded_error": "Overloaded",
    "api_error": "Internal server error",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_message(kind: str) -> str:
    return _MESSAGES.get(kind, f"Injected {kind}")


class BadFaultHeader(ValueError):
    """An `x-tiered-fault` or `x-tiered-latency-ms` header that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    """HTTP status to answer with; 200 for a mid-stream error event."""
    retry_after_ms: int | None = None
    retry_after_s: float | None = None

    @property
    def midstream(self) -> bool:
        return self.status == 200

    @property
    def error_type(self) -> str:
        return "overloaded_error" if self.midstream else error_type(self.status)

    def headers(self) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        if self.retry_after_ms is not None:
            out.append((b"retry-after-ms", str(self.retry_after_ms).encode()))
            if self.retry_after_s is None:
                out.append((b"retry-after", str(-(-self.retry_after_ms // 1000)).encode()))
        if self.retry_after_s is not None:
            out.append((b"retry-after", f"{self.retry_after_s:g}".encode()))
        return out

    def for_stream(self, stream: bool) -> Fault:
        """A midstream fault on a non-streaming request is a 529."""
        return self if stream or not self.midstream else Fault(529, self.retry_after_ms, self.retry_after_s)


def parse_fault(header: str) -> Fault:
    kind, *params = (p.strip() for p in header.split(";"))
    if kind == MIDSTREAM:
        status = 200
    elif kind.isdigit() and 400 <= int(kind) <= 599:
        status = int(kind)
    else:
        raise BadFaultHeader(f"x-tiered-fault: {kind!r} is neither an HTTP error status (400-599) nor 'midstream'")
    retry_ms: int | None = None
    retry_s: float | None = None
    for param in params:
        key, _, value = param.partition("=")
        try:
            if key.strip() == "retry-after-ms":
                retry_ms = int(value)
            elif key.strip() == "retry-after":
                retry_s = float(value)
            else:
                raise BadFaultHeader(f"x-tiered-fault: unknown parameter {key.strip()!r}")
        except ValueError as e:
            if isinstance(e, BadFaultHeader):
                raise
            raise BadFaultHeader(f"x-tiered-fault: {key.strip()} needs a number, got {value!r}") from e
    return Fault(status, retry_ms, retry_s)


def parse_latency(header: str) -> tuple[float, float]:
    """`N` or `N;tpot=M` -> (time to first token, time per output token), in ms."""
    first, *params = (p.strip() for p in header.split(";"))
    try:
        ttft, tpot = float(first), 0.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() != "tpot":
                raise BadFaultHeader(f"x-tiered-latency-ms: unknown parameter {key.strip()!r}")
            tpot = float(value)
    except ValueError as e:
        if isinstance(e, BadFaultHeader):
            raise
        raise BadFaultHeader(f"x-tiered-latency-ms: expected milliseconds, got {header!r}") from e
    if ttft < 0 or tpot < 0:
        raise BadFaultHeader("x-tiered-latency-ms: must be >= 0")
    return ttft, tpot


class FaultPlan:
    """The seeded error-rate draws of one emulator instance (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rngs: dict[str, random.Random] = {}

    def draw(self, model: str, behaviour: Behaviour) -> Fault | None:
        rates = behaviour.error_rates
        if not rates:
            return None
        rng = self._rngs.get(model)
        if rng is None:
            rng = self._rngs[model] = random.Random(f"{self._seed}/{model}")
        u = rng.random()
        total = 0.0
        for kind in sorted(rates):
            total += rates[kind]
            if u < total:
                status = 200 if kind == MIDSTREAM else int(kind)
                retry = behaviour.retry_after_ms if status == 429 else None
                return Fault(status, retry_after_ms=retry)
        return None
