"""How many requests a second the emulator serves on one core: it must not bottleneck gateway benchmarks.

The emulator runs as a subprocess (`tiered emulator`) pinned to core 0 (`taskset -c 0`, else
`os.sched_setaffinity`); this script pins itself to the other core and drives it with a small
asyncio load generator: many concurrent keep-alive HTTP/1.1 connections over raw sockets, each
sending the same /v1/messages request as soon as the previous answer is read (Content-Length or
chunked). No injected latency. It measures non-streaming and streaming separately and prints, last,
one JSON line: {"rps": non-streaming rps, "stream_rps", "rps_per_cpu_s", "server_busy", "target_rps": 2000,
"ratio": rps/2000}.
The machine is shared and noisy, so it also reports requests per CPU-second of the server process
(/proc/PID/stat): the capacity of one core when nothing else competes for it.

    .venv/bin/python bench/emulator_throughput.py [--seconds 5] [--connections 64] [--wrk]

`--wrk` drives the same requests with wrk (when installed) instead, as a cross-check that the
Python load generator is not what limits the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from typing import Any, cast

TARGET_RPS = 2000
SERVER_CORE, CLIENT_CORE = 0, 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", "from tiered.cli import main; main()", "emulator", "--port", str(port)]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", str(SERVER_CORE), *cmd]
        return subprocess.Popen(cmd, stderr=subprocess.DEVNULL)

    def pin() -> None:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {SERVER_CORE})

    return subprocess.Popen(cmd, stderr=subprocess.DEVNULL, preexec_fn=pin)


def wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the emulator did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_bytes(port: int, *, stream: bool) -> bytes:
    body = json.dumps({
        "model": "claude-haiku-4-5",
        "max_tokens": 128,
        "stream": stream,
        "messages": [{"role": "user", "content": "Which planet is known as the red planet? Answer briefly."}],
    }).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-api-key: bench\r\n"
        f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def response_end(buf: bytearray | bytes, start: int = 0) -> tuple[int, int] | None:
    """(status, end offset) of the HTTP/1.1 response at buf[start:] when it is complete, else None."""
    head_end = buf.find(b"\r\n\r\n", start)
    if head_end < 0:
        return None
    status = int(buf[start + 9 : start + 12])
    head = bytes(buf[start:head_end]).lower()
    at = head.find(b"content-length:")
    if at >= 0:
        value_end = head.find(b"\r\n", at)
        end = head_end + 4 + int(head[at + 15 : value_end if value_end >= 0 else len(head)])
        return (status, end) if len(buf) >= end else None
    pos = head_end + 4  # chunked: walk the chunks
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(buf[pos:line_end], 16)
        pos = line_end + 2 + size + 2
        if len(buf) < pos:
            return None
        if size == 0:
            return status, pos


class LoadConnection(asyncio.Protocol):
    """One keep-alive connection that resends `payload` as soon as each answer is complete."""

    def __init__(self, payload: bytes, stop_at: float, counts: dict[str, int], done: asyncio.Future[None]) -> None:
        self.payload, self.stop_at, self.counts, self.done = payload, stop_at, counts, done
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.transport.write(self.payload)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        found = response_end(self.buf)
        if found is None:
            return
        status, end = found
        del self.buf[:end]
        self.counts["ok" if status == 200 else "errors"] += 1
        assert self.transport is not None
        if time.perf_counter() < self.stop_at:
            self.transport.write(self.payload)
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run_load(port: int, payload: bytes, seconds: float, connections: int, counts: dict[str, int]) -> None:
    loop = asyncio.get_running_loop()
    stop_at = time.perf_counter() + seconds
    waits: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(partial(LoadConnection, payload, stop_at, counts, done), "127.0.0.1", port)
        waits.append(done)
    await asyncio.wait_for(asyncio.gather(*waits), seconds + 30)


async def drive(port: int, pid: int, *, stream: bool, seconds: float, connections: int) -> dict[str, Any]:
    payload = request_bytes(port, stream=stream)
    await run_load(port, payload, 0.5, 8, {"ok": 0, "errors": 0})  # warm-up
    counts = {"ok": 0, "errors": 0}
    cpu_before = cpu_seconds(pid)
    start = time.perf_counter()
    await run_load(port, payload, seconds, connections, counts)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_before
    per_cpu = counts["ok"] / cpu if cpu > 0 else 0.0
    return {"rps": counts["ok"] / elapsed, "rps_per_cpu_s": per_cpu, "server_cpu": cpu / elapsed, **counts}


def drive_wrk(port: int, pid: int, *, stream: bool, seconds: float, connections: int) -> dict[str, Any]:
    """The same load from `wrk` (if installed: a cross-check that the Python generator is not the limit)."""
    payload = request_bytes(port, stream=stream)
    body = payload.split(b"\r\n\r\n", 1)[1].decode()
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["content-type"] = "application/json"\nwrk.headers["x-api-key"] = "bench"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", fh.name,
           f"http://127.0.0.1:{port}/v1/messages"]
    cpu_before, start = cpu_seconds(pid), time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    elapsed, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu_before
    os.unlink(fh.name)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    per_cpu = (total - errors) / cpu if cpu > 0 else 0.0
    return {"rps": rps, "rps_per_cpu_s": per_cpu, "server_cpu": cpu / elapsed, "ok": total - errors, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk", action="store_true", help="Drive the load with wrk instead (must be installed).")
    args = parser.parse_args()
    if args.wrk and not shutil.which("wrk"):
        parser.error("--wrk: wrk is not installed")
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {CLIENT_CORE})
    try:
        import uvloop

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    port = free_port()
    server = start_emulator(port)
    try:
        wait_ready(port)
        results = {}
        for label, stream in (("non-streaming", False), ("streaming", True)):
            options: dict[str, Any] = {"stream": stream, "seconds": args.seconds, "connections": args.connections}
            r = (drive_wrk(port, server.pid, **options) if args.wrk
                 else asyncio.run(drive(port, server.pid, **options)))
            results[label] = r
            print(f"{label:>13} /v1/messages: {r['rps']:,.0f} req/s ({r['ok']} ok, {r['errors']} errors); "
                  f"server busy {r['server_cpu']:.0%} of its core, {r['rps_per_cpu_s']:,.0f} req per server CPU-second")
    finally:
        server.terminate()
        server.wait(timeout=10)
    generator = "wrk" if args.wrk else f"asyncio protocol client on {loop_name}"
    print(f"(server pinned to core {SERVER_CORE}, load generator on core {CLIENT_CORE}: {generator}, "
          f"{args.connections} keep-alive connections)")
    plain, streamed = results["non-streaming"], results["streaming"]
    print(json.dumps({
        "rps": round(plain["rps"]),
        "stream_rps": round(streamed["rps"]),
        "rps_per_cpu_s": round(plain["rps_per_cpu_s"]),
        "server_busy": round(plain["server_cpu"], 2),  # well under 1.0: the machine, not the emulator, was the limit
        "target_rps": TARGET_RPS,
        "ratio": round(plain["rps"] / TARGET_RPS, 2),
    }))


if __name__ == "__main__":
    main()
