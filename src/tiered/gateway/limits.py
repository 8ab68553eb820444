"""Per-caller rate limits and daily spend budgets: the protocol, and the in-memory implementation.

Two questions are asked for each request, before any upstream call:

- `hit(who, per_minute)`: may `who` send one more request now? The in-memory limiter is a leaky
  bucket in the manner of aiolimiter: the bucket holds at most `per_minute` requests and drains at
  `per_minute / 60` per second, so bursts up to the limit pass and a steady overload is paced; the
  verdict says how long until one more would fit (the `retry-after` of the 429).
- `spent(who)` / `spend(who, usd)`: the caller's spend today (UTC), charged after each request with
  the exact cost of its record, so a budget is enforced on the next request once it is used up.

Time is injected (`clock` for the bucket, `wallclock` for the UTC day), so tests move it by hand.
The Redis implementation (`tiered.gateway.redis_limits.RedisLimits`) answers the same calls for a fleet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0
    """When refused: seconds until a request would be allowed."""


class Limits(Protocol):
    async def hit(self, who: str, per_minute: int) -> Verdict: ...

    async def spent(self, who: str) -> Decimal: ...

    async def spend(self, who: str, usd: Decimal) -> None: ...

    async def aclose(self) -> None: ...


def utc_day(now: float) -> int:
    """The UTC day number of a wall-clock time; budgets reset when it changes."""
    return int(now // DAY_S)


def seconds_to_midnight(now: float) -> float:
    return DAY_S - (now % DAY_S)


class MemoryLimits:
    """Leaky buckets and daily spend for one process (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 wallclock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wallclock = wallclock
        self._buckets: dict[str, tuple[float, float]] = {}
        """who -> (level, time of the last update)."""
        self._spend: dict[tuple[str, int], Decimal] = {}

    async def hit(self, who: str, per_minute: int) -> Verdict:
        now = self._clock()
        rate = per_minute / 60.0
        level, last = self._buckets.get(who, (0.0, now))
        level = max(0.0, level - (now - last) * rate)
        if level + 1 > per_minute:
            self._buckets[who] = (level, now)
            return Verdict(False, (level + 1 - per_minute) / rate)
        self._buckets[who] = (level + 1, now)
        return Verdict(True)

    async def spent(self, who: str) -> Decimal:
        return self._spend.get((who, utc_day(self._wallclock())), Decimal(0))

    async def spend(self, who: str, usd: Decimal) -> None:
        if usd <= 0:
            return
        key = (who, utc_day(self._wallclock()))
        # Keep only today's entries: yesterday's spend is never read again.
        self._spend = {k: v for k, v in self._spend.items() if k[1] == key[1]}
        self._spend[key] = self._spend.get(key, Decimal(0)) + usd

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "MemoryLimits()"
