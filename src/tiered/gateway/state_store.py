"""The gateway's shared state (Redis) behind short timeouts, with a declared behaviour when it fails.

`[state] redis` shares limits, budgets and breakers between replicas. Redis trouble must not take
the gateway down with it, so every call to it here

- goes through the async client under a short timeout (`[state] timeout_ms`, default 1 s: long
  enough that a busy event loop is not taken for a dead Redis), so a hung Redis (SIGSTOP, a
  partition) costs the requests in flight at most that once, and a dead one an immediate error;
- feeds one outage detector (`Outage`): after a failure the store counts as down and is not asked
  again for `retry_s` (only one request probes it then), so during an outage no request waits on it;
  the outage is logged once when it starts (the cause, no traceback) and once when it ends, and
  `/metrics` shows it (`tiered_state_store_up`, `tiered_state_store_failures_total`, ...);
- while down, does what `[state] on_failure` says:
  - `"open"` (the default): limits and budgets are kept in this process (`MemoryLimits`), so the
    gateway keeps answering with per-replica limits, and every such decision is counted
    (`tiered_state_store_local_total`); charges made locally are also queued for Redis;
  - `"closed"`: the request is refused with 503 `overloaded_error`, a retry-after, and a message
    naming the state store.

A request that was answered is never failed by its settlement: a settle Redis does not take is queued
(`pending`, bounded) and retried in the background until it does. Settling is idempotent (a marker per
hold id, `RedisLimits.settle`), so a retry after an ambiguous timeout cannot charge twice.

Breakers (`MirroredBreakers`) decide from an in-process mirror, so a policy's `available()` never waits
on the network; outcomes are written to Redis in the background (the shared transition, atomic), and
the shared state read back into the mirror, so replicas still learn from each other's failures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from tiered.gateway.limits import Hold, MemoryLimits, Verdict
from tiered.gateway.redis_limits import RedisLimits
from tiered.runtime.health import BreakerConfig, Breakers, BreakerState, next_state
from tiered.runtime.redis_state import _decode, _encode

log = logging.getLogger("tiered.gateway")
T = TypeVar("T")
OnFailure = Literal["open", "closed"]
MAX_PENDING = 100_000
"""Settlements kept for Redis while it is down; past this the oldest is dropped (and counted)."""
FLUSH_BATCH = 64
"""Queued settlements sent at once when Redis answers again (each is idempotent: resending is safe)."""


class StateStoreDown(Exception):
    """The state store did not answer (or is known to be down); `retry_after_s` until it is asked again."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class StoreStats:
    """What /metrics shows about the state store (one per process)."""

    up: bool = True
    failures: int = 0
    """Calls that failed or timed out."""
    outages: int = 0
    local: int = 0
    """Decisions taken in this process because the store was down (fail open)."""
    refused: int = 0
    """Requests refused with 503 because the store was down (fail closed)."""
    pending: int = 0
    """Settlements waiting for the store."""
    dropped: int = 0
    """Settlements dropped because the queue was full."""


class Outage:
    """One outage detector for every use of the store: timeouts, down-time, one log line each way."""

    def __init__(self, *, timeout_s: float = 1.0, retry_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s, self.retry_s = timeout_s, retry_s
        self.stats = StoreStats()
        self._clock = clock
        self._down_since: float | None = None
        self._next_try = 0.0
        self._probing = False

    @property
    def down(self) -> bool:
        return self._down_since is not None

    @property
    def next_try(self) -> float:
        return self._next_try

    def retry_after_s(self) -> float:
        return max(0.0, self._next_try - self._clock()) or self.retry_s

    async def call(self, op: Callable[[], Awaitable[T]]) -> T:
        """`op()` under the timeout; `StateStoreDown` at once while the store is down and not due a probe."""
        probe = False
        if self._down_since is not None:
            if self._probing or self._clock() < self._next_try:
                raise StateStoreDown("the state store (Redis) is unavailable", self.retry_after_s())
            self._probing = probe = True
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await op()
        except Exception as e:  # noqa: BLE001 - any failure of the store (timeout, refused, reset, a Redis error)
            self._failed(e)
            raise StateStoreDown(f"the state store (Redis) is unavailable: {_cause(e)}", self.retry_s) from None
        finally:
            if probe:
                self._probing = False
        if probe and self._down_since is not None:  # only a call begun during the outage can end it
            log.warning("state store (Redis) answers again after %.1f s; shared limits and breakers resume",
                        self._clock() - self._down_since)
            self._down_since = None
            self.stats.up = True
        return result

    def _failed(self, error: BaseException) -> None:
        self.stats.failures += 1
        now = self._clock()
        self._next_try = now + self.retry_s
        if self._down_since is None:
            self._down_since = now
            self.stats.up = False
            self.stats.outages += 1
            log.error("state store (Redis) unavailable: %s; trying again every %.1f s", _cause(error), self.retry_s)


def _cause(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer within the timeout"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class StoreLimits:
    """`Limits` on Redis through `Outage`, with local limits or a 503 while it is down (module docstring)."""

    def __init__(self, redis: RedisLimits, outage: Outage, *, on_failure: OnFailure = "open",
                 local: MemoryLimits | None = None) -> None:
        self.redis, self.outage, self.on_failure = redis, outage, on_failure
        self.local = local or MemoryLimits()
        self._local_holds: set[str] = set()
        self._pending: deque[tuple[str, str, Decimal]] = deque()
        self._drain: asyncio.Task[None] | None = None

    @property
    def stats(self) -> StoreStats:
        return self.outage.stats

    def _down(self, e: StateStoreDown) -> None:
        """Fail closed (raise) or count a local decision (fail open)."""
        if self.on_failure == "closed":
            self.stats.refused += 1
            raise e
        self.stats.local += 1

    async def hit(self, who: str, per_minute: int) -> Verdict:
        try:
            return await self.outage.call(lambda: self.redis.hit(who, per_minute))
        except StateStoreDown as e:
            self._down(e)
            return await self.local.hit(who, per_minute)

    async def reserve(self, who: str, hold_id: str, usd: Decimal, budget: Decimal) -> Hold:
        try:
            return await self.outage.call(lambda: self.redis.reserve(who, hold_id, usd, budget))
        except StateStoreDown as e:
            self._down(e)
            hold = await self.local.reserve(who, hold_id, usd, budget)
            if hold.granted:
                self._local_holds.add(hold_id)
            return hold

    async def settle(self, who: str, hold_id: str, usd: Decimal) -> bool:
        """Never raises for the store: a settlement Redis does not take now is queued and retried."""
        if hold_id in self._local_holds:
            self._local_holds.discard(hold_id)
            done = await self.local.settle(who, hold_id, usd)
            self._queue(who, hold_id, usd)  # the fleet's budget sees the outage's spending once Redis is back
            return done
        try:
            return await self.outage.call(lambda: self.redis.settle(who, hold_id, usd))
        except StateStoreDown:
            self._queue(who, hold_id, usd)
            return True

    def _queue(self, who: str, hold_id: str, usd: Decimal) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            self.stats.dropped += 1
        self._pending.append((who, hold_id, usd))
        self.stats.pending = len(self._pending)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_task(self._drain_pending())

    async def _drain_pending(self) -> None:
        while self._pending:
            await asyncio.sleep(self.outage.retry_after_s() if self.outage.down else 0)
            await self.flush_pending()

    async def flush_pending(self) -> None:
        """Send the queued settlements, `FLUSH_BATCH` at a time, until the store refuses (they stay queued)."""
        while self._pending:
            batch = [self._pending[i] for i in range(min(FLUSH_BATCH, len(self._pending)))]

            async def send(batch: list[tuple[str, str, Decimal]] = batch) -> None:
                await asyncio.gather(*(self.redis.settle(who, hold_id, usd) for who, hold_id, usd in batch))

            try:
                await self.outage.call(send)
            except StateStoreDown:
                return
            for _ in batch:
                self._pending.popleft()
            self.stats.pending = len(self._pending)

    async def spent(self, who: str) -> Decimal:
        try:
            return await self.outage.call(lambda: self.redis.spent(who))
        except StateStoreDown as e:
            self._down(e)
            return await self.local.spent(who)

    async def held(self, who: str) -> Decimal:
        try:
            return await self.outage.call(lambda: self.redis.held(who))
        except StateStoreDown as e:
            self._down(e)
            return await self.local.held(who)

    async def spend(self, who: str, usd: Decimal) -> None:
        try:
            await self.outage.call(lambda: self.redis.spend(who, usd))
        except StateStoreDown as e:
            self._down(e)
            await self.local.spend(who, usd)

    async def aclose(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.cancel()
        await self.flush_pending()
        if self._pending:
            log.error("%d settlements could not be written to the state store (Redis) before shutdown",
                      len(self._pending))
        try:
            await asyncio.wait_for(self.redis.aclose(), self.outage.timeout_s)
        except Exception:
            log.debug("closing the Redis client failed", exc_info=True)

    def __repr__(self) -> str:
        return f"StoreLimits({self.redis!r}, on_failure={self.on_failure!r})"


class MirroredBreakers:
    """`Health` for a fleet: decisions from an in-process mirror (no I/O in `available()`), outcomes
    written to Redis in the background with the shared transition function, the shared state read
    back into the mirror. While Redis is down the mirror alone decides (as `Breakers` would).

    Across replicas, each learns another's failures within one round trip of its next outcome or its
    next refresh (`refresh_s`); a half-open probe is decided locally, so at most one per replica."""

    def __init__(self, client: Any, outage: Outage, config: BreakerConfig | None = None, *,
                 prefix: str = "tiered:breaker:", clock: Callable[[], float] = time.time, ttl_s: int = 86_400,
                 refresh_s: float = 0.5) -> None:
        self.client, self.outage = client, outage
        self.config = config or BreakerConfig()
        self.prefix, self._clock, self._ttl_s, self._refresh_s = prefix, clock, ttl_s, refresh_s
        self.local = Breakers(self.config, clock=clock)
        self._refreshed: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.mirror: BreakerMirror | None = None

    def available(self, target: str) -> bool:
        if self.mirror is not None:
            self.mirror.targets.setdefault(target)  # read with the others before each request
        else:
            now = time.monotonic()
            if now - self._refreshed.get(target, -1e9) >= self._refresh_s:
                self._refreshed[target] = now
                self._spawn(self._refresh(target))
        return self.local.available(target)

    def record_success(self, target: str) -> None:
        before = self.local.state(target)
        self.local.record_success(target)
        if before != BreakerState():  # a success on a closed breaker with no failures changes nothing to share
            self._spawn(self._push(target, "success"))

    def record_failure(self, target: str) -> None:
        self.local.record_failure(target)
        self._spawn(self._push(target, "failure"))

    def state(self, target: str) -> BreakerState:
        return self.local.state(target)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the mirror alone decides
            work.close()
            return
        task = loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, target: str) -> None:
        try:
            raw = await self.outage.call(lambda: self.client.hgetall(self.prefix + target))
        except StateStoreDown:
            return
        if raw:
            self._adopt(target, _decode(raw))

    async def _push(self, target: str, event: Literal["success", "failure"]) -> None:
        key = self.prefix + target
        shared: list[BreakerState] = []

        async def txn(pipe: Any) -> None:
            new = next_state(_decode(await pipe.hgetall(key)), event, self._clock(), self.config)
            shared[:] = [new]
            pipe.multi()
            pipe.hset(key, mapping=_encode(new))
            pipe.expire(key, self._ttl_s)

        try:
            await self.outage.call(lambda: self.client.transaction(txn, key))
        except StateStoreDown:
            return
        if shared:
            self._adopt(target, shared[0])

    def _adopt(self, target: str, shared: BreakerState) -> None:
        """Take the fleet's state, keeping a probe this replica has out."""
        mine = self.local.state(target)
        if mine.status == "half_open" and mine.probing and shared.status != "closed":
            return
        self.local.adopt(target, shared)

    def __repr__(self) -> str:
        c = self.config
        return f"MirroredBreakers(failure_threshold={c.failure_threshold}, cooldown_s={c.cooldown_s:g})"


class BreakerMirror:
    """Reads the fleet's breakers into every `MirroredBreakers` of this process, at most every `refresh_s`:
    `Core.admit` awaits `refresh()` before a policy runs (one pipelined round trip under the store's timeout;
    nothing while Redis is down), so a replica sees a breaker another opened before its first call there."""

    def __init__(self, client: Any, outage: Outage, targets: tuple[str, ...] = (), *,
                 prefix: str = "tiered:breaker:", refresh_s: float = 0.5) -> None:
        self.client, self.outage, self.prefix, self.refresh_s = client, outage, prefix, refresh_s
        self.targets: dict[str, None] = dict.fromkeys(targets)
        self.breakers: list[MirroredBreakers] = []
        self.states: dict[str, BreakerState] = {}
        """The fleet's breakers as last read (a breaker built later starts from them)."""
        self._last = -1e9
        self._busy = False

    def build(self, config: BreakerConfig) -> MirroredBreakers:
        b = MirroredBreakers(self.client, self.outage, config, prefix=self.prefix, refresh_s=self.refresh_s)
        b.mirror = self
        for name, state in self.states.items():
            b._adopt(name, state)
        self.breakers.append(b)
        return b

    async def refresh(self) -> None:
        now = time.monotonic()
        if self._busy or now - self._last < self.refresh_s or (self.outage.down and now < self.outage.next_try):
            return
        self._busy, self._last = True, now
        names = list(self.targets)
        try:
            async def read() -> list[Any]:
                async with self.client.pipeline(transaction=False) as pipe:
                    for name in names:
                        pipe.hgetall(self.prefix + name)
                    return list(await pipe.execute())

            found = await self.outage.call(read)
        except StateStoreDown:
            return
        finally:
            self._busy = False
        for name, raw in zip(names, found, strict=True):
            if raw:
                self.states[name] = state = _decode(raw)
                for b in self.breakers:
                    b._adopt(name, state)


def reconnecting() -> dict[str, Any]:
    """Client options: a command that finds its pooled connection closed (Redis restarted) is sent once
    more on a fresh one, instead of counting as an outage."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    return {"retry": Retry(NoBackoff(), 1), "retry_on_error": [RedisConnectionError]}


def shared_state(settings: Any, targets: tuple[str, ...] = ()) -> tuple[StoreLimits, BreakerMirror]:
    """The limits and the breakers' mirror (`build` is the breaker factory) for `[state] redis`
    (`settings`: the `GatewaySettings`; `targets`: the breaker names to read ahead, e.g. the catalog's)."""
    import redis.asyncio as aioredis

    timeout = settings.state_timeout_s
    outage = Outage(timeout_s=timeout)
    limits = StoreLimits(RedisLimits(settings.redis_url, timeout_s=timeout, **reconnecting()), outage,
                         on_failure=settings.state_on_failure)
    client = aioredis.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout,
                               **reconnecting())
    return limits, BreakerMirror(client, outage, targets)


def monthly_state(settings: Any, daily: StoreLimits) -> StoreLimits:
    """The monthly budgets' limits beside `daily` (`shared_state`'s): their own keys, the same outage detector."""
    from tiered.gateway.limits import utc_month

    redis = RedisLimits(settings.redis_url, prefix="tiered:month:", period=utc_month,
                        timeout_s=settings.state_timeout_s, **reconnecting())
    return StoreLimits(redis, daily.outage, on_failure=settings.state_on_failure)
