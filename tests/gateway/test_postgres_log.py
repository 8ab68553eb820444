"""With `[telemetry] sinks = ["postgres"]` the request log of every replica lands in one PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import anthropic
import pytest
from gateway_support import KEY

from tiered.config import parse_config_text
from tiered.gateway import build_gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway

DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"
pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(DSN, autocommit=True)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {e}")
    name = f"tiered_gw_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.close()


def test_two_gateways_log_to_one_postgres(emulator_url: str, schema: str) -> None:
    from tiered.telemetry import PostgresSink

    text = (f'[backend]\nkind = "emulator"\nbase_url = "{emulator_url}"\n[telemetry]\nsinks = ["postgres"]\n'
            f'[telemetry.postgres]\ndsn = "{DSN}"\nschema = "{schema}"\n'
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
    with PostgresSink(DSN, schema=schema) as log:  # the gateways' shutdown flushed their writers
        records = log.records()
    assert sorted(r.trace_id for r in records) == sorted(traces)
    assert all(r.model == "claude-haiku-4-5" and r.outcome == "ok" for r in records)
