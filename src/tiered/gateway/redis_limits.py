"""Rate limits and daily budgets in Redis, so that every gateway replica counts against the same ones.

`[state] redis = "redis://127.0.0.1:6379/0"` makes the gateway use this instead of
`tiered.gateway.limits.MemoryLimits` (same `Limits` protocol):

- rate: a fixed one-minute window per caller, `INCR` + `EXPIRE` in one Lua script (atomic, one
  round trip); the 429's retry-after is the time left in the window;
- budget: integer nano-dollars per caller and UTC day (`INCRBY`, expiring after two days), so sums
  stay exact across replicas;
- holds (budget reservations, see `tiered.gateway.limits`): per caller a hash `hold:{who}` of hold
  id -> nano-dollars and a sorted set `hold-exp:{who}` of hold id -> expiry (wall-clock seconds).
  `reserve` is one Lua script: drop the expired holds, add spent + held + this one, compare with
  the budget, record the hold. `settle` is another: a marker `settled:{id}` (SET NX, expiring
  with the holds) makes a second settle a no-op, then the hold is deleted and the cost charged.
  A replica that dies holding budget loses it when the hold expires (the next reserve drops it).

The circuit breakers shared the same way are `tiered.runtime.redis_state.RedisBreakers`. Wall-clock
time is used (replicas share no monotonic clock). redis-py (the `redis` extra) is imported when one
of these is built, and it connects on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from tiered.gateway.limits import DAY_S, HOLD_TTL_S, Hold, Verdict, utc_day, utc_month

NANO = Decimal("1e-9")
WINDOW_S = 60
_INCR_EXPIRE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
_RESERVE = """
-- KEYS: spent today, holds (id -> nanos), hold expiries (id -> time)
-- ARGV: now, ttl, hold id, nanos, budget nanos
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, id in ipairs(expired) do redis.call('HDEL', KEYS[2], id) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local held = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do held = held + tonumber(v) end
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local nanos = tonumber(ARGV[4])
if spent + held + nanos > tonumber(ARGV[5]) then return {0, spent, held} end
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[3], now + ttl, ARGV[3])
redis.call('EXPIRE', KEYS[2], math.ceil(ttl) + 60)
redis.call('EXPIRE', KEYS[3], math.ceil(ttl) + 60)
return {1, spent, held}
"""
_SETTLE = """
-- KEYS: spent today, holds, hold expiries, settled marker; ARGV: hold id, nanos, marker ttl, spent ttl
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[3]) then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local nanos = tonumber(ARGV[2])
if nanos > 0 then
  redis.call('INCRBY', KEYS[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return 1
"""


class RedisLimits:
    def __init__(self, url: str, *, prefix: str = "tiered:", wallclock: Callable[[], float] = time.time,
                 hold_ttl_s: float = HOLD_TTL_S, timeout_s: float = 2.0,
                 period: Callable[[float], int] = utc_day, **client: Any) -> None:
        """`period` numbers the budget's periods (`utc_day`; `utc_month` for monthly budgets, whose spend
        keys then live 32 days, and which should get their own `prefix`); `client`: more redis client options."""
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                             **client)
        self._script: Any = self._redis.register_script(_INCR_EXPIRE)
        self._reserve: Any = self._redis.register_script(_RESERVE)
        self._settle: Any = self._redis.register_script(_SETTLE)
        self._prefix = prefix
        self._wallclock = wallclock
        self._hold_ttl_s = hold_ttl_s
        self._period = period
        self._spent_ttl = 32 * DAY_S if period is utc_month else 2 * DAY_S

    async def hit(self, who: str, per_minute: int) -> Verdict:
        now = self._wallclock()
        key = f"{self._prefix}rpm:{who}:{int(now // WINDOW_S)}"
        count = int(await self._script(keys=[key], args=[2 * WINDOW_S]))
        if count > per_minute:
            return Verdict(False, WINDOW_S - (now % WINDOW_S))
        return Verdict(True)

    def _day_key(self, who: str) -> str:
        return f"{self._prefix}usd:{who}:{self._period(self._wallclock())}"

    async def spent(self, who: str) -> Decimal:
        raw = await self._redis.get(self._day_key(who))
        return Decimal(int(raw)) * NANO if raw is not None else Decimal(0)

    def _hold_keys(self, who: str) -> list[str]:
        return [self._day_key(who), f"{self._prefix}hold:{who}", f"{self._prefix}hold-exp:{who}"]

    async def reserve(self, who: str, hold_id: str, usd: Decimal, budget: Decimal) -> Hold:
        nanos = int((usd / NANO).to_integral_value(rounding=ROUND_CEILING))  # a bound rounds up
        limit = int((budget / NANO).to_integral_value(rounding=ROUND_FLOOR))
        granted, spent, held = await self._reserve(
            keys=self._hold_keys(who), args=[repr(self._wallclock()), repr(self._hold_ttl_s), hold_id, nanos, limit])
        return Hold(int(granted) == 1, Decimal(int(spent)) * NANO, Decimal(int(held)) * NANO)

    async def settle(self, who: str, hold_id: str, usd: Decimal) -> bool:
        nanos = max(0, _nanos(usd))
        marker = f"{self._prefix}settled:{hold_id}"
        done = await self._settle(keys=[*self._hold_keys(who), marker],
                                  args=[hold_id, nanos, max(1, int(self._hold_ttl_s)), self._spent_ttl])
        return int(done) == 1

    async def held(self, who: str) -> Decimal:
        """What live holds keep back (expired ones not yet dropped by a reserve are left out)."""
        _, holds, expiries = self._hold_keys(who)
        live = await self._redis.zrangebyscore(expiries, f"({self._wallclock()!r}", "+inf")
        if not live:
            return Decimal(0)
        values = await self._redis.hmget(holds, live)
        return Decimal(sum(int(v) for v in values if v is not None)) * NANO

    async def spend(self, who: str, usd: Decimal) -> None:
        nanos = _nanos(usd)
        if nanos <= 0:
            return
        key = self._day_key(who)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, nanos)
            pipe.expire(key, self._spent_ttl)
            await pipe.execute()

    async def aclose(self) -> None:
        await self._redis.aclose()

    def __repr__(self) -> str:
        return f"RedisLimits(prefix={self._prefix!r})"


def _nanos(usd: Decimal) -> int:
    """A charge in whole nano-dollars (rounded half-even, as the exact cost has at most a few more digits)."""
    return int((usd / NANO).to_integral_value())
