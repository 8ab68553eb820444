"""The request log under load and faults, the full form of tests/gateway/test_request_log_chaos.py.

Prints, measured on this machine in one run (it is small and shared: read the figures with the load
average printed first):

1. records/s stored into SQLite and into PostgreSQL by the spooled batch writer (N records spooled,
   then timed until all are stored), and the CPU time per record the event loop pays to spool one;
2. lag at a steady 1,000 records/s: records spooled at that rate for --lag-s seconds while the writer
   stores them; the worst age of a record when stored (target: never more than 1 s behind);
3. loss under SIGKILL: a real `tiered serve` (SQLite log) with --clients requests in flight against
   `tiered emulator`, killed after --kill-after-s, started again on the same log; answered requests
   whose record is missing once the spool is replayed (target <= 0.1%); the gateway's RSS;
4. loss over a PostgreSQL outage: a private PostgreSQL cluster (initdb/pg_ctl, as tests/local_services.py)
   is stopped for --outage-s seconds (default 60) while the gateway answers, then started again; the
   gateway must reconnect by itself and store every answered request's record (target 0 lost).

    .venv/bin/python bench/request_log.py [--records 20000] [--outage-s 60] [--skip-outage]

Last line: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2

from tiered.records import Attempt, Decision, Record
from tiered.serving import serving_in_process
from tiered.telemetry.postgres import PostgresSink
from tiered.telemetry.spool import Spool
from tiered.telemetry.spooled import SpooledLog, encode
from tiered.telemetry.sqlite import SqliteSink

TIERED = str(Path(sys.executable).with_name("tiered"))
MACHINE_PG = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"
BODY = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record() -> Record:
    attempt = Attempt(model="claude-haiku-4-5", tier="haiku", purpose="answer", outcome="ok", input_tokens=120,
                      output_tokens=40, cost_usd=Decimal("0.00032"), latency_ms=51.5, ttft_ms=20.25, status=200,
                      reason="first")
    return Record(trace_id=uuid.uuid4().hex, route="default", policy="Direct('haiku')",
                  decision=Decision("Direct('haiku')", "haiku", "direct", {}), attempts=(attempt,),
                  cost_usd=Decimal("0.00032"), latency_ms=52.0, degraded=False, created_at=time.time(),
                  model="claude-haiku-4-5", tier="haiku", requested_model="auto", task=None, escalated=False,
                  fell_back=False, outcome="ok")


# -- 1 and 2: the writer alone ----------------------------------------------------------------------------------

def throughput(sink: Any, folder: Path, n: int) -> tuple[float, float]:
    """(records/s stored, microseconds of CPU to spool one record on the caller's side)."""
    records = [record() for _ in range(n)]
    spool = Spool(folder, max_bytes=1 << 31)
    cpu = time.process_time()
    for r in records:
        spool.append(encode(r))
    spool_us = (time.process_time() - cpu) / n * 1e6
    started = time.perf_counter()
    log = SpooledLog(sink, spool)
    if not log.flush(600):
        raise RuntimeError(f"{sink!r}: not stored")
    rate = n / (time.perf_counter() - started)
    log.close()
    return rate, spool_us


def lag(sink: Any, folder: Path, rate: float, seconds: float) -> tuple[float, int]:
    """Worst age (s) of a record when stored while `rate` records/s arrive, and how many were sent."""
    log = SpooledLog(sink, Spool(folder, max_bytes=1 << 31))
    worst = 0.0
    sent = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            log.append(encode(record()))
            sent += 1
        worst = max(worst, log.lag_s)
        time.sleep(0.002)
    log.flush(60)
    worst = max(worst, log.lag_s)
    log.close()
    return worst, sent


# -- 3 and 4: a real gateway ------------------------------------------------------------------------------------

@contextmanager
def process(args: list[str], port: int, health: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k not in ("TIERED_GATEWAY_KEYS", "ANTHROPIC_API_KEY")}
    with serving_in_process([TIERED, *args, "--port", str(port)], f"http://127.0.0.1:{port}{health}", log, env=env,
                            append=True, start_timeout_s=90, stop_timeout_s=60) as proc:
        yield proc


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Load:
    """`clients` requests in flight from one event loop thread until stopped (or the gateway dies)."""

    def __init__(self, url: str, clients: int) -> None:
        self.answered: list[str] = []
        self.failed = 0
        self._stop = threading.Event()

        async def client(http: httpx2.AsyncClient) -> None:
            while not self._stop.is_set():
                try:
                    r = await http.post("/v1/messages", json=BODY)
                except httpx2.TransportError:
                    self.failed += 1
                    if self._stop.is_set():
                        return
                    await asyncio.sleep(0.05)
                    continue
                if r.status_code == 200:
                    self.answered.append(r.headers["x-tiered-trace-id"])
                else:
                    self.failed += 1

        async def main() -> None:
            limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
            async with httpx2.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
                await asyncio.gather(*(client(http) for _ in range(clients)))

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)


def config_text(upstream: int, telemetry: str) -> str:
    return (f'[backend]\nkind = "emulator"\nbase_url = "http://127.0.0.1:{upstream}"\n{telemetry}'
            '[routes.default]\npolicy = "direct"\ntarget = "haiku"\n')


def stored_ids(sink: Any) -> set[str]:
    with sink:
        return {r.trace_id for r in sink.records()}


def wait_stored(make_sink: Any, answered: list[str], seconds: float) -> set[str]:
    deadline = time.monotonic() + seconds
    while True:
        ids = stored_ids(make_sink())
        if set(answered) <= ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.5)


def sigkill(tmp: Path, emulator: int, clients: int, kill_after_s: float) -> dict[str, Any]:
    db = tmp / "kill" / "requests.db"
    config = tmp / "kill.toml"
    config.write_text(config_text(emulator, f'[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\npath = "{db}"\n'))
    port = free_port()
    with process(["serve", "--config", str(config)], port, "/healthz", tmp / "kill-serve.log") as proc:
        rss_start = rss_mb(proc.pid)
        load = Load(f"http://127.0.0.1:{port}", clients)
        time.sleep(kill_after_s)
        rss_loaded = rss_mb(proc.pid)
        metrics = httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        load.stop()
    lag_line = [x for x in metrics.splitlines() if x.startswith("tiered_request_log_lag_seconds")]
    with process(["serve", "--config", str(config)], port, "/healthz", tmp / "kill-serve.log"):
        ids = wait_stored(lambda: SqliteSink(db), load.answered, 60)
    missing = len(set(load.answered) - ids)
    return {"kill_answered": len(load.answered), "kill_lost": missing,
            "kill_lost_pct": round(100 * missing / max(1, len(load.answered)), 4),
            "kill_rps": round(len(load.answered) / kill_after_s, 1),
            "gateway_log_lag_s_under_load": float(lag_line[0].rsplit(" ", 1)[1]) if lag_line else None,
            "rss_start_mb": round(rss_start, 1), "rss_loaded_mb": round(rss_loaded, 1)}


class PrivatePostgres:
    """A throwaway cluster (initdb + pg_ctl; as the `postgres` user when run as root) we may stop and start."""

    def __init__(self, folder: Path) -> None:
        def binary(name: str) -> str:
            found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
            if not found:
                raise RuntimeError(f"{name} not found")
            return str(found)

        self.pg_ctl = binary("pg_ctl")
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.folder = folder
        folder.mkdir(parents=True)
        if self.as_user:
            shutil.chown(folder, "postgres")
        self.data = folder / "data"
        self.port = free_port()
        subprocess.run([*self.as_user, binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.start()
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")

    def dsn(self, db: str = "test") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={db} user=postgres connect_timeout=3"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-o", options, "-l",
                        str(self.folder / "log"), "-w", "start"], check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       check=True, stdout=subprocess.DEVNULL)


def outage(tmp: Path, emulator: int, clients: int, outage_s: float) -> dict[str, Any]:
    pg = PrivatePostgres(tmp / "pg")
    try:
        config = tmp / "outage.toml"
        config.write_text(config_text(emulator, f'[telemetry]\nsinks = ["postgres"]\n[telemetry.postgres]\n'
                                      f'dsn = "{pg.dsn()}"\n[telemetry.spool]\ndir = "{tmp / "pg-spool"}"\n'))
        port = free_port()
        with process(["serve", "--config", str(config)], port, "/healthz", tmp / "outage-serve.log"):
            load = Load(f"http://127.0.0.1:{port}", clients)
            time.sleep(3)
            before = len(load.answered)
            pg.stop()
            stopped = time.monotonic()
            time.sleep(outage_s)
            during = len(load.answered) - before
            pg.start()
            back = time.monotonic() - stopped
            time.sleep(3)
            load.stop()
            started = time.monotonic()
            ids = wait_stored(lambda: PostgresSink(pg.dsn()), load.answered, 120)
            caught_up_s = time.monotonic() - started
        missing = len(set(load.answered) - ids)
        return {"outage_s": round(back, 1), "outage_answered": len(load.answered),
                "outage_answered_while_down": during, "outage_lost": missing,
                "outage_caught_up_s": round(caught_up_s, 1)}
    finally:
        subprocess.run([*pg.as_user, pg.pg_ctl, "-D", str(pg.data), "-m", "immediate", "-w", "stop"],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--lag-rate", type=float, default=1000.0)
    parser.add_argument("--lag-s", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--kill-after-s", type=float, default=10.0)
    parser.add_argument("--outage-s", type=float, default=60.0)
    parser.add_argument("--skip-outage", action="store_true")
    parser.add_argument("--postgres", default=MACHINE_PG, help="DSN for the records/s and lag runs")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tiered-bench-log-") as name:
        tmp = Path(name)
        os.chmod(tmp, 0o755)  # the private PostgreSQL runs as another user
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        for kind in ("sqlite", "postgres"):
            def sink(kind: str = kind) -> Any:
                if kind == "sqlite":
                    return SqliteSink(tmp / f"{kind}.db")
                return PostgresSink(args.postgres, schema=schema)

            rate, spool_us = throughput(sink(), tmp / f"{kind}-spool", args.records)
            worst, sent = lag(sink(), tmp / f"{kind}-lag-spool", args.lag_rate, args.lag_s)
            out[f"{kind}_records_per_s"] = round(rate)
            out[f"{kind}_lag_max_s"] = round(worst, 3)
            out["spool_cpu_us_per_record"] = round(spool_us, 1)
            print(f"{kind:8}: {rate:8.0f} records/s stored (target >= 5,000); at {args.lag_rate:.0f} records/s "
                  f"for {args.lag_s:.0f} s ({sent} records) the log was at most {worst:.3f} s behind (target <= 1 s)")
        with PostgresSink(args.postgres, schema=schema) as pg:
            pg.execute(f"DROP SCHEMA {schema} CASCADE")
        print(f"spooling a record costs the caller {out['spool_cpu_us_per_record']} us of CPU")
        emulator = free_port()
        with process(["emulator"], emulator, "/v1/models", tmp / "emulator.log"):
            kill = sigkill(tmp, emulator, args.clients, args.kill_after_s)
            out.update(kill)
            print(f"SIGKILL : {kill['kill_answered']} answered in {args.kill_after_s:.0f} s ({kill['kill_rps']} req/s, "
                  f"{args.clients} in flight), {kill['kill_lost']} records lost after restart + replay "
                  f"({kill['kill_lost_pct']}%, target <= 0.1%); gateway RSS {kill['rss_start_mb']} -> "
                  f"{kill['rss_loaded_mb']} MB; log lag under that load {kill['gateway_log_lag_s_under_load']} s")
            if not args.skip_outage:
                down = outage(tmp, emulator, args.clients, args.outage_s)
                out.update(down)
                print(f"outage  : PostgreSQL stopped for {down['outage_s']} s; {down['outage_answered']} answered "
                      f"({down['outage_answered_while_down']} while it was down), {down['outage_lost']} records lost "
                      f"(target 0); the spool was stored {down['outage_caught_up_s']} s after the load ended")
    out["bench_rss_max_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
