"""Bad input at scale: 10,000+ fuzzed requests over every endpoint, then the structural limits, while
/healthz is probed every 20 ms to see how long any request held the gateway's event loop.

The emulator and the gateway run as their own processes, started from the CLI as a user would
(`tiered emulator`, `tiered serve --config` with a daily budget and the SQLite request log). The
requests come from the same seeded generator as the CI test (tests/gateway/test_gateway_fuzz.py,
which sends ~1,200 of them): malformed JSON, wrong types, nulls, non-finite and huge numbers, lone
surrogates, deep nesting, many blocks, streamed and whole, and the GET endpoints. Every answer is
checked as in the test (no 5xx, no traceback, the API's error shape).

Then each structural-limit body is sent `--repeat` times, timed at the client (upload included): a
million empty text blocks (28.6 MB), 120,000 blocks, 20,001 blocks, nesting 120 deep, 1,001 tools,
and valid single-string prompts of 4 MB and 30 MB for scale.

/healthz latency at the client bounds how long the loop was blocked (plus one loopback round trip); the
longest one is printed for each structural case.
The machine is small and shared (2 cores, 8 engineers): read the figures as upper bounds. Prints a
table and one JSON line.

    .venv/bin/python bench/gateway_fuzz.py [--requests 10000] [--concurrency 8] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gateway"))
from gateway_overhead import KEY, TIERED, free_port, process
from test_gateway_fuzz import SEED, check, request  # type: ignore[import-not-found]

ROUTES = '[routes.default]\npolicy = "fallback"\nchain = ["opus", "sonnet", "haiku"]\nretries = 0\n'


class Prober:
    """GET /healthz every `every_s` in a thread; the latencies of the answers."""

    def __init__(self, url: str, every_s: float = 0.02) -> None:
        self.url, self.every_s = url, every_s
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx2.Client(base_url=self.url, timeout=30) as client:
            while True:  # at least one probe, however short the run
                started = time.perf_counter()
                client.get("/healthz")
                self.latencies.append(time.perf_counter() - started)
                if self._stop.wait(self.every_s):
                    break

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        xs = sorted(self.latencies)
        return {"probes": len(xs), "p50_ms": 1000 * xs[len(xs) // 2], "p99_ms": 1000 * xs[len(xs) * 99 // 100],
                "max_ms": 1000 * xs[-1]}


def structural_bodies() -> list[tuple[str, bytes]]:
    def blocks(n: int) -> bytes:
        return json.dumps({"model": "auto", "max_tokens": 8, "messages": [
            {"role": "user", "content": [{"type": "text", "text": ""}] * n}]}).encode()

    hi = [{"role": "user", "content": "hi"}]
    deep: Any = "x"
    for _ in range(120):
        deep = {"a": deep}
    tool = {"name": "f", "input_schema": {"type": "object"}}
    return [
        ("1,000,000 empty blocks (28.6 MB)", blocks(1_000_000)),
        ("120,000 blocks", blocks(120_000)),
        ("20,001 blocks", blocks(20_001)),
        ("nesting 120 deep", json.dumps({"model": "auto", "max_tokens": 8, "metadata": deep, "messages": hi}).encode()),
        ("1,001 tools", json.dumps({"model": "auto", "max_tokens": 8, "tools": [tool] * 1001,
                                    "messages": hi}).encode()),
        ("4 MB one string (valid JSON)", json.dumps({"model": "auto", "max_tokens": 8, "messages": [
            {"role": "user", "content": "word " * 800_000}]}).encode()),
        ("30 MB one string (valid JSON)", json.dumps({"model": "auto", "max_tokens": 8, "messages": [
            {"role": "user", "content": "word " * 6_000_000}]}).encode()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiered-fuzz-") as folder:
        tmp = Path(folder)
        up_port, gw_port = free_port(), free_port()
        upstream, gateway = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{gw_port}"
        config = tmp / "tiered.toml"
        config.write_text(f'[backend]\nkind = "emulator"\nbase_url = "{upstream}"\n[telemetry]\nsinks = ["sqlite"]\n'
                          f'[telemetry.sqlite]\npath = "{tmp / "requests.db"}"\n[gateway]\nusd_per_day = 10000\n'
                          f'max_body_bytes = 33554432\n{ROUTES}')
        env = {**os.environ, "TIERED_GATEWAY_KEYS": KEY}
        env.pop("ANTHROPIC_API_KEY", None)
        with process([TIERED, "emulator", "--port", str(up_port)], f"{upstream}/v1/models", env, tmp / "emu.log"), \
                process([TIERED, "serve", "--config", str(config), "--port", str(gw_port)], f"{gateway}/healthz",
                        env, tmp / "gw.log"):
            rng = random.Random(SEED)
            cases = [request(rng, i) for i in range(args.requests)]
            statuses: dict[int, int] = {}
            lock = threading.Lock()
            local = threading.local()

            def send(case: tuple[str, str, bytes, bool]) -> None:
                if not hasattr(local, "client"):
                    local.client = httpx2.Client(base_url=gateway, timeout=120,
                                                 headers={"x-api-key": KEY, "content-type": "application/json"})
                method, path, body, openai = case
                r = local.client.request(method, path, content=body or None)
                check(r, openai, body)
                with lock:
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

            started = time.perf_counter()
            with Prober(gateway) as fuzz_probe, ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(send, cases))
            fuzz_s = time.perf_counter() - started
            limits: dict[str, dict[str, float]] = {}
            limit_probe = Prober(gateway)  # every probe of the cases below, each case also probed alone
            with httpx2.Client(base_url=gateway, timeout=120, headers={"x-api-key": KEY}) as client:
                for name, body in structural_bodies():
                    times, codes = [], set()
                    with Prober(gateway) as case_probe:
                        for _ in range(args.repeat):
                            t = time.perf_counter()
                            r = client.post("/v1/messages", content=body)
                            times.append(time.perf_counter() - t)
                            codes.add(r.status_code)
                            check(r, False, body)
                    limit_probe.latencies += case_probe.latencies
                    times.sort()
                    limits[name] = {"status": min(codes), "p50_ms": 1000 * times[len(times) // 2],
                                    "max_ms": 1000 * times[-1], "bytes": len(body),
                                    "healthz_max_ms": case_probe.summary()["max_ms"]}
            gw_log = (tmp / "gw.log").read_text()
    fivexx = sum(n for s, n in statuses.items() if s >= 500)
    print(f"fuzz: {args.requests} requests in {fuzz_s:.1f} s, {args.concurrency} in flight; statuses "
          f"{dict(sorted(statuses.items()))}; 5xx: {fivexx}")
    f = fuzz_probe.summary()
    print(f"  /healthz during the fuzz: p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms, max {f['max_ms']:.1f} ms "
          f"({int(f['probes'])} probes)")
    print("structural limits (client time, upload included; /healthz probed every 20 ms during each case):")
    for name, row in limits.items():
        print(f"  {name:<34} {int(row['status'])}  p50 {row['p50_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms  "
              f"/healthz max meanwhile {row['healthz_max_ms']:6.1f} ms")
    lp = limit_probe.summary()
    print(f"  /healthz meanwhile: p50 {lp['p50_ms']:.1f} ms, p99 {lp['p99_ms']:.1f} ms, max {lp['max_ms']:.1f} ms")
    print(f"tracebacks in the gateway's log: {gw_log.count('Traceback')}")
    print(json.dumps({"requests": args.requests, "fivexx": fivexx, "statuses": statuses,
                      "fuzz_healthz": f, "limits": limits, "limits_healthz": lp,
                      "tracebacks": gw_log.count("Traceback")}))


if __name__ == "__main__":
    main()
