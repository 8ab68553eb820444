"""Chaos, short form (the full one is bench/request_log.py): the request log loses nothing and fails clearly.

A real `tiered serve` process is killed with SIGKILL under load and started again on the same log; the
path to a real PostgreSQL is cut (its connections reset, new ones refused) and restored while the
gateway answers; the spool fills up and the config decides (drop and count, or 503). Every test counts
records by the trace ids the clients were answered with.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anthropic  # noqa: F401 - imported here, not in the in-thread gateway's 10 s start window
import httpx2
import pytest
from click.testing import CliRunner

from tcp_proxy import TcpProxy
from tiered.config import parse_config_text
from tiered.gateway import build_gateway
from tiered.gateway.app import Gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway
from tiered.serving import serving_in_process
from tiered.telemetry.sqlite import SqliteSink

TIERED = str(Path(sys.executable).with_name("tiered"))
BODY = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
ROUTE = '[routes.default]\npolicy = "direct"\ntarget = "haiku"\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _process(args: list[str], port: int, log: Path, health: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `tiered` server as an operator runs it, until the block ends (SIGTERM) unless the test killed it."""
    env = {k: v for k, v in os.environ.items() if k not in ("TIERED_GATEWAY_KEYS", "ANTHROPIC_API_KEY")}
    with serving_in_process([TIERED, *args, "--port", str(port)], f"http://127.0.0.1:{port}{health}", log, env=env,
                            append=True) as proc:
        yield proc


def _load(url: str, answered: list[str], stop: threading.Event, clients: int) -> threading.Thread:
    """`clients` requests in flight from one thread (an event loop), until `stop` or the gateway dies."""

    async def client(http: httpx2.AsyncClient) -> None:
        while not stop.is_set():
            try:
                r = await http.post("/v1/messages", json=BODY)
            except httpx2.TransportError:
                return  # the gateway was killed
            if r.status_code == 200:
                answered.append(r.headers["x-tiered-trace-id"])

    async def main() -> None:
        async with httpx2.AsyncClient(base_url=url, timeout=10) as http:
            await asyncio.gather(*(client(http) for _ in range(clients)))

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    return thread


def test_sigkill_under_load_loses_no_answered_record(emulator_url: str, tmp_path: Path) -> None:
    db = tmp_path / "logs" / "requests.db"
    config = tmp_path / "tiered.toml"
    config.write_text(f'[backend]\nkind = "emulator"\nbase_url = "{emulator_url}"\n'
                      f'[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\npath = "{db}"\n{ROUTE}')
    serve, port = ["serve", "--config", str(config)], _free_port()
    answered: list[str] = []
    stop = threading.Event()
    with _process(serve, port, tmp_path / "serve.log", "/healthz") as proc:
        load = _load(f"http://127.0.0.1:{port}", answered, stop, clients=16)
        deadline = time.monotonic() + 10
        while len(answered) < 300 and time.monotonic() < deadline:  # under load: killed mid-flight
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stop.set()
        load.join(15)
    assert len(answered) >= 50, "too little load to say anything"
    with _process(serve, port, tmp_path / "serve.log", "/healthz"):  # again on the same log: replays its spool
        deadline = time.monotonic() + 20
        while True:
            with SqliteSink(db) as log:
                stored = {r.trace_id for r in log.records()}
            missing = set(answered) - stored
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    print(f"SIGKILL: {len(answered)} answered, {len(missing)} of their records lost")
    assert len(missing) <= len(answered) * 0.001, f"{len(missing)} of {len(answered)} answered records lost"


# -- PostgreSQL: outages and a full spool -------------------------------------------------------------------------

@pytest.fixture
def pg_proxy(postgres_dsn: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test PostgreSQL, and the DSN that goes through it."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(postgres_dsn)
    with TcpProxy(str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))) as proxy:
        yield proxy, make_conninfo(postgres_dsn, host="127.0.0.1", port=str(proxy.port))


def _pg_gateway(stack: ExitStack, upstream: str, dsn: str, schema: str, spool: Path,
                spool_table: str = "") -> tuple[Gateway, httpx2.Client]:
    text = (f'[backend]\nkind = "emulator"\nbase_url = "{upstream}"\n[telemetry]\nsinks = ["postgres"]\n'
            f'[telemetry.postgres]\ndsn = "{dsn}"\nschema = "{schema}"\n'
            f'[telemetry.spool]\ndir = "{spool}"\n{spool_table}{ROUTE}')
    app = build_gateway(parse_config_text(text, source="test"), GatewaySettings(), env={})
    url = stack.enter_context(running_gateway(app))
    return app, stack.enter_context(httpx2.Client(base_url=url, timeout=10))


def _answer(http: httpx2.Client, n: int, traces: list[str]) -> list[httpx2.Response]:
    replies = [http.post("/v1/messages", json=BODY) for _ in range(n)]
    traces += [r.headers["x-tiered-trace-id"] for r in replies if r.status_code == 200]
    return replies


def _metric(http: httpx2.Client, name: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def _stored(postgres_dsn: str, schema: str) -> set[str]:
    from tiered.telemetry.postgres import PostgresSink

    with PostgresSink(postgres_dsn, schema=schema) as log:
        return {r.trace_id for r in log.records()}


def _wait_until(check: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.postgres
def test_a_postgres_outage_loses_nothing_and_the_log_reconnects_by_itself(
        emulator_url: str, postgres_dsn: str, postgres_schema: str, pg_proxy: tuple[TcpProxy, str],
        tmp_path: Path) -> None:
    proxy, dsn = pg_proxy
    traces: list[str] = []
    with ExitStack() as stack:
        app, http = _pg_gateway(stack, emulator_url, dsn, postgres_schema, tmp_path / "spool")
        assert all(r.status_code == 200 for r in _answer(http, 10, traces))
        app.core.recorder.flush()
        assert _stored(postgres_dsn, postgres_schema) == set(traces)
        proxy.cut()  # PostgreSQL "restarts": connections reset, nothing accepted for a while
        assert all(r.status_code == 200 for r in _answer(http, 30, traces))  # the gateway keeps answering
        _wait_until(lambda: _metric(http, "tiered_request_log_up") == 0)
        assert _metric(http, "tiered_request_log_spooled_bytes") > 0
        proxy.restore()
        _wait_until(lambda: _metric(http, "tiered_request_log_up") == 1
                    and _metric(http, "tiered_request_log_spooled_bytes") == 0)
        assert _stored(postgres_dsn, postgres_schema) == set(traces)  # all 40, by itself, before any restart
        assert all(r.status_code == 200 for r in _answer(http, 5, traces))
        app.core.recorder.flush()
    assert _stored(postgres_dsn, postgres_schema) == set(traces) and len(traces) == 45


@pytest.mark.postgres
def test_a_full_spool_drops_and_counts_when_told_to(emulator_url: str, postgres_dsn: str, postgres_schema: str,
                                                    pg_proxy: tuple[TcpProxy, str], tmp_path: Path) -> None:
    proxy, dsn = pg_proxy
    traces: list[str] = []
    with ExitStack() as stack:
        _, http = _pg_gateway(stack, emulator_url, dsn, postgres_schema, tmp_path / "spool",
                              'max_mb = 0.004\nwhen_full = "drop"\n')
        proxy.cut()
        assert all(r.status_code == 200 for r in _answer(http, 20, traces))  # answering goes on
        dropped = _metric(http, "tiered_request_log_dropped_total")
        assert 0 < dropped < 20
        proxy.restore()
        _wait_until(lambda: _metric(http, "tiered_request_log_spooled_bytes") == 0)
        stored = _stored(postgres_dsn, postgres_schema)
    assert len(stored) + dropped == 20 and stored <= set(traces)  # every record is stored or counted


@pytest.mark.postgres
def test_a_full_spool_refuses_with_503_when_told_to(emulator_url: str, postgres_dsn: str, postgres_schema: str,
                                                    pg_proxy: tuple[TcpProxy, str], tmp_path: Path) -> None:
    proxy, dsn = pg_proxy
    traces: list[str] = []
    with ExitStack() as stack:
        app, http = _pg_gateway(stack, emulator_url, dsn, postgres_schema, tmp_path / "spool",
                                'max_mb = 0.004\nwhen_full = "refuse"\n')
        proxy.cut()
        replies = _answer(http, 20, traces)
        refused = [r for r in replies if r.status_code != 200]
        assert traces and refused, "the spool should have filled up"
        assert {r.status_code for r in refused} == {503}
        error = refused[0].json()["error"]
        assert error["type"] == "overloaded_error" and "request log" in error["message"]
        assert refused[0].headers["retry-after"]
        assert _metric(http, "tiered_request_log_dropped_total") == 0
        proxy.restore()
        _wait_until(lambda: _metric(http, "tiered_request_log_spooled_bytes") == 0)
        assert all(r.status_code == 200 for r in _answer(http, 3, traces))  # answering again once drained
        app.core.recorder.flush()
    assert _stored(postgres_dsn, postgres_schema) == set(traces)  # nothing answered was lost


@pytest.mark.postgres
def test_postgres_down_at_start_is_one_line(tmp_path: Path) -> None:
    from tiered.cli import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "tiered.toml"
    config.write_text(f'[telemetry]\nsinks = ["postgres"]\n[telemetry.postgres]\n'
                      f'dsn = "host=127.0.0.1 port={port} dbname=test user=postgres connect_timeout=2"\n{ROUTE}')
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--port", str(_free_port())])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("Error: request log: cannot connect to PostgreSQL (host=127.0.0.1 port=")
