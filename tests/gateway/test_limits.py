"""Per-key rate limits and daily budgets: the limiters alone, then through the gateway (memory and Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import anthropic
import httpx2
import pytest
from gateway_support import KEY, ServeGateway

from tiered.gateway.auth import caller_id
from tiered.gateway.limits import DAY_S, MemoryLimits
from tiered.gateway.settings import GatewaySettings
from tiered.runtime.clock import ManualClock

BODY = {"model": "haiku", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


async def test_leaky_bucket_allows_a_burst_then_paces() -> None:
    clock = ManualClock()
    limits = MemoryLimits(clock=clock)
    assert [(await limits.hit("a", 3)).allowed for _ in range(4)] == [True, True, True, False]
    refused = await limits.hit("a", 3)
    assert refused.retry_after_s == pytest.approx(20.0)  # 3/min drains one request every 20 s
    assert (await limits.hit("b", 3)).allowed  # callers do not share a bucket
    clock.advance(20.0)
    assert (await limits.hit("a", 3)).allowed
    assert not (await limits.hit("a", 3)).allowed


async def test_spend_is_per_utc_day() -> None:
    wall = ManualClock(start=10 * DAY_S + 100)
    limits = MemoryLimits(wallclock=wall)
    await limits.spend("a", Decimal("0.25"))
    await limits.spend("a", Decimal("0.000001"))
    assert await limits.spent("a") == Decimal("0.250001")
    assert await limits.spent("b") == 0
    wall.advance(DAY_S)
    assert await limits.spent("a") == 0


def test_rate_limit_is_a_429_with_retry_after(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY, "other"}), requests_per_minute=2))
    codes = [httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json=BODY).status_code for _ in range(2)]
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(**BODY)  # type: ignore[arg-type]
    assert codes == [200, 200]
    assert caught.value.type == "rate_limit_error" and int(caught.value.response.headers["retry-after"]) >= 1
    assert httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": "other"}, json=BODY).status_code == 200


def test_daily_budget_stops_a_key_once_spent(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=GatewaySettings(keys=frozenset({KEY}), usd_per_day=Decimal("0.000001")))
    asyncio.run(gw.app.core.limits.spend(caller_id(KEY), Decimal("0.000001")))  # what earlier requests cost
    second = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json=BODY)
    assert second.status_code == 429 and "budget of $0.000001 used up" in second.json()["error"]["message"]
    assert 0 < int(second.headers["retry-after"]) <= DAY_S
    assert second.headers["x-should-retry"] == "false"  # an SDK must not sleep until midnight


@pytest.mark.redis
def test_rate_limit_is_shared_by_two_gateways_through_redis(emulator_url: str, serve_gateway: ServeGateway,
                                                            redis_url: str) -> None:
    if 60 - time.time() % 60 < 3:  # the window is the wall-clock minute: do not straddle two of them
        time.sleep(60 - time.time() % 60 + 0.05)
    key = f"gw-{uuid.uuid4().hex}"
    settings = GatewaySettings(keys=frozenset({key}), requests_per_minute=3, redis_url=redis_url)
    a, b = serve_gateway(emulator_url, settings=settings), serve_gateway(emulator_url, settings=settings)
    assert a.app is not b.app
    codes = [httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": key}, json=BODY).status_code
             for gw in (a, b, a, b)]
    assert codes == [200, 200, 200, 429]
    metrics = httpx2.get(f"{b.url}/metrics").text
    assert 'tiered_requests_total{route="",tier="",outcome="rate_limit_error"} 1' in metrics


def test_keys_never_reach_the_request_log(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    client.messages.create(**BODY)  # type: ignore[arg-type]
    with client.messages.stream(**BODY) as s:  # type: ignore[arg-type]
        s.get_final_message()
    httpx2.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json={"model": "auto"})  # refused: no record
    gw.app.core.recorder.close()  # drains the writer and closes the database, so the file is complete
    from tiered.telemetry.sqlite import SqliteSink

    with SqliteSink(gw.db) as log:
        assert len(log.records()) == 3  # one record per answered request, none for the refused one
    raw = b"".join(p.read_bytes() for p in gw.db.parent.rglob(gw.db.name + "*") if p.is_file())  # and its spool
    assert KEY.encode() not in raw and KEY[:12].encode() not in raw


@pytest.mark.redis
def test_a_breaker_opened_by_one_gateway_is_seen_by_another(start_emulator,  # type: ignore[no-untyped-def]
                                                            serve_gateway: ServeGateway, redis_url: str) -> None:
    import redis

    from tiered.emulator.config import Behaviour, EmulatorConfig

    shared = redis.Redis.from_url(redis_url)
    key = "tiered:breaker:claude-opus-4-7"
    shared.delete(key)
    try:
        upstream = start_emulator(EmulatorConfig(per_model={"claude-opus-4-7": Behaviour(error_rates={"529": 1.0})}))
        settings = GatewaySettings(keys=frozenset({KEY}), redis_url=redis_url, fallback_retries=0)
        a, b = serve_gateway(upstream, settings=settings), serve_gateway(upstream, settings=settings)
        body = {**BODY, "model": "opus"}
        for _ in range(5):  # the default breaker opens after 5 failures in a row
            r = httpx2.post(f"{a.url}/v1/messages", headers={"x-api-key": KEY}, json=body)
            assert r.status_code == 200 and r.headers["x-tiered-degraded"] == "true"
        r = httpx2.post(f"{b.url}/v1/messages", headers={"x-api-key": KEY}, json=body)
        assert r.status_code == 200 and r.headers["x-tiered-model"] == "claude-sonnet-4-6"
        (record,) = b.records(1)
        assert [x.model for x in record.attempts] == ["claude-sonnet-4-6"]  # b never called the cooling model
        assert all(len(x.attempts) == 2 for x in a.records(5))  # a: opus failed, then sonnet; one record each
    finally:
        shared.delete(key)
        shared.close()
