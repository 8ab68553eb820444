"""Redis-backed breakers and affinity against a real Redis (the `redis_url` fixture)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from tiered.errors import Overloaded
from tiered.models.registry import ModelSet
from tiered.policies.fallback import Fallback
from tiered.policies.router import ComplexityRouter
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.runtime.health import BreakerConfig
from tiered.runtime.redis_state import RedisAffinity, RedisBreakers
from tiered.scoring.base import Thresholds
from tiered.types import Request

pytestmark = pytest.mark.redis


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    yield c
    c.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    p = f"tiered-test:{uuid.uuid4().hex}:"
    yield p
    for key in client.scan_iter(match=p + "*"):
        client.delete(key)


def test_replicas_share_one_breaker_and_one_probe(client: redis.Redis, prefix: str) -> None:
    clock = ManualClock(1_000.0)
    cfg = BreakerConfig(failure_threshold=2, cooldown_s=30)
    a = RedisBreakers(client, cfg, prefix=prefix, clock=clock)
    b = RedisBreakers(client, cfg, prefix=prefix, clock=clock)  # another replica
    a.record_failure("opus")
    b.record_failure("opus")
    assert a.state("opus").status == "open" and not b.available("opus")
    clock.advance(30)
    assert b.available("opus")  # replica b gets the probe ...
    assert not a.available("opus")  # ... and replica a keeps away
    b.record_success("opus")
    assert a.state("opus").status == "closed" and a.available("opus")


async def test_fallback_skips_what_another_replica_saw_fail(
    client: redis.Redis, prefix: str, fakes: Callable[..., ModelSet]
) -> None:
    def busy(_: Request) -> str:
        raise Overloaded("busy")

    clock = ManualClock(1_000.0)
    cfg = BreakerConfig(failure_threshold=1, cooldown_s=60)
    replica1 = Fallback("opus", "sonnet", retries=0, health=RedisBreakers(client, cfg, prefix=prefix, clock=clock))
    replica2 = Fallback("opus", "sonnet", retries=0, health=RedisBreakers(client, cfg, prefix=prefix, clock=clock))
    models = fakes(opus=busy, sonnet=lambda r: "s")
    await run(replica1, Request.user("x"), models, clock=clock)
    result = await run(replica2, Request.user("x"), models, clock=clock)
    assert [a.tier for a in result.record.attempts] == ["sonnet"]


async def test_affinity_is_shared_and_expires(client: redis.Redis, prefix: str, fakes: Callable[..., ModelSet]) -> None:
    store = RedisAffinity(client, prefix=prefix)
    store.put("conv:1", "opus", ttl_s=0.05)
    assert store.get("conv:1") == "opus" and store.get("conv:2") is None
    await asyncio.sleep(0.1)
    assert store.get("conv:1") is None  # Redis expired it
    ladder = Thresholds.of(("haiku", "opus"), (0.5,))
    scores = iter([0.9, 0.1])
    models = fakes(haiku=lambda r: "h", opus=lambda r: "o")
    first = ComplexityRouter(lambda r: next(scores), ladder, affinity=RedisAffinity(client, prefix=prefix))
    second = ComplexityRouter(lambda r: next(scores), ladder, affinity=RedisAffinity(client, prefix=prefix))
    await run(first, Request.user("a", conversation_id="c9"), models)
    later = await run(second, Request.user("b", conversation_id="c9"), models)  # another replica, same store
    assert later.record.tier == "opus"
    assert client.pttl(prefix + "conv:c9") > 0
