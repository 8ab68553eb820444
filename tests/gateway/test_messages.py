"""The anthropic SDK, sync and async, whole and streamed, against the gateway in front of the emulator."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from gateway_support import KEY, ServeGateway

from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.gateway.settings import GatewaySettings
from tiered.telemetry.sqlite import SqliteSink

HI = [{"role": "user", "content": "Say hello in one short sentence."}]


def test_sync_answer_carries_the_tiered_headers(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    raw = client.messages.with_raw_response.create(model="tiered/default", max_tokens=64, messages=HI)
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text
    assert message.model == "claude-opus-4-7"
    h = raw.headers
    assert h["x-tiered-model"] == "claude-opus-4-7" and h["x-tiered-tier"] == "opus"
    assert h["x-tiered-degraded"] == "false"
    assert float(h["x-tiered-cost-usd"]) > 0
    assert len(h["x-tiered-trace-id"]) == 32 and h["request-id"] == f"req_tiered_{h['x-tiered-trace-id']}"
    gw.flush()
    record = SqliteSink(gw.db).get(h["x-tiered-trace-id"])
    assert record is not None and record.route == "default" and record.outcome == "ok"
    assert str(record.cost_usd) == h["x-tiered-cost-usd"]


def test_a_catalog_model_and_bearer_auth(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    r = httpx2.post(f"{gw.url}/v1/messages", headers={"authorization": f"Bearer {KEY}"},
                    json={"model": "haiku", "max_tokens": 32, "messages": HI})
    assert r.status_code == 200, r.text
    assert r.headers["x-tiered-model"] == "claude-haiku-4-5" and r.headers["x-tiered-route"] == "model/claude-haiku-4-5"
    dated = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY},  # what Claude Code sends by default
                        json={"model": "claude-sonnet-4-5-20250929", "max_tokens": 32, "messages": HI})
    assert dated.status_code == 200 and dated.headers["x-tiered-model"] == "claude-sonnet-4-6"


def test_sync_stream(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=HI) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
        headers = s.response.headers
    assert text and text == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert headers["x-tiered-model"] == "claude-sonnet-4-6" and headers["x-tiered-degraded"] == "false"
    gw.flush()
    record = SqliteSink(gw.db).get(headers["x-tiered-trace-id"])
    assert record is not None and record.outcome == "ok" and record.attempts[0].ttft_ms is not None


async def test_async_whole_and_streamed(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    whole = await client.messages.create(model="auto", max_tokens=64, messages=HI)
    async with client.messages.stream(model="auto", max_tokens=64, messages=HI) as s:
        streamed = await s.get_final_message()
    assert whole.content[0].text == streamed.content[0].text  # type: ignore[union-attr]
    assert whole.usage.output_tokens == streamed.usage.output_tokens > 0
    await client.close()


def test_fallback_when_the_first_model_is_overloaded(start_emulator, serve_gateway: ServeGateway) -> None:  # type: ignore[no-untyped-def]
    upstream = start_emulator(EmulatorConfig(per_model={"claude-opus-4-7": Behaviour(error_rates={"529": 1.0})}))
    gw = serve_gateway(upstream)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    raw = client.messages.with_raw_response.create(model="tiered/default", max_tokens=64, messages=HI)
    assert raw.parse().content[0].text  # type: ignore[union-attr]
    assert raw.headers["x-tiered-model"] == "claude-sonnet-4-6" and raw.headers["x-tiered-degraded"] == "true"
    with client.messages.stream(model="tiered/default", max_tokens=64, messages=HI) as s:
        assert s.get_final_message().model == "claude-sonnet-4-6"
        assert s.response.headers["x-tiered-degraded"] == "true"
    metrics = httpx2.get(f"{gw.url}/metrics").text
    assert 'tiered_fallbacks_total{route="default"} 2' in metrics
    assert 'tiered_requests_total{route="default",tier="sonnet",outcome="ok"} 2' in metrics


def test_an_upstream_that_fails_all_the_way_is_an_error(start_emulator, serve_gateway: ServeGateway) -> None:  # type: ignore[no-untyped-def]
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"529": 1.0})))
    gw = serve_gateway(upstream)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="tiered/default", max_tokens=64, messages=HI)
    assert caught.value.status_code == 529 and caught.value.type == "overloaded_error"
    with pytest.raises(anthropic.APIStatusError) as streamed, \
            client.messages.stream(model="tiered/default", max_tokens=64, messages=HI):
        pass
    assert streamed.value.status_code == 529
    records = gw.records(2)
    assert [r.outcome for r in records] == ["overloaded_error", "overloaded_error"]
    assert all(len(r.attempts) == 3 and r.model is None for r in records)


def test_a_stream_that_breaks_after_bytes_is_not_a_complete_message(start_emulator,  # type: ignore[no-untyped-def]
                                                                     serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"midstream": 1.0})))
    gw = serve_gateway(upstream)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    seen: list[str] = []

    def consume() -> None:
        with client.messages.stream(model="haiku", max_tokens=64, messages=HI) as s:
            seen.extend(event.type for event in s)

    with pytest.raises(anthropic.APIStatusError) as caught:
        consume()
    assert caught.value.type == "overloaded_error"
    assert "message_start" in seen and "message_stop" not in seen
    (record,) = gw.records(1)
    assert record.outcome != "ok" and record.model is None


def test_count_tokens_models_and_health(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    assert client.messages.count_tokens(model="auto", messages=HI).input_tokens > 0
    ids = [m.id for m in client.models.list()]
    assert "claude-tiered-default" in ids and "claude-haiku-4-5" in ids
    assert all(i.startswith("claude") for i in ids)
    assert client.models.retrieve("claude-tiered-default").id == "claude-tiered-default"
    assert httpx2.get(f"{gw.url}/healthz").json()["status"] == "ok"
    client.messages.create(model="auto", max_tokens=16, messages=HI)
    metrics = httpx2.get(f"{gw.url}/metrics").text
    for name in ("tiered_requests_total", "tiered_request_duration_seconds_bucket", "tiered_cost_usd_total",
                 "tiered_fallbacks_total", "tiered_escalations_total"):
        assert f"# TYPE {name.removesuffix('_bucket')}" in metrics
    assert 'tiered_request_duration_seconds_count{route="default"} 1' in metrics


def test_a_rate_limited_upstream_passes_its_retry_after_on(start_emulator,  # type: ignore[no-untyped-def]
                                                           serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(error_rates={"429": 1.0}, retry_after_ms=2000)))
    gw = serve_gateway(upstream, settings=GatewaySettings(keys=frozenset({KEY}), fallback_retries=0))
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="haiku", max_tokens=64, messages=HI)
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.response.headers["retry-after-ms"] == "2000"


def test_a_client_that_leaves_mid_stream_cancels_the_upstream_call(start_emulator,  # type: ignore[no-untyped-def]
                                                                   serve_gateway: ServeGateway) -> None:
    upstream = start_emulator(EmulatorConfig(default=Behaviour(tpot_ms=50)))  # 50 ms a token: a slow stream
    gw = serve_gateway(upstream)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with client.messages.stream(model="haiku", max_tokens=512, messages=HI) as s:
        for event in s:
            if event.type == "content_block_delta":
                break
    (record,) = gw.records(1)
    assert record.outcome == "cancelled" and record.model is None, record


def test_offline_default_needs_no_key_and_no_network(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tiered.gateway import build_gateway
    from tiered.gateway.testing import running_gateway

    app = build_gateway(env={}, sinks=[])  # the built-in route, replay backend, no keys: open
    with running_gateway(app) as url:
        r = httpx2.post(f"{url}/v1/messages", json={"model": "auto", "max_tokens": 50, "messages": HI},
                        timeout=30)  # the first miss builds the nearest-prompt index: seconds on a loaded machine
    assert r.status_code == 200 and r.json()["content"][0]["text"]
    assert r.headers["x-tiered-tier"] in ("haiku", "sonnet", "opus")


CASCADE_ROUTE = """
[routes.default]
policy = "cascade"
tiers = ["haiku", "opus"]
escalate_when = { confidence_below = 0.0, refused = false, invalid_report = false }
"""


def test_a_cascade_that_stops_at_the_cheap_tier_streams_its_whole_answer(emulator_url: str,
                                                                         serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, routes=CASCADE_ROUTE)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with client.messages.stream(model="auto", max_tokens=64, messages=HI) as s:
        final = s.get_final_message()
        headers = s.response.headers
    assert final.model == "claude-haiku-4-5" and headers["x-tiered-tier"] == "haiku"
    assert float(headers["x-tiered-cost-usd"]) > 0  # answered whole before streaming: the record exists
    (record,) = gw.records(1)
    assert record.outcome == "ok" and [a.model for a in record.attempts] == ["claude-haiku-4-5"]


def test_the_task_header_steers_a_task_map(emulator_url: str, serve_gateway: ServeGateway) -> None:
    taskmap = '[routes.default]\npolicy = "taskmap"\npackaged = true\ndefault = "haiku"\n'
    gw = serve_gateway(emulator_url, routes=taskmap)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    review = client.messages.with_raw_response.create(model="auto", max_tokens=16, messages=HI,
                                                      extra_headers={"x-tiered-task": "code-review"})
    plain = client.messages.with_raw_response.create(model="auto", max_tokens=16, messages=HI)
    assert review.headers["x-tiered-tier"] == "opus" and plain.headers["x-tiered-tier"] == "haiku"
    records = {r.trace_id: r for r in gw.records(2)}
    assert records[review.headers["x-tiered-trace-id"]].task == "code-review"
