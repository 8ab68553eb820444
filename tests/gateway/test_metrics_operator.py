"""/metrics for the operator: tokens by direction and cache kind, time to first token, upstream errors by
type, the served model, cost by key, build info; every family named by Prometheus conventions."""

from __future__ import annotations

import re
from decimal import Decimal

import anthropic
import httpx2
from gateway_support import KEY, ServeGateway

from tiered.gateway.auth import caller_id
from tiered.gateway.metrics import Metrics
from tiered.records import Attempt, Decision, Record

_SAMPLE = re.compile(r'[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+|[a-z_]+\{.*\} \+?Inf')


def record() -> Record:
    failed = Attempt(model="claude-opus-4-7", tier="opus", purpose="answer", outcome="overloaded_error", status=529)
    served = Attempt(model="claude-haiku-4-5", tier="haiku", purpose="answer", outcome="ok", input_tokens=100,
                     output_tokens=20, cache_read_input_tokens=300, cache_creation_input_tokens=40,
                     cost_usd=Decimal("0.0002"), latency_ms=400.0, ttft_ms=120.0, kind="fallback")
    return Record(trace_id="t", route="default", policy="fallback", decision=Decision("fallback", "opus", "first"),
                  attempts=(failed, served), cost_usd=Decimal("0.0002"), latency_ms=450.0, degraded=True,
                  created_at=0.0, model="claude-haiku-4-5", tier="haiku", fell_back=True, key_name="alice",
                  team="search")


def test_the_operator_families() -> None:
    m = Metrics()
    m.emit(record())
    m.emit(record())
    lines = m.render().decode().splitlines()
    assert 'tiered_tokens_total{model="claude-haiku-4-5",direction="input",cache="none"} 200' in lines
    assert 'tiered_tokens_total{model="claude-haiku-4-5",direction="input",cache="read"} 600' in lines
    assert 'tiered_tokens_total{model="claude-haiku-4-5",direction="input",cache="write"} 80' in lines
    assert 'tiered_tokens_total{model="claude-haiku-4-5",direction="output",cache="none"} 40' in lines
    assert 'tiered_upstream_errors_total{model="claude-opus-4-7",type="overloaded_error"} 2' in lines
    assert 'tiered_served_requests_total{route="default",model="claude-haiku-4-5",tier="haiku"} 2' in lines
    assert 'tiered_key_cost_usd_total{key="alice",team="search"} 0.0004' in lines
    assert ('tiered_time_to_first_token_seconds_bucket{route="default",model="claude-haiku-4-5",le="0.25"} 2'
            in lines)
    assert 'tiered_time_to_first_token_seconds_bucket{route="default",model="claude-haiku-4-5",le="0.1"} 0' in lines
    assert any(x.startswith('tiered_build_info{version="') and x.endswith(" 1") for x in lines)
    types = dict(re.findall(r"# TYPE (\S+) (\S+)", "\n".join(lines)))
    for name, kind in types.items():
        assert name.startswith("tiered_")
        assert (kind == "counter") == name.endswith("_total"), name
        assert kind != "histogram" or name.endswith("_seconds"), name
        assert "_ms" not in name and "milli" not in name, name  # base units
    for line in lines:
        assert line.startswith("#") or _SAMPLE.fullmatch(line), line


def test_a_streamed_request_shows_up_by_key_model_and_ttft(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    with client.messages.stream(model="haiku", max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as s:
        s.get_final_message()
    record = gw.records(1)[0]
    text = httpx2.get(f"{gw.url}/metrics").text
    assert f'tiered_key_cost_usd_total{{key="{caller_id(KEY)}",team=""}} {record.cost_usd}' in text
    assert f'tiered_served_requests_total{{route="model/{record.model}",model="{record.model}"' in text
    assert f'tiered_time_to_first_token_seconds_count{{route="model/{record.model}",model="{record.model}"}} 1' in text
    assert f'tiered_tokens_total{{model="{record.model}",direction="output",cache="none"}}' in text
