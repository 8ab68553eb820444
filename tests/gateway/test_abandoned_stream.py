"""A client that leaves a stream is charged what the upstream consumed: the prompt and the tokens streamed
so far, to its budget and in the request log (it used to be a `cancelled` record costing $0, no attempts).

The amount is computed here from the emulator's own token count of the prompt and the catalog's prices,
not read back from the gateway.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.catalog import Catalog
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.gateway.auth import caller_id
from tiered.gateway.settings import GatewaySettings

DIRECT = '\n[routes.default]\npolicy = "direct"\ntarget = "sonnet"\n'
PROMPT = "Explain how a budget hold works, step by step, with an example. " * 30
BODY = {"model": "auto", "max_tokens": 400, "stream": True, "messages": [{"role": "user", "content": PROMPT}]}


def test_a_client_that_leaves_is_charged_the_prompt_and_the_tokens_streamed(
        start_emulator, serve_gateway: ServeGateway) -> None:  # type: ignore[no-untyped-def]
    upstream = start_emulator(EmulatorConfig(default=Behaviour(tpot_ms=30)))  # 300 tokens: 9 s of stream
    gw = serve_gateway(upstream, routes=DIRECT,
                       settings=GatewaySettings(keys=frozenset({KEY}), usd_per_day=Decimal(10)))
    sonnet = Catalog.load().resolve("sonnet")
    counted = httpx2.post(f"{upstream}/v1/messages/count_tokens", headers={"x-api-key": "k"},
                          json={"model": sonnet.id, "messages": BODY["messages"]}).json()["input_tokens"]
    received = 0
    with httpx2.stream("POST", f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json=BODY, timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            received += line.startswith("event: content_block_delta")
            if received == 2:
                break  # and leave (the emulator's answer takes a few seconds more)
    (record,) = gw.records(1)
    assert record.outcome == "cancelled"
    (attempt,) = record.attempts
    assert attempt.outcome == "cancelled" and attempt.model == sonnet.id and attempt.status == 200
    assert attempt.input_tokens == counted > 0
    # Each text delta is at least one token (a lower bound: never an overcharge); the gateway had read at
    # most a couple more than the client when it noticed the client was gone.
    assert 2 <= attempt.output_tokens <= 5
    expected = (counted * sonnet.prices.input + attempt.output_tokens * sonnet.prices.output) / Decimal(1_000_000)
    assert record.cost_usd == attempt.cost_usd == expected > 0

    async def budget() -> tuple[Decimal, Decimal]:
        limits = gw.app.core.limits
        return await limits.spent(caller_id(KEY)), await limits.held(caller_id(KEY))

    assert asyncio.run(budget()) == (expected, Decimal(0))  # charged to the budget, nothing left held
