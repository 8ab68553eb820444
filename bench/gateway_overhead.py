"""What the gateway adds to a request: the same load sent to the emulator directly and through
`tiered serve` (gateway -> emulator), side by side in one run.

Both servers run as their own processes, started from the CLI exactly as a user would
(`tiered emulator --port`, `tiered serve --backend emulator --upstream URL --port`, the request log
in a temporary SQLite file), so the load generator, the gateway and the emulator do not share a GIL.
Each arm sends N non-streaming requests (default 2,000) with C in flight (default 32) after a
warm-up; latency is measured per request at the client. The machine is small and shared, so read
the ratios, not the absolute numbers. Prints p50/p95 per arm, the added p50/p95 latency and the
throughput ratio, then the latency added to a lone request (--solo requests sent one at a time, where
no queueing hides the per-request cost), the time spent in the gateway's own code (the ASGI app
called in-process with fake models upstream), and last one JSON line:

    {"requests": 2000, "concurrency": 32, "direct_p50_ms": ..., "gateway_p50_ms": ..., "added_p50_ms": ...,
     "added_p95_ms": ..., "direct_rps": ..., "gateway_rps": ..., "throughput_ratio": ...,
     "solo_added_p50_ms": ..., "solo_added_p95_ms": ..., "gateway_code_us": ...}

    .venv/bin/python bench/gateway_overhead.py [--requests 2000] [--concurrency 32] [--model claude-haiku-4-5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from tiered.serving import serving_in_process

TIERED = str(Path(sys.executable).with_name("tiered"))
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(args: list[str], url: str, env: dict[str, str], log: Path) -> Iterator[None]:
    """Run a server until the block ends; its output goes to `log`."""
    with serving_in_process(args, url, log, env=env, stop_timeout_s=10):
        yield


async def load(url: str, model: str, n: int, concurrency: int) -> tuple[list[float], float]:
    """Latencies (s) of `n` requests with `concurrency` in flight, and the wall time of the whole run."""
    body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello briefly."}]}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    latencies: list[float] = []
    remaining = n
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                r = await client.post("/v1/messages", json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


async def own_code_us(n: int = 2000) -> float:
    """Microseconds per request spent in the gateway's own code: the ASGI app called directly (no HTTP)
    with FakeModels as the upstream, so neither uvicorn nor the SDK is counted."""
    from tiered.config import parse_config_text
    from tiered.gateway import build_gateway
    from tiered.gateway.settings import GatewaySettings
    from tiered.models.fake import FakeModel
    from tiered.models.registry import ModelSet

    config = parse_config_text('[backend]\nkind = "replay"\n[routes.default]\npolicy = "direct"\ntarget = "haiku"\n')
    app = build_gateway(config, GatewaySettings(), sinks=[], env={})
    catalog = config.catalog
    ids = [catalog.resolve(t).id for t in catalog.tiers]
    app.core.models = ModelSet(catalog, {i: FakeModel(lambda r: "Hello.", name=i) for i in ids})  # type: ignore[assignment]
    body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 64,
                       "messages": [{"role": "user", "content": "Say hello briefly."}]}).encode()
    scope = {"type": "http", "method": "POST", "path": "/v1/messages", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"anthropic-version", b"2023-06-01")]}

    async def one() -> None:
        inbox = [{"type": "http.request", "body": body, "more_body": False}]
        status: list[int] = []

        async def receive() -> dict[str, object]:
            return inbox.pop() if inbox else {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if status != [200]:
            raise RuntimeError(f"gateway answered {status}")

    for _ in range(200):
        await one()
    started = time.perf_counter()
    for _ in range(n):
        await one()
    return (time.perf_counter() - started) / n * 1e6


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--solo", type=int, default=300, help="requests sent one at a time after the loaded run")
    parser.add_argument("--model", default="claude-haiku-4-5", help="what the client asks for (a model or a route)")
    args = parser.parse_args()
    emu_port, gw_port = free_port(), free_port()
    emulator = f"http://127.0.0.1:{emu_port}"
    gateway = f"http://127.0.0.1:{gw_port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TIERED_DB": str(Path(tmp) / "requests.db"), "TIERED_GATEWAY_KEYS": KEY}
        env.pop("ANTHROPIC_API_KEY", None)
        with process([TIERED, "emulator", "--port", str(emu_port)], f"{emulator}/v1/models", env,
                     Path(tmp) / "emulator.log"), \
                process([TIERED, "serve", "--backend", "emulator", "--upstream", emulator, "--port", str(gw_port)],
                        f"{gateway}/healthz", env, Path(tmp) / "gateway.log"):
            model = args.model
            direct_model = model if not model.startswith(("tiered", "auto", "claude-tiered")) else "claude-haiku-4-5"
            for url, m in ((emulator, direct_model), (gateway, model)):  # warm up connections, caches, replay book
                asyncio.run(load(url, m, 200, args.concurrency))
            direct, direct_s = asyncio.run(load(emulator, direct_model, args.requests, args.concurrency))
            through, through_s = asyncio.run(load(gateway, model, args.requests, args.concurrency))
            # One at a time: what a single caller waits extra when the gateway is not saturated.
            solo_direct, _ = asyncio.run(load(emulator, direct_model, args.solo, 1))
            solo_through, _ = asyncio.run(load(gateway, model, args.solo, 1))
    out = {
        "requests": args.requests, "concurrency": args.concurrency, "model": args.model,
        "direct_p50_ms": round(pct(direct, 50), 2), "direct_p95_ms": round(pct(direct, 95), 2),
        "gateway_p50_ms": round(pct(through, 50), 2), "gateway_p95_ms": round(pct(through, 95), 2),
        "added_p50_ms": round(pct(through, 50) - pct(direct, 50), 2),
        "added_p95_ms": round(pct(through, 95) - pct(direct, 95), 2),
        "direct_rps": round(args.requests / direct_s, 1), "gateway_rps": round(args.requests / through_s, 1),
        "throughput_ratio": round(direct_s / through_s, 3),
        "solo_added_p50_ms": round(pct(solo_through, 50) - pct(solo_direct, 50), 2),
        "solo_added_p95_ms": round(pct(solo_through, 95) - pct(solo_direct, 95), 2),
        "gateway_code_us": round(asyncio.run(own_code_us())),
    }
    print(f"direct to emulator : p50 {out['direct_p50_ms']:7.2f} ms  p95 {out['direct_p95_ms']:7.2f} ms  "
          f"{out['direct_rps']:8.1f} req/s")
    print(f"through the gateway: p50 {out['gateway_p50_ms']:7.2f} ms  p95 {out['gateway_p95_ms']:7.2f} ms  "
          f"{out['gateway_rps']:8.1f} req/s")
    print(f"added by the gateway: p50 {out['added_p50_ms']:.2f} ms, p95 {out['added_p95_ms']:.2f} ms; "
          f"throughput ratio (gateway/direct) {out['throughput_ratio']:.3f}")
    print(f"one request at a time ({args.solo}): added p50 {out['solo_added_p50_ms']:.2f} ms, "
          f"p95 {out['solo_added_p95_ms']:.2f} ms")
    print(f"the gateway's own code (no HTTP, fake upstream): {out['gateway_code_us']} us/request; the rest of the "
          "added time is HTTP in (uvicorn) and out (the anthropic SDK)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
