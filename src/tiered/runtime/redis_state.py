"""Routing state shared by gateway replicas through Redis: circuit breakers and conversation affinity.

With several replicas behind a load balancer, an in-memory breaker lets each replica rediscover a
failing deployment on its own, and a follow-up turn that lands on another replica loses its
conversation's tier. These keep that state in Redis instead, with the same protocols as the
in-memory versions (`Health`, `AffinityStore`), so a policy takes either.

Breaker transitions are atomic across replicas (WATCH/MULTI around the shared transition function
of `tiered.runtime.health`), so exactly one replica gets the half-open probe. Time is wall-clock
(`time.time`, injectable), as replicas share no monotonic clock. Keys expire on their own.

The client is the synchronous `redis.Redis` (the `redis` extra): policies are plain generators, and
one round trip to a nearby Redis is well under a millisecond. Pass a client you built
(`redis.Redis.from_url(url)`); nothing here connects at import.

    health = RedisBreakers(redis.Redis.from_url("redis://127.0.0.1:6379/0"))
    Fallback("opus", "sonnet", health=health)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from tiered.runtime.health import BreakerConfig, BreakerState, admit, next_state

if TYPE_CHECKING:
    import redis

_STATUSES = ("closed", "open", "half_open")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: Mapping[Any, Any]) -> BreakerState:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    if not fields:
        return BreakerState()
    status = fields.get("status", "closed")
    opened = fields.get("opened_at", "")
    return BreakerState(
        status=status if status in _STATUSES else "closed",  # type: ignore[arg-type]
        failures=int(fields.get("failures", "0")),
        opened_at=float(opened) if opened else None,
        probing=fields.get("probing") == "1",
    )


def _encode(state: BreakerState) -> dict[str, str]:
    return {
        "status": state.status,
        "failures": str(state.failures),
        "opened_at": "" if state.opened_at is None else repr(state.opened_at),
        "probing": "1" if state.probing else "0",
    }


class RedisBreakers:
    def __init__(
        self,
        client: redis.Redis,
        config: BreakerConfig | None = None,
        *,
        prefix: str = "tiered:breaker:",
        clock: Callable[[], float] = time.time,
        ttl_s: int = 86_400,
    ) -> None:
        self.client = client
        self.config = config or BreakerConfig()
        self.prefix = prefix
        self._clock = clock
        self._ttl_s = ttl_s

    def _update(self, target: str, change: Callable[[BreakerState], tuple[bool, BreakerState]]) -> bool:
        key = self.prefix + target
        result: list[bool] = []

        def txn(pipe: Any) -> None:
            ok, new = change(_decode(pipe.hgetall(key)))
            result[:] = [ok]
            pipe.multi()
            pipe.hset(key, mapping=_encode(new))
            pipe.expire(key, self._ttl_s)

        self.client.transaction(txn, key)
        return result[0]

    def available(self, target: str) -> bool:
        return self._update(target, lambda s: admit(s, self._clock(), self.config))

    def _record(self, target: str, event: Literal["success", "failure"]) -> None:
        self._update(target, lambda s: (True, next_state(s, event, self._clock(), self.config)))

    def record_success(self, target: str) -> None:
        self._record(target, "success")

    def record_failure(self, target: str) -> None:
        self._record(target, "failure")

    def state(self, target: str) -> BreakerState:
        return _decode(self.client.hgetall(self.prefix + target))

    def __repr__(self) -> str:
        c = self.config
        return f"RedisBreakers(failure_threshold={c.failure_threshold}, cooldown_s={c.cooldown_s:g})"


class RedisAffinity:
    def __init__(self, client: redis.Redis, *, prefix: str = "tiered:affinity:") -> None:
        self.client = client
        self.prefix = prefix

    def get(self, key: str) -> str | None:
        value = self.client.get(self.prefix + key)
        return None if value is None else _text(value)

    def put(self, key: str, tier: str, ttl_s: float) -> None:
        self.client.set(self.prefix + key, tier, px=max(1, int(ttl_s * 1000)))

    def __repr__(self) -> str:
        return "RedisAffinity()"
