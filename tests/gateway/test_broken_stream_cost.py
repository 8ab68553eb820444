"""A stream that breaks after it began is recorded at what the upstream consumed, not at $0."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
from gateway_support import KEY, ServeGateway

from tiered.catalog import Catalog
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.pricing import cost_usd
from tiered.types import Usage

DIRECT = '\n[routes.default]\npolicy = "direct"\ntarget = "opus"\n'


def test_broken_stream_records_the_consumed_cost(start_emulator: Callable[[EmulatorConfig], str],
                                                 serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"midstream": 1.0})))
    gw = serve_gateway(upstream, routes=DIRECT)
    body = {"model": "auto", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "Tell me about tiers, at length. " * 20}]}
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY}, json=body)
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "error" and all(e["type"] != "message_stop" for e in events)
    started = events[0]["message"]["usage"]
    deltas = sum(e["type"] == "content_block_delta" for e in events)
    (record,) = gw.records(1)
    (attempt,) = record.attempts
    assert record.outcome == "overloaded_error" and attempt.input_tokens == started["input_tokens"] > 0
    assert attempt.output_tokens >= deltas > 0
    info = Catalog.load().get(attempt.model)
    assert info is not None
    usage = Usage(input_tokens=attempt.input_tokens, output_tokens=attempt.output_tokens,
                  cache_read_input_tokens=attempt.cache_read_input_tokens,
                  cache_creation_input_tokens=attempt.cache_creation_input_tokens)
    assert record.cost_usd == attempt.cost_usd == cost_usd(info, usage) > 0  # priced once, on that attempt
