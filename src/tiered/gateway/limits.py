"""Per-caller rate limits and daily spend budgets: the protocol, and the in-memory implementation.

Two questions are asked for each request, before any upstream call:

- `hit(who, per_minute)`: may `who` send one more request now? The in-memory limiter is a leaky
  bucket in the manner of aiolimiter: the bucket holds at most `per_minute` requests and drains at
  `per_minute / 60` per second, so bursts up to the limit pass and a steady overload is paced; the
  verdict says how long until one more would fit (the `retry-after` of the 429).
- `reserve(who, hold_id, usd, budget)`: may `who` start a request that could cost up to `usd`? In
  one atomic step (a lock here, a Lua script in Redis) it drops expired holds, compares today's spend
  plus every outstanding hold plus `usd` with `budget`, and if it fits records the hold. So N
  concurrent requests cannot all pass a check that only one of them fits: the budget is hard, as
  far as each request's worst case (`tiered.gateway.worst_case`) bounds what it can cost.
- `settle(who, hold_id, usd)`: when the request ends, by whatever path, release its hold and charge
  its exact cost, in one step. Settling an id again is a no-op, so nothing is billed twice. A hold
  never settled (a crashed replica, a bug) expires after `hold_ttl_s` and stops counting. In memory,
  a settled id is remembered for `hold_ttl_s` but at most the `MAX_SETTLED` latest ones: a repeated
  settlement comes from a retry seconds later, and without the cap the memory grew with the answer
  rate (at 450 answers/s, 15 minutes of ids is ~400,000 of them, ~60 MB).
- `spent(who)` / `held(who)`: today's (UTC) spend, and what outstanding holds keep back.

Time is injected (`clock` for the bucket, `wallclock` for the UTC day), so tests move it by hand.
The Redis implementation (`tiered.gateway.redis_limits.RedisLimits`) answers the same calls for a fleet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

DAY_S = 86_400
HOLD_TTL_S = 900.0
"""How long an unsettled hold counts against a budget: longer than any request the gateway serves."""
MAX_SETTLED = 50_000
"""How many settled hold ids one process remembers at most (~150 bytes each; 50 s at 1,000 answers/s)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0
    """When refused: seconds until a request would be allowed."""


@dataclass(frozen=True, slots=True)
class Hold:
    """The answer to `reserve`: whether the hold was recorded, and the budget as it stood before it."""

    granted: bool
    spent: Decimal
    """Charged today, before this hold."""
    held: Decimal
    """Kept back by other requests in flight, before this hold."""


class Limits(Protocol):
    async def hit(self, who: str, per_minute: int) -> Verdict: ...

    async def reserve(self, who: str, hold_id: str, usd: Decimal, budget: Decimal) -> Hold: ...

    async def settle(self, who: str, hold_id: str, usd: Decimal) -> bool:
        """Release the hold and charge `usd`; False (and no charge) when `hold_id` was settled before."""
        ...

    async def spent(self, who: str) -> Decimal: ...

    async def held(self, who: str) -> Decimal: ...

    async def spend(self, who: str, usd: Decimal) -> None: ...

    async def aclose(self) -> None: ...


def utc_day(now: float) -> int:
    """The UTC day number of a wall-clock time; budgets reset when it changes."""
    return int(now // DAY_S)


def utc_month(now: float) -> int:
    """The UTC month number (year * 12 + month - 1) of a wall-clock time; monthly budgets reset when it changes."""
    t = time.gmtime(now)
    return t.tm_year * 12 + t.tm_mon - 1


def seconds_to_midnight(now: float) -> float:
    return DAY_S - (now % DAY_S)


class MemoryLimits:
    """Leaky buckets and daily spend for one process (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 wallclock: Callable[[], float] = time.time, hold_ttl_s: float = HOLD_TTL_S,
                 period: Callable[[float], int] = utc_day, max_settled: int = MAX_SETTLED) -> None:
        """`period` numbers the budget's periods (`utc_day`, or `utc_month` for monthly budgets)."""
        self._clock = clock
        self._wallclock = wallclock
        self._period = period
        self._hold_ttl_s = hold_ttl_s
        self._max_settled = max_settled
        self._buckets: dict[str, tuple[float, float]] = {}
        """who -> (level, time of the last update)."""
        self._spend: dict[tuple[str, int], Decimal] = {}
        self._holds: dict[str, dict[str, tuple[Decimal, float]]] = {}
        """who -> hold id -> (USD, wall-clock expiry)."""
        self._settled: dict[str, float] = {}
        """Settled hold ids -> when they are forgotten (in settling order, so expiries never decrease)."""
        self._lock = threading.Lock()
        """Guards spend and holds; held only for plain dict work, never across an await."""

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

    async def reserve(self, who: str, hold_id: str, usd: Decimal, budget: Decimal) -> Hold:
        now = self._wallclock()
        with self._lock:
            holds = self._live_holds(who, now)
            spent = self._spend.get((who, self._period(now)), Decimal(0))
            held = sum((h[0] for h in holds.values()), Decimal(0))
            if spent + held + usd > budget:
                return Hold(False, spent, held)
            holds[hold_id] = (usd, now + self._hold_ttl_s)
            self._holds[who] = holds
            return Hold(True, spent, held)

    async def settle(self, who: str, hold_id: str, usd: Decimal) -> bool:
        now = self._wallclock()
        with self._lock:
            while self._settled and next(iter(self._settled.values())) <= now:  # oldest first
                del self._settled[next(iter(self._settled))]
            if hold_id in self._settled:
                return False
            if len(self._settled) >= self._max_settled:
                del self._settled[next(iter(self._settled))]
            self._settled[hold_id] = now + self._hold_ttl_s
            self._live_holds(who, now).pop(hold_id, None)
            self._charge(who, usd, now)
            return True

    def _live_holds(self, who: str, now: float) -> dict[str, tuple[Decimal, float]]:
        """`who`'s holds that have not expired (the expired ones are dropped). Call with the lock held."""
        holds = {k: h for k, h in self._holds.get(who, {}).items() if h[1] > now}
        if holds:
            self._holds[who] = holds
        else:
            self._holds.pop(who, None)
        return holds

    async def spent(self, who: str) -> Decimal:
        with self._lock:
            return self._spend.get((who, self._period(self._wallclock())), Decimal(0))

    async def held(self, who: str) -> Decimal:
        with self._lock:
            return sum((h[0] for h in self._live_holds(who, self._wallclock()).values()), Decimal(0))

    async def spend(self, who: str, usd: Decimal) -> None:
        """Charge `usd` with no hold (what `settle` does after releasing one)."""
        with self._lock:
            self._charge(who, usd, self._wallclock())

    def _charge(self, who: str, usd: Decimal, now: float) -> None:
        if usd <= 0:
            return
        key = (who, self._period(now))
        # Keep only today's entries: yesterday's spend is never read again.
        self._spend = {k: v for k, v in self._spend.items() if k[1] == key[1]}
        self._spend[key] = self._spend.get(key, Decimal(0)) + usd

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "MemoryLimits()"
