"""With `[telemetry] sinks = ["postgres"]` the request log of every replica lands in one PostgreSQL."""

from __future__ import annotations

import anthropic
import pytest
from gateway_support import KEY

from tiered.config import parse_config_text
from tiered.gateway import build_gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway

pytestmark = pytest.mark.postgres


def test_two_gateways_log_to_one_postgres(emulator_url: str, postgres_dsn: str, postgres_schema: str) -> None:
    from tiered.telemetry import PostgresSink

    text = (f'[backend]\nkind = "emulator"\nbase_url = "{emulator_url}"\n[telemetry]\nsinks = ["postgres"]\n'
            f'[telemetry.postgres]\ndsn = "{postgres_dsn}"\nschema = "{postgres_schema}"\n'
            '[routes.default]\npolicy = "direct"\ntarget = "haiku"\n')
    settings = GatewaySettings(keys=frozenset({KEY}))
    traces = []
    for _ in range(2):
        app = build_gateway(parse_config_text(text, source="test"), settings, env={})
        with running_gateway(app) as url:
            client = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)
            raw = client.messages.with_raw_response.create(model="auto", max_tokens=16,
                                                           messages=[{"role": "user", "content": "hi"}])
            traces.append(raw.headers["x-tiered-trace-id"])
    with PostgresSink(postgres_dsn, schema=postgres_schema) as log:  # the gateways' shutdown flushed their writers
        records = log.records()
    assert sorted(r.trace_id for r in records) == sorted(traces)
    assert all(r.model == "claude-haiku-4-5" and r.outcome == "ok" for r in records)
