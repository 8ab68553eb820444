"""The gateway's CPU per proxied request and throughput, side by side with direct, in one run (issue 13).

The harness of ../shared/peer (its README): the peer's minimal upstream (`emulator.py`, raw asyncio,
fixed --delay-ms 50), `wrk` with its `post.lua` for whole answers and `stream_client.py` for streams,
one `tiered serve` process with the default config (SQLite request log on) pointed at that upstream.
For each step (direct and tiered at 1, 8 and 64 clients, then streams at 8) it prints requests/s,
p50, and for tiered the gateway process's CPU-seconds over requests served (CPU per request); then the
gateway's RSS and one JSON line.

    .venv/bin/python bench/gateway_cpu.py [--duration 10] [--peer ../shared/peer] [--workers 1]

Needs `wrk` on PATH (apt-get install wrk); skips, saying why, without it. The machine is small and
shared: the load average is printed with each step, read ratios measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tiered.serving import serving_in_process

TIERED = str(Path(sys.executable).with_name("tiered"))
HZ = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with suppress(OSError):
                todo += [int(x) for x in (task / "children").read_text().split()]
    return out


def cpu_s(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / HZ
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@contextmanager
def process(args: list[str], url: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with serving_in_process(args, url, log, env=env, start_timeout_s=90) as proc:
        yield proc


def result(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            data: dict[str, Any] = json.loads(line[7:])
            return data
    raise RuntimeError(f"no RESULT line in: {stdout[-500:]}")


def step(kind: str, port: int, clients: int, duration: int, peer: Path, body: Path, gateway: int | None,
         ) -> dict[str, Any]:
    if kind == "wrk":
        cmd = ["wrk", f"-t{1 if clients == 1 else 2}", f"-c{clients}", f"-d{duration}s", "--timeout", "10s",
               "-s", str(peer / "post.lua"), f"http://127.0.0.1:{port}/v1/messages"]
    else:
        cmd = [sys.executable, str(peer / "stream_client.py"), "--port", str(port), "--concurrency", str(clients),
               "--duration", str(duration), "--max-requests", "50000", "--model", "claude-sonnet-4-5"]
    env = {**os.environ, "BODY_FILE": str(body), "API_KEY": "bench-key"}
    load = os.getloadavg()[0]
    before = cpu_s(gateway) if gateway else 0.0
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, env=env, cwd=peer)
    wall = time.perf_counter() - started
    out = result(done.stdout)
    out["load_avg"] = round(load, 1)
    if gateway:
        used = cpu_s(gateway) - before
        n = out.get("requests") or out.get("requests_ok") or 0
        out["gateway_cpu_cores"] = round(used / wall, 3)
        out["gateway_cpu_ms_per_request"] = round(used / n * 1000, 3) if n else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--peer", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "peer")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", default="1,8,64")
    parser.add_argument("--stream-clients", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("skipped: wrk is not installed (apt-get install wrk)")
        return
    if not (args.peer / "emulator.py").exists():
        print(f"skipped: no peer harness at {args.peer}")
        return
    emu, gw = free_port(), free_port()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tiered-bench-cpu-") as name:
        tmp = Path(name)
        body = tmp / "body.json"
        body.write_text((args.peer / "body-tiered.json").read_text())
        env = {**os.environ, "TIERED_DB": str(tmp / "requests.db")}
        env.pop("TIERED_GATEWAY_KEYS", None)
        env.pop("ANTHROPIC_API_KEY", None)
        upstream = f"http://127.0.0.1:{emu}"
        serve = [TIERED, "serve", "--backend", "emulator", "--upstream", upstream, "--port", str(gw),
                 "--workers", str(args.workers)]
        with process([sys.executable, str(args.peer / "emulator.py"), "--port", str(emu), "--delay-ms", "50"],
                     f"{upstream}/health", env, tmp / "emulator.log"), \
                process(serve, f"http://127.0.0.1:{gw}/healthz", env, tmp / "gateway.log") as gateway:
            rss_start = rss_mb(gateway.pid)
            step("wrk", gw, 8, 2, args.peer, body, None)  # warm-up
            for clients in (int(c) for c in args.clients.split(",")):
                for target, port in (("direct", emu), ("tiered", gw)):
                    r = step("wrk", port, clients, args.duration, args.peer, body,
                             gateway.pid if target == "tiered" else None)
                    rows.append({"kind": "whole", "target": target, "clients": clients, **r})
            for target, port in (("direct", emu), ("tiered", gw)):
                r = step("stream", port, args.stream_clients, args.duration, args.peer, body,
                         gateway.pid if target == "tiered" else None)
                rows.append({"kind": "stream", "target": target, "clients": args.stream_clients, **r})
            rss_end = rss_mb(gateway.pid)
            served = sum(int(r.get("requests") or r.get("requests_ok") or 0) for r in rows if r["target"] == "tiered")
    print(f"{'':7}{'target':8}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'ttfb p50':>10}{'cpu ms/req':>12}"
          f"{'cores':>7}{'load':>6}")
    for r in rows:
        p50, ttfb = r.get("p50_ms") or r.get("total_p50_ms"), r.get("ttfb_p50_ms")
        print(f"{r['kind']:7}{r['target']:8}{r['clients']:>8}{r.get('rps', 0):>9.1f}{p50 or 0:>9.2f}"
              f"{ttfb or 0:>10.2f}{r.get('gateway_cpu_ms_per_request') or 0:>12.3f}"
              f"{r.get('gateway_cpu_cores') or 0:>7.2f}{r['load_avg']:>6.1f}")
    by = {(r["kind"], r["target"], r["clients"]): r for r in rows}
    summary: dict[str, Any] = {"workers": args.workers, "rss_start_mb": round(rss_start, 1),
                               "rss_end_mb": round(rss_end, 1), "tiered_requests": served}
    for clients in (int(c) for c in args.clients.split(",")):
        d, t = by[("whole", "direct", clients)], by[("whole", "tiered", clients)]
        summary[f"c{clients}_ratio"] = round(t["rps"] / d["rps"], 3) if d["rps"] else None
        summary[f"c{clients}_added_p50_ms"] = round(t["p50_ms"] - d["p50_ms"], 2)
        summary[f"c{clients}_cpu_ms"] = t.get("gateway_cpu_ms_per_request")
    sd, st = by[("stream", "direct", args.stream_clients)], by[("stream", "tiered", args.stream_clients)]
    summary["stream_cpu_ms"] = st.get("gateway_cpu_ms_per_request")
    summary["stream_added_ttfb_p50_ms"] = round((st["ttfb_p50_ms"] or 0) - (sd["ttfb_p50_ms"] or 0), 2)
    print(f"gateway RSS {rss_start:.0f} -> {rss_end:.0f} MB after {served} requests")
    print(json.dumps({"summary": summary, "rows": rows}))


if __name__ == "__main__":
    main()
