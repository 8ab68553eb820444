"""Rate limits and daily budgets in Redis, so that every gateway replica counts against the same ones.

`[state] redis = "redis://127.0.0.1:6379/0"` makes the gateway use this instead of
`tiered.gateway.limits.MemoryLimits` (same `Limits` protocol):

- rate: a fixed one-minute window per caller, `INCR` + `EXPIRE` in one Lua script (atomic, one
  round trip); the 429's retry-after is the time left in the window;
- budget: integer nano-dollars per caller and UTC day (`INCRBY`, expiring after two days), so sums
  stay exact across replicas.

The circuit breakers shared the same way are `tiered.runtime.redis_state.RedisBreakers`. Wall-clock
time is used (replicas share no monotonic clock). redis-py (the `redis` extra) is imported when one
of these is built, and it connects on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tiered.gateway.limits import DAY_S, Verdict, utc_day

NANO = Decimal("1e-9")
WINDOW_S = 60
_INCR_EXPIRE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisLimits:
    def __init__(self, url: str, *, prefix: str = "tiered:", wallclock: Callable[[], float] = time.time) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._script: Any = self._redis.register_script(_INCR_EXPIRE)
        self._prefix = prefix
        self._wallclock = wallclock

    async def hit(self, who: str, per_minute: int) -> Verdict:
        now = self._wallclock()
        key = f"{self._prefix}rpm:{who}:{int(now // WINDOW_S)}"
        count = int(await self._script(keys=[key], args=[2 * WINDOW_S]))
        if count > per_minute:
            return Verdict(False, WINDOW_S - (now % WINDOW_S))
        return Verdict(True)

    def _day_key(self, who: str) -> str:
        return f"{self._prefix}usd:{who}:{utc_day(self._wallclock())}"

    async def spent(self, who: str) -> Decimal:
        raw = await self._redis.get(self._day_key(who))
        return Decimal(int(raw)) * NANO if raw is not None else Decimal(0)

    async def spend(self, who: str, usd: Decimal) -> None:
        nanos = int((usd / NANO).to_integral_value())
        if nanos <= 0:
            return
        key = self._day_key(who)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, nanos)
            pipe.expire(key, 2 * DAY_S)
            await pipe.execute()

    async def aclose(self) -> None:
        await self._redis.aclose()

    def __repr__(self) -> str:
        return f"RedisLimits(prefix={self._prefix!r})"
