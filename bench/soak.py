"""Soak: many requests through one gateway with the request log on; does memory or latency drift?

The emulator and the gateway run as their own processes, started from the CLI as a user would (the
SQLite request log in a temporary folder, a daily budget so every request holds and settles). The
load is `--requests` non-streaming requests (a tenth of them streamed) with `--concurrency` in flight.
Every `--window` requests the gateway's RSS (/proc/PID/status VmRSS) and the window's latency p99 are
taken. Growth is measured from the end of the warm-up (the first `--warmup` requests) to the end:

    RSS growth = (RSS at the end - RSS after warm-up) / RSS after warm-up        target < 10%
    p99 drift  = (p99 of the last window - p99 of the first window after warm-up) / the latter
                                                                                 target < 20%

The machine is small and shared (2 cores, 8 engineers): p99 is noisy; the windows are printed so a
trend can be told from noise. Prints a table and one JSON line.

    .venv/bin/python bench/soak.py [--requests 100000] [--concurrency 16] [--window 10000] [--warmup 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import KEY, TIERED, free_port, process

ROUTES = '[routes.default]\npolicy = "fallback"\nchain = ["haiku", "sonnet"]\nretries = 0\n'
BODY = {"model": "auto", "max_tokens": 32, "messages": [{"role": "user", "content": "Say hello briefly."}]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def gateway_pid(port: int) -> int:
    """The pid of the process listening on `port` (the gateway), from /proc/net/tcp and the fds."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":
            inode = parts[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError("gateway process not found")


async def window(client: httpx2.AsyncClient, n: int, concurrency: int, start: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(start, start + n))

    async def worker() -> None:
        for i in counter:
            body = {**BODY, "stream": True} if i % 10 == 0 else BODY
            t = time.perf_counter()
            r = await client.post("/v1/messages", json=body)
            await r.aread()
            latencies.append(time.perf_counter() - t)
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def soak(url: str, pid: int, args: argparse.Namespace) -> list[dict[str, float]]:
    rows: list[dict[str, float]] = []
    limits = httpx2.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60, headers={"x-api-key": KEY}) as client:
        done = 0
        while done < args.requests:
            n = min(args.window, args.requests - done)
            t = time.perf_counter()
            lat = sorted(await window(client, n, args.concurrency, done))
            wall = time.perf_counter() - t
            done += n
            rows.append({"requests": done, "rss_mb": rss_mb(pid), "p50_ms": 1000 * lat[len(lat) // 2],
                         "p99_ms": 1000 * lat[len(lat) * 99 // 100], "rps": n / wall})
            r = rows[-1]
            print(f"{done:>8} requests  RSS {r['rss_mb']:7.1f} MB  p50 {r['p50_ms']:6.1f} ms  "
                  f"p99 {r['p99_ms']:7.1f} ms  {r['rps']:6.0f} req/s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiered-soak-") as folder:
        tmp = Path(folder)
        up_port, gw_port = free_port(), free_port()
        upstream, gateway = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{gw_port}"
        config = tmp / "tiered.toml"
        config.write_text(f'[backend]\nkind = "emulator"\nbase_url = "{upstream}"\n[telemetry]\nsinks = ["sqlite"]\n'
                          f'[telemetry.sqlite]\npath = "{tmp / "requests.db"}"\n[gateway]\nusd_per_day = 1000000\n'
                          f'{ROUTES}')
        env = {**os.environ, "TIERED_GATEWAY_KEYS": KEY}
        env.pop("ANTHROPIC_API_KEY", None)
        with process([TIERED, "emulator", "--port", str(up_port)], f"{upstream}/v1/models", env, tmp / "emu.log"), \
                process([TIERED, "serve", "--config", str(config), "--port", str(gw_port)], f"{gateway}/healthz",
                        env, tmp / "gw.log"):
            pid = gateway_pid(gw_port)
            rows = asyncio.run(soak(gateway, pid, args))
    after = [r for r in rows if r["requests"] > args.warmup] or rows
    base = next((r for r in rows if r["requests"] >= args.warmup), rows[0])
    growth = (rows[-1]["rss_mb"] - base["rss_mb"]) / base["rss_mb"]
    drift = (after[-1]["p99_ms"] - after[0]["p99_ms"]) / after[0]["p99_ms"]
    print(f"RSS after warm-up {base['rss_mb']:.1f} MB -> {rows[-1]['rss_mb']:.1f} MB: growth {100 * growth:+.1f}% "
          f"(target < 10%); p99 {after[0]['p99_ms']:.1f} -> {after[-1]['p99_ms']:.1f} ms: drift {100 * drift:+.1f}% "
          "(target < 20%)")
    print(json.dumps({"requests": args.requests, "concurrency": args.concurrency, "rss_growth": growth,
                      "p99_drift": drift, "windows": rows}))


if __name__ == "__main__":
    main()
