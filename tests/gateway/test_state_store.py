"""Redis trouble never takes the gateway down (`tiered.gateway.state_store`), over real HTTP, with a
private redis-server each test stops (SIGSTOP), resumes or kills; never the machine's shared one.

- a hung Redis never blocks the event loop: /healthz keeps answering at once, requests keep being
  answered (fail open: local limits), the outage is one log line and a metric, no traceback;
- fail closed: a 503 overloaded_error with retry-after that names the state store;
- a request that was answered is delivered whole even if Redis hangs while it settles (no 500, no error
  event after message_stop), and its settlement reaches Redis once it answers again: the budget spent
  in Redis equals what the answers cost, to the nano-dollar.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx2
import pytest
from gateway_support import KEY, Served, ServeGateway

from local_services import PrivateRedis, Unavailable, private_redis
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.gateway.auth import caller_id
from tiered.gateway.redis_limits import RedisLimits
from tiered.gateway.settings import GatewaySettings

BODY = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}
HEADERS = {"x-api-key": KEY}


@pytest.fixture
def redis_proc() -> Iterator[PrivateRedis]:
    pytest.importorskip("redis")
    try:
        with private_redis() as server:
            yield server
    except Unavailable as e:
        pytest.skip(str(e))


def _settings(url: str, on_failure: str = "open") -> GatewaySettings:
    return GatewaySettings(keys=frozenset({KEY}), requests_per_minute=100_000, usd_per_day=Decimal(1000),
                           redis_url=url, state_on_failure=on_failure)


def _spent(url: str) -> Decimal:
    async def read() -> Decimal:
        limits = RedisLimits(url)
        try:
            return await limits.spent(caller_id(KEY))
        finally:
            await limits.aclose()

    return asyncio.run(read())


def _metric(gw: Served, name: str) -> float:
    text = httpx2.get(f"{gw.url}/metrics").text
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


def _stream(gw: Served) -> tuple[int, list[str]]:
    """Status and SSE event names of one streamed request."""
    with httpx2.stream("POST", f"{gw.url}/v1/messages", headers=HEADERS, json={**BODY, "stream": True},
                       timeout=30) as r:
        names = [line[len("event: "):] for line in r.iter_lines() if line.startswith("event: ")]
        return r.status_code, names


def test_a_hung_redis_never_blocks_the_gateway(emulator_url: str, serve_gateway: ServeGateway,
                                               redis_proc: PrivateRedis, caplog: pytest.LogCaptureFixture) -> None:
    gw = serve_gateway(emulator_url, settings=_settings(redis_proc.url))
    costs: list[Decimal] = []
    for _ in range(3):
        r = httpx2.post(f"{gw.url}/v1/messages", headers=HEADERS, json=BODY, timeout=30)
        assert r.status_code == 200
        costs.append(Decimal(r.headers["x-tiered-cost-usd"]))
    caplog.clear()
    redis_proc.pause()
    statuses: list[int] = []
    health: list[float] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx2.Client(base_url=gw.url, headers=HEADERS, timeout=30) as client:
            while not stop.is_set():
                r = client.post("/v1/messages", json=BODY)
                statuses.append(r.status_code)
                if r.status_code == 200:
                    costs.append(Decimal(r.headers["x-tiered-cost-usd"]))

    try:
        with ThreadPoolExecutor(4) as pool:
            workers = [pool.submit(traffic) for _ in range(4)]
            with httpx2.Client(base_url=gw.url, timeout=30) as probe:
                deadline = time.monotonic() + 3.0
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    assert probe.get("/healthz").status_code == 200
                    health.append(time.perf_counter() - started)
                    time.sleep(0.02)
            stop.set()
            for w in workers:
                w.result()
        assert _metric(gw, "tiered_state_store_up") == 0
        assert _metric(gw, "tiered_state_store_local_total") > 0
    finally:
        redis_proc.resume()
    assert statuses and set(statuses) == {200}, statuses  # every request answered while Redis hung
    # A hung Redis used to stall the event loop for its socket timeout (1 s) per breaker call.
    health.sort()
    assert health[len(health) * 99 // 100] < 0.25, health[-5:]
    assert len(statuses) > 40  # ~hundreds in 3 s; 0-10 when each request waited on Redis
    outage = [r for r in caplog.records if "state store (Redis) unavailable" in r.getMessage()]
    assert len(outage) == 1 and outage[0].exc_info is None  # one line per outage, no traceback
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("tiered"))
    # Once Redis answers, the settlements queued during the outage reach it: Redis holds every answer's cost.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_metric(gw, "tiered_state_store_pending_settlements") > 0
                                           or _metric(gw, "tiered_state_store_up") == 0):
        httpx2.get(f"{gw.url}/healthz")
        httpx2.post(f"{gw.url}/v1/messages/count_tokens", headers=HEADERS, json=BODY)
        time.sleep(0.1)
    assert _metric(gw, "tiered_state_store_up") == 1
    assert _metric(gw, "tiered_state_store_pending_settlements") == 0
    assert _spent(redis_proc.url) == sum(costs, Decimal(0))
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_a_redis_restart_is_one_outage_logged_once(emulator_url: str, serve_gateway: ServeGateway,
                                                   redis_proc: PrivateRedis, caplog: pytest.LogCaptureFixture) -> None:
    gw = serve_gateway(emulator_url, settings=_settings(redis_proc.url))
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx2.Client(base_url=gw.url, headers=HEADERS, timeout=30) as client:
            while not stop.is_set():
                statuses.append(client.post("/v1/messages", json=BODY).status_code)

    with ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(traffic) for _ in range(4)]
        time.sleep(1.0)  # every worker's pooled connection to Redis is in use
        redis_proc.kill()
        time.sleep(2.0)
        redis_proc.restart()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _metric(gw, "tiered_state_store_up") == 0:
            time.sleep(0.1)
        time.sleep(1.0)  # pooled connections closed by the restart are replaced, not an outage each
        stop.set()
        for w in workers:
            w.result()
    assert set(statuses) == {200}
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "state store (Redis) unavailable" in m]) == 1, messages
    assert len([m for m in messages if "answers again" in m]) == 1, messages
    assert _metric(gw, "tiered_state_store_outages_total") == 1


def test_fail_closed_is_a_503_naming_the_state_store(emulator_url: str, serve_gateway: ServeGateway,
                                                     redis_proc: PrivateRedis,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    gw = serve_gateway(emulator_url, settings=_settings(redis_proc.url, "closed"))
    assert httpx2.post(f"{gw.url}/v1/messages", headers=HEADERS, json=BODY, timeout=30).status_code == 200
    redis_proc.kill()
    caplog.clear()
    replies = [httpx2.post(f"{gw.url}/v1/messages", headers=HEADERS, json=BODY, timeout=30) for _ in range(20)]
    chat = httpx2.post(f"{gw.url}/v1/chat/completions", headers=HEADERS, timeout=30,
                       json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    for r in replies:
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["type"] == "overloaded_error" and "state store (Redis)" in err["message"]
        assert int(r.headers["retry-after"]) >= 1
    assert chat.status_code == 503 and "state store" in chat.json()["error"]["message"]
    assert _metric(gw, "tiered_state_store_refused_total") == 21
    assert not any(r.exc_info for r in caplog.records)  # no traceback per request
    assert len([r for r in caplog.records if "state store (Redis) unavailable" in r.getMessage()]) == 1


def test_an_answer_is_delivered_when_redis_hangs_while_it_settles(start_emulator,  # type: ignore[no-untyped-def]
                                                                  serve_gateway: ServeGateway,
                                                                  redis_proc: PrivateRedis) -> None:
    import redis

    upstream = start_emulator(EmulatorConfig(default=Behaviour(ttft_ms=1500)))
    gw = serve_gateway(upstream, settings=_settings(redis_proc.url, "closed"))
    assert httpx2.post(f"{gw.url}/v1/messages", headers=HEADERS, json=BODY, timeout=30).status_code == 200
    with ThreadPoolExecutor(2) as pool:
        whole = pool.submit(httpx2.post, f"{gw.url}/v1/messages", headers=HEADERS, json=BODY, timeout=30)
        streamed = pool.submit(_stream, gw)
        with redis.Redis.from_url(redis_proc.url) as client:  # both hold budget: they wait on the upstream
            deadline = time.monotonic() + 10
            while client.hlen(f"tiered:hold:{caller_id(KEY)}") < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        redis_proc.pause()
        try:
            r = whole.result()
            status, events = streamed.result()
        finally:
            time.sleep(0.3)
            redis_proc.resume()
    assert r.status_code == 200, r.text  # the upstream answered (and billed): the caller gets the answer
    assert json.loads(r.text)["type"] == "message"
    assert status == 200 and events[-1] == "message_stop" and "error" not in events
    records = gw.records(3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _metric(gw, "tiered_state_store_pending_settlements") > 0:
        httpx2.post(f"{gw.url}/v1/messages/count_tokens", headers=HEADERS, json=BODY)
        time.sleep(0.1)
    assert _spent(redis_proc.url) == sum((rec.cost_usd for rec in records), Decimal(0))


