"""Budget holds: a request's worst case is held before it runs and settled with its exact cost after.

First the limiters alone (memory and Redis, same calls), then through the gateway over real HTTP with
the emulator upstream: concurrent requests never spend past the budget, and every way a request can
end (an answer, an upstream error, a broken stream, a client that leaves) leaves nothing held and
its record's cost charged once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from gateway_support import Served, ServeGateway

from tiered.catalog import Catalog
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.gateway.auth import caller_id
from tiered.gateway.limits import DAY_S, MemoryLimits
from tiered.gateway.redis_limits import RedisLimits
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.worst_case import worst_case
from tiered.runtime.clock import ManualClock
from tiered.types import Request

KINDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]
DIRECT = '\n[routes.default]\npolicy = "direct"\ntarget = "opus"\n'
PROMPT = "Explain how a budget hold works, step by step, with an example. " * 30
N = 16
"""Concurrent requests in the budget test (half to each replica): more than a budget of 3.5 holds can take
even one at a time, since each request costs about half its hold."""
BODY = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": PROMPT}]}


@pytest.fixture
def backend_url(kind: str, request: pytest.FixtureRequest) -> str | None:
    """The session's Redis URL (see local_services.py) when `kind` is "redis", else None (in memory)."""
    return str(request.getfixturevalue("redis_url")) if kind == "redis" else None


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Redis key prefix of this test's own, deleted afterwards (when the test used Redis)."""
    name = f"tiered-test:{uuid.uuid4().hex}:"
    yield name
    if "redis_url" not in request.fixturenames:
        return
    import redis

    client = redis.Redis.from_url(request.getfixturevalue("redis_url"), socket_connect_timeout=1)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


def _limits(url: str | None, wall: ManualClock, prefix: str, ttl: float = 60.0) -> Any:
    if url is None:
        return MemoryLimits(wallclock=wall, hold_ttl_s=ttl)
    return RedisLimits(url, prefix=prefix, wallclock=wall, hold_ttl_s=ttl)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_hold_counts_until_settled_and_is_charged_once(backend_url: str | None, prefix: str) -> None:
    limits = _limits(backend_url, ManualClock(start=1_000 * DAY_S + 5), prefix)
    budget = Decimal(1)
    try:
        first = await limits.reserve("c", "r1", Decimal("0.6"), budget)
        assert first.granted and first.spent == 0 and first.held == 0
        second = await limits.reserve("c", "r2", Decimal("0.5"), budget)
        assert not second.granted and second.held == Decimal("0.6")  # 0 + 0.6 + 0.5 > 1
        assert await limits.held("c") == Decimal("0.6") and await limits.held("other") == 0
        assert await limits.settle("c", "r1", Decimal("0.25"))
        assert not await limits.settle("c", "r1", Decimal("0.25"))  # a second settle bills nothing
        assert await limits.spent("c") == Decimal("0.25") and await limits.held("c") == 0
        third = await limits.reserve("c", "r3", Decimal("0.75"), budget)  # 0.25 + 0.75 = the budget: fits
        assert third.granted and third.spent == Decimal("0.25")
        assert not (await limits.reserve("c", "r4", Decimal("0.000000001"), budget)).granted
    finally:
        await limits.aclose()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_hold_never_settled_expires(backend_url: str | None, prefix: str) -> None:
    wall = ManualClock(start=1_000 * DAY_S + 5)
    limits = _limits(backend_url, wall, prefix, ttl=30.0)
    budget = Decimal(1)
    try:
        assert (await limits.reserve("c", "lost", Decimal("0.9"), budget)).granted  # its replica dies
        assert not (await limits.reserve("c", "next", Decimal("0.2"), budget)).granted
        wall.advance(29)
        assert await limits.held("c") == Decimal("0.9")
        wall.advance(2)
        assert await limits.held("c") == 0
        assert (await limits.reserve("c", "next", Decimal("0.2"), budget)).granted
        assert await limits.settle("c", "lost", Decimal("0.1"))  # settled late: charged, once
        assert await limits.spent("c") == Decimal("0.1") and await limits.held("c") == Decimal("0.2")
    finally:
        await limits.aclose()


async def test_settled_ids_in_memory_are_bounded_and_recent_repeats_still_bill_nothing() -> None:
    """Settled ids were kept 15 minutes whatever their number: memory grew with the answer rate
    (~150 bytes an answer, ~60 MB at 450 answers/s). Now at most `max_settled` latest ids stay."""
    import tracemalloc

    limits = MemoryLimits(max_settled=1_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50_000):
            assert await limits.settle("c", uuid.uuid4().hex if i < 49_000 else f"late-{i}", Decimal(0))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000, grown  # 50,000 remembered ids take ~7 MB
    assert not any([await limits.settle("c", f"late-{i}", Decimal(1)) for i in range(49_000, 50_000)])
    assert await limits.spent("c") == 0


async def test_concurrent_reserves_in_memory_from_many_threads() -> None:
    limits = MemoryLimits()

    def reserve(i: int) -> bool:
        return asyncio.run(limits.reserve("c", f"r{i}", Decimal("0.1"), Decimal(1))).granted

    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(reserve, range(40)))
    assert sum(granted) == 10 and await limits.held("c") == Decimal(1)


@pytest.mark.redis
async def test_concurrent_reserves_from_two_redis_replicas(redis_url: str, prefix: str) -> None:
    replicas = [RedisLimits(redis_url, prefix=prefix) for _ in range(2)]
    try:
        verdicts = await asyncio.gather(*(replicas[i % 2].reserve("c", f"r{i}", Decimal("0.1"), Decimal(1))
                                          for i in range(40)))
        assert sum(v.granted for v in verdicts) == 10
        assert await replicas[0].held("c") == await replicas[1].held("c") == Decimal(1)
    finally:
        for r in replicas:
            await r.aclose()


# Through the gateway.

def _worst(body: dict[str, Any]) -> Decimal:
    """What the gateway holds for `body` on the DIRECT route (opus only)."""
    catalog = Catalog.load()
    bound, model = worst_case(Request.from_body(body).to_body(), [catalog.resolve("opus")])
    assert model is not None and bound > 0
    return bound


def _gateways(url: str | None, upstream: str, serve_gateway: ServeGateway, key: str, budget: Decimal,
              n: int = 1) -> list[Served]:
    settings = GatewaySettings(keys=frozenset({key}), usd_per_day=budget, redis_url=url)
    return [serve_gateway(upstream, routes=DIRECT, settings=settings) for _ in range(n)]


def _budget_state(gw: Served, key: str) -> tuple[Decimal, Decimal]:
    """(spent today, held now) for `key`, read from the gateway's limits (a fresh client for Redis)."""
    async def read() -> tuple[Decimal, Decimal]:
        redis = gw.app.core.settings.redis_url
        limits: Any = RedisLimits(redis) if redis else gw.app.core.limits
        try:
            return await limits.spent(caller_id(key)), await limits.held(caller_id(key))
        finally:
            if redis:
                await limits.aclose()

    return asyncio.run(read())


def _settled(gw: Served, key: str, timeout_s: float = 5.0) -> tuple[Decimal, Decimal]:
    """The budget state once nothing is held (a stream settles just after its last byte)."""
    deadline = time.monotonic() + timeout_s
    while True:
        spent, held = _budget_state(gw, key)
        if held == 0 or time.monotonic() > deadline:
            return spent, held
        time.sleep(0.02)


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_requests_never_spend_past_the_budget(kind: str, backend_url: str | None,
                                                         start_emulator: Callable[[EmulatorConfig], str],
                                                         serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(ttft_ms=300)))  # so the requests overlap
    key = f"gw-{uuid.uuid4().hex}"
    budget = _worst(BODY) * Decimal("3.5")  # room for three holds at once
    # two replicas (Redis shares one budget)
    gateways = _gateways(backend_url, upstream, serve_gateway, key, budget, n=2)

    def post(i: int) -> tuple[int, httpx2.Response]:
        gw = i % 2
        return gw, httpx2.post(f"{gateways[gw].url}/v1/messages", headers={"x-api-key": key}, json=BODY, timeout=30)

    with ThreadPoolExecutor(N) as pool:
        replies = list(pool.map(post, range(N)))
    ok = [(gw, r) for gw, r in replies if r.status_code == 200]
    refused = [r for _, r in replies if r.status_code == 429]
    assert len(ok) + len(refused) == N and ok and refused
    assert all(r.json()["error"]["type"] == "rate_limit_error" for r in refused)
    assert any("worst case" in r.json()["error"]["message"] and "remaining" in r.json()["error"]["message"]
               for r in refused)
    costs = sum((Decimal(r.headers["x-tiered-cost-usd"]) for _, r in ok), Decimal(0))
    # Each request costs about half its hold: checked before and charged after, all N would pass and overshoot.
    assert N * costs / len(ok) > budget
    records = [rec for i, gw in enumerate(gateways) for rec in gw.records(sum(g == i for g, _ in ok))]
    assert len(records) == len(ok)
    # In memory each replica keeps its own budget; in Redis both read the one they share.
    states = [_budget_state(gw, key) for gw in (gateways if kind == "memory" else gateways[:1])]
    assert all(spent <= budget and held == 0 for spent, held in states)
    charged = sum((spent for spent, _ in states), Decimal(0))
    assert charged == costs == sum((rec.cost_usd for rec in records), Decimal(0))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_failure_releases_the_hold(backend_url: str | None, stream: bool,
                                              start_emulator: Callable[[EmulatorConfig], str],
                                              serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"529": 1.0})))
    key = f"gw-{uuid.uuid4().hex}"
    budget = _worst(BODY) * Decimal("1.5")  # one hold at a time: a leaked one would refuse the next request
    (gw,) = _gateways(backend_url, upstream, serve_gateway, key, budget)
    for _ in range(3):
        r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": key}, json={**BODY, "stream": stream})
        assert r.status_code == 529 and r.json()["error"]["type"] == "overloaded_error"
    records = gw.records(3)
    assert len(records) == 3 and all(rec.outcome == "overloaded_error" for rec in records)
    assert _settled(gw, key) == (sum((rec.cost_usd for rec in records), Decimal(0)), Decimal(0))


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_stream_releases_the_hold_and_charges_what_it_consumed(
        backend_url: str | None, start_emulator: Callable[[EmulatorConfig], str], serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"midstream": 1.0})))
    key = f"gw-{uuid.uuid4().hex}"
    body = {**BODY, "max_tokens": 64, "stream": True}
    (gw,) = _gateways(backend_url, upstream, serve_gateway, key, _worst(body) * Decimal("1.5"))
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": key}, json=body)
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert r.status_code == 200 and events[-1]["type"] == "error"
    (record,) = gw.records(1)
    assert record.cost_usd > 0
    assert _settled(gw, key) == (record.cost_usd, Decimal(0))  # the consumed cost, charged once, nothing held


@pytest.mark.parametrize("kind", KINDS)
def test_a_client_that_leaves_mid_stream_releases_the_hold(
        backend_url: str | None, start_emulator: Callable[[EmulatorConfig], str], serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(tpot_ms=40)))  # 200 tokens: 8 s of stream
    key = f"gw-{uuid.uuid4().hex}"
    body = {**BODY, "max_tokens": 200, "stream": True}
    (gw,) = _gateways(backend_url, upstream, serve_gateway, key, _worst(body) * Decimal("1.5"))
    with httpx2.stream("POST", f"{gw.url}/v1/messages", headers={"x-api-key": key}, json=body) as r:
        lines = r.iter_lines()
        assert any("content_block_delta" in line for line in lines)
        assert _budget_state(gw, key)[1] == _worst(body)  # held while it streams
    (record,) = gw.records(1)
    assert record.outcome == "cancelled"
    assert _settled(gw, key) == (record.cost_usd, Decimal(0))
