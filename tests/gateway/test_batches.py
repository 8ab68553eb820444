"""/v1/messages/batches on the gateway: the official SDK against the gateway in front of the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

import anthropic
import pytest
from gateway_support import KEY, ServeGateway

from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.gateway.auth import caller_id
from tiered.gateway.settings import GatewaySettings

ROUTES = """
[routes.sorter]
policy = "router"
thresholds = { tiers = ["haiku", "sonnet", "opus"], cuts = [0.05, 0.95] }

[routes.cascade]
policy = "cascade"
tiers = ["haiku", "opus"]
"""


def params(text: str, model: str = "tiered/sorter", max_tokens: int = 64) -> dict[str, object]:
    return {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}


def test_a_client_batch_becomes_one_routed_upstream_batch_recorded_at_the_batch_price(
        start_emulator: Callable[[EmulatorConfig], str], serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(start_emulator(EmulatorConfig()), routes=ROUTES)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    batch = client.messages.batches.create(requests=[
        {"custom_id": "routed", "params": params("Prove that the sum of two odd numbers is even.")},  # type: ignore[typeddict-item]
        {"custom_id": "pinned", "params": params("hi", model="haiku")},  # type: ignore[typeddict-item]
        {"custom_id": "opus", "params": params("hi", model="opus")},  # type: ignore[typeddict-item]
    ])
    assert batch.processing_status == "ended" and batch.request_counts.succeeded == 3
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    models = {cid: r.message.model for cid, r in results.items() if r.type == "succeeded"}
    assert models == {"routed": "claude-sonnet-4-6", "pinned": "claude-haiku-4-5", "opus": "claude-opus-4-7"}
    records = gw.records(3)
    assert len(records) == 3 and {r.outcome for r in records} == {"ok"}
    routed = next(r for r in records if r.route == "sorter")
    assert routed.decision.reason.startswith(f"batch {batch.id}: ") and routed.tier == "sonnet"
    usage = results["routed"].message.usage
    full = (Decimal(usage.input_tokens) * 3 + Decimal(usage.output_tokens) * 15) / 1_000_000
    assert routed.cost_usd == full / 2  # the batch price: 50% off
    assert [b.id for b in client.messages.batches.list().data] == [batch.id]
    again = client.messages.batches.retrieve(batch.id)
    assert again.processing_status == "ended" and len(gw.records(3)) == 3  # recorded once
    assert client.messages.batches.delete(batch.id).type == "message_batch_deleted"


def test_upstream_failures_are_errored_never_succeeded_and_budgets_hold_the_worst_case(
        start_emulator: Callable[[EmulatorConfig], str], serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(per_model={"claude-opus-4-7": Behaviour(error_rates={"529": 1.0})},
                                             batch_seconds=2.0))
    settings = GatewaySettings(keys=frozenset({KEY}), usd_per_day=Decimal("1"))
    gw = serve_gateway(upstream, routes=ROUTES, settings=settings)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    batch = client.messages.batches.create(requests=[
        {"custom_id": "ok", "params": params("hi", model="haiku")},  # type: ignore[typeddict-item]
        {"custom_id": "down", "params": params("hi", model="opus")},  # type: ignore[typeddict-item]
    ])
    assert batch.processing_status == "in_progress" and batch.results_url is None
    core, caller = gw.app.core, caller_id(KEY)
    assert asyncio.run(core.limits.held(caller)) > 0  # the worst case is held while the batch runs
    deadline = time.monotonic() + 30
    while client.messages.batches.retrieve(batch.id).processing_status != "ended":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    results = {r.custom_id: r.result.type for r in client.messages.batches.results(batch.id)}
    assert results == {"ok": "succeeded", "down": "errored"}
    records = {r.requested_model: r for r in gw.records(2)}
    assert records["opus"].outcome == "overloaded_error" and records["opus"].cost_usd == 0
    assert records["haiku"].outcome == "ok" and records["haiku"].cost_usd > 0
    assert asyncio.run(core.limits.held(caller)) == 0
    assert asyncio.run(core.limits.spent(caller)) == records["haiku"].cost_usd
    with pytest.raises(anthropic.RateLimitError):  # a worst case over the budget is refused before upstream
        client.messages.batches.create(requests=[
            {"custom_id": "big", "params": params("x" * 4000, model="opus", max_tokens=120_000)}])  # type: ignore[typeddict-item]


def test_batches_refuse_what_cannot_be_batched(start_emulator: Callable[[EmulatorConfig], str],
                                               serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(start_emulator(EmulatorConfig()), routes=ROUTES)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.batches.create(requests=[
            {"custom_id": "c", "params": params("hi", model="tiered/cascade")}])  # type: ignore[typeddict-item]
    assert "cannot answer in a batch" in info.value.message and "route 'cascade'" in info.value.message
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.batches.create(requests=[{"custom_id": "c", "params": {"model": "haiku"}}])  # type: ignore[typeddict-item]
    assert "requests.0.params.max_tokens" in bad.value.message
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_not_mine")
    assert gw.records(0, timeout_s=0.2) == []


def test_a_request_whose_deadline_allows_is_answered_by_a_batch(
        start_emulator: Callable[[EmulatorConfig], str], serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(batch_seconds=0.5,
                                             per_model={"claude-opus-4-7": Behaviour(error_rates={"529": 1.0})}))
    gw = serve_gateway(upstream, routes=ROUTES, settings=GatewaySettings(keys=frozenset({KEY}),
                                                                          batch_deadline_s=60))
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    slow = client.messages.with_raw_response.create(
        model="tiered/sorter", max_tokens=32, messages=[{"role": "user", "content": "Prove it is even."}],
        extra_headers={"x-tiered-deadline-s": "3600"})
    message = slow.parse()
    assert message.content and message.usage.service_tier == "batch"
    assert slow.headers["x-tiered-batch"].startswith("msgbatch_") and slow.headers["x-tiered-tier"] == "sonnet"
    record = gw.records(1)[0]
    assert record.outcome == "ok" and str(record.cost_usd) == slow.headers["x-tiered-cost-usd"]
    full = (Decimal(message.usage.input_tokens) * 3 + Decimal(message.usage.output_tokens) * 15) / 1_000_000
    assert record.cost_usd == full / 2
    urgent = client.messages.with_raw_response.create(  # a deadline shorter than the setting: answered at once
        model="haiku", max_tokens=16, messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-tiered-deadline-s": "10"})
    assert "x-tiered-batch" not in urgent.headers and urgent.parse().usage.service_tier != "batch"
    with pytest.raises(anthropic.InternalServerError) as failed:  # an errored batch result is the API's error
        client.messages.create(model="opus", max_tokens=16, messages=[{"role": "user", "content": "hi"}],
                               extra_headers={"x-tiered-deadline-s": "3600"})
    assert failed.value.status_code == 529 and failed.value.type == "overloaded_error"
    slow_upstream = start_emulator(EmulatorConfig(batch_seconds=600))
    gw2 = serve_gateway(slow_upstream, routes=ROUTES, settings=GatewaySettings(keys=frozenset({KEY}),
                                                                               batch_deadline_s=1))
    client2 = anthropic.Anthropic(api_key=KEY, base_url=gw2.url, max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as late:  # not ended in time: canceled, 504, never a success
        client2.messages.create(model="haiku", max_tokens=16, messages=[{"role": "user", "content": "late"}],
                                extra_headers={"x-tiered-deadline-s": "1.5"})
    assert late.value.status_code == 504 and late.value.type == "timeout_error"
    assert "it was canceled" in late.value.message
