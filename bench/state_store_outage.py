"""Redis trouble under load: the gateway with `[state] redis` on a private redis-server that is stopped
(SIGSTOP: hung), resumed, killed (dead) and started again, while clients keep sending requests and
/healthz is probed every 20 ms.

The emulator and the gateway run as their own processes, started from the CLI as a user would, with
a rate limit and a daily budget (so every request reserves and settles in Redis) and a fallback route
(breakers). The redis-server is this script's own, on a free port: the machine's shared Redis is never
touched. Per phase it prints the requests answered and their statuses, and /healthz p50/p99/max (the
loop is blocked at most that long); then the gateway's log lines about the store, its tracebacks,
and whether Redis's spend equals the cost of every answer once the queued settlements are replayed.

The machine is small and shared (2 cores, 8 engineers): read the figures as upper bounds.

    .venv/bin/python bench/state_store_outage.py [--concurrency 16] [--phase-s 8] [--on-failure open|closed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_fuzz import Prober
from gateway_overhead import KEY, TIERED, free_port, process

ROUTES = '[routes.default]\npolicy = "fallback"\nchain = ["opus", "sonnet", "haiku"]\nretries = 0\n'
BODY = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_connect_timeout=0.5).ping():
                return proc
        except redis.RedisError:
            time.sleep(0.1)
    raise SystemExit("redis-server did not start")


class Load:
    """`concurrency` threads sending BODY in a loop; answers counted per phase."""

    def __init__(self, url: str, concurrency: int) -> None:
        self.url, self.concurrency = url, concurrency
        self.phase = "warm-up"
        self.counts: dict[str, dict[int, int]] = {}
        self.costs = Decimal(0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(concurrency)]

    def _run(self) -> None:
        with httpx2.Client(base_url=self.url, headers={"x-api-key": KEY}, timeout=60) as client:
            while not self._stop.is_set():
                phase = self.phase
                r = client.post("/v1/messages", json=BODY)
                with self._lock:
                    by = self.counts.setdefault(phase, {})
                    by[r.status_code] = by.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        self.costs += Decimal(r.headers["x-tiered-cost-usd"])

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def redis_spent(url: str) -> Decimal:
    from tiered.gateway.auth import caller_id
    from tiered.gateway.redis_limits import RedisLimits

    async def read() -> Decimal:
        limits = RedisLimits(url)
        try:
            return await limits.spent(caller_id(KEY))
        finally:
            await limits.aclose()

    return asyncio.run(read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--phase-s", type=float, default=8.0)
    parser.add_argument("--on-failure", choices=["open", "closed"], default="open")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiered-outage-") as folder:
        tmp = Path(folder)
        redis_port, up_port, gw_port = free_port(), free_port(), free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        upstream, gateway = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{gw_port}"
        config = tmp / "tiered.toml"
        config.write_text(f'[backend]\nkind = "emulator"\nbase_url = "{upstream}"\n[telemetry]\nsinks = []\n'
                          f'[gateway]\nrequests_per_minute = 1000000\nusd_per_day = 100000\n'
                          f'[state]\nredis = "{redis_url}"\non_failure = "{args.on_failure}"\n{ROUTES}')
        env = {**os.environ, "TIERED_GATEWAY_KEYS": KEY}
        env.pop("ANTHROPIC_API_KEY", None)
        redis_proc = start_redis(redis_port, tmp)
        phases: dict[str, dict[str, float]] = {}
        try:
            with process([TIERED, "emulator", "--port", str(up_port)], f"{upstream}/v1/models", env,
                         tmp / "emu.log"), \
                    process([TIERED, "serve", "--config", str(config), "--port", str(gw_port)],
                            f"{gateway}/healthz", env, tmp / "gw.log"), Load(gateway, args.concurrency) as load:
                time.sleep(2)

                def phase(name: str) -> None:
                    load.phase = name
                    with Prober(gateway) as probe:
                        time.sleep(args.phase_s)
                    phases[name] = probe.summary()

                phase("normal")
                redis_proc.send_signal(signal.SIGSTOP)
                phase("hung (SIGSTOP)")
                redis_proc.send_signal(signal.SIGCONT)
                phase("resumed")
                redis_proc.kill()
                redis_proc.wait()
                phase("dead (killed)")
                redis_proc = start_redis(redis_port, tmp)
                phase("restarted")
                load.phase = "end"
            time.sleep(0.5)
            gw_log = (tmp / "gw.log").read_text()
            # the gateway is gone: what it settled is in Redis (the restarted one only saw the last phase)
            spent_after_restart = redis_spent(redis_url)
        finally:
            redis_proc.send_signal(signal.SIGCONT)
            redis_proc.terminate()
            redis_proc.wait(10)
    print(f"on_failure = {args.on_failure}, {args.concurrency} clients, {args.phase_s:g} s per phase")
    print(f"{'phase':<16} {'answered':>9} {'statuses':<28} {'healthz p50':>12} {'p99':>9} {'max':>9}")
    for name, probe in phases.items():
        counts = load.counts.get(name, {})
        print(f"{name:<16} {sum(counts.values()):>9} {json.dumps(counts):<28} {probe['p50_ms']:>9.1f} ms "
              f"{probe['p99_ms']:>6.1f} ms {probe['max_ms']:>6.1f} ms")
    outage_lines = [line for line in gw_log.splitlines() if "state store (Redis)" in line]
    print(f"gateway log: {len(outage_lines)} state-store lines, {gw_log.count('Traceback')} tracebacks")
    for line in outage_lines:
        print("  " + line[:200])
    print(f"Redis spend after the restart (settlements since the restart, including those queued): "
          f"${spent_after_restart}")
    print(json.dumps({"on_failure": args.on_failure, "phases": phases,
                      "answered": {k: v for k, v in load.counts.items()}, "tracebacks": gw_log.count("Traceback"),
                      "store_log_lines": len(outage_lines)}))


if __name__ == "__main__":
    main()
