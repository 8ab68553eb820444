"""The dashboard's views on a request log of 1,000,000 records: each must answer in < 500 ms.

    python bench/dashboard_views.py [--records 1000000] [--db PATH] [--keep]

Fills a SQLite log (the real schema, through the sink's migrations) with synthetic requests spread over
30 days: 3 routes, 3 tiers, 24 keys in 4 teams, one attempt each plus a second for 10% (fallbacks and
escalations), a time to first token on 30% and a quality label on 2%. Then, side by side in one run:

- the roll-up's first build (once per log) and an incremental refresh (what every view pays);
- each view (overview, routes, budgets, recent) for the last 7 and 30 days, unfiltered and filtered by
  a route and by a key: the median of 5 runs, through the same functions the gateway's endpoint calls;
- the same overview computed naively (GROUP BY over the requests table, no roll-up), for the ratio.

Prints one line per figure and a JSON line at the end. The machine is shared and noisy: say so with figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiered.telemetry import dashboard
from tiered.telemetry.rollup import refresh
from tiered.telemetry.rows import ATTEMPT_COLUMNS, REQUEST_COLUMNS
from tiered.telemetry.sqlite import SqliteSink

DAY = 86_400
ROUTES = ("default", "code", "chat")
TIERS = (("haiku", "claude-haiku-4-5", 0.0004), ("sonnet", "claude-sonnet-4-6", 0.004),
         ("opus", "claude-opus-4-7", 0.02))
KEYS = tuple((f"key-{i:02d}", f"team-{i % 4}") for i in range(24))


def fill(sink: SqliteSink, n: int, now: float, rng: random.Random) -> None:
    db: Any = sink._db
    req_sql = f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
    att_sql = f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) VALUES ({', '.join('?' * len(ATTEMPT_COLUMNS))})"
    q_sql = "INSERT INTO quality (trace_id, score, source, created_at) VALUES (?, ?, ?, ?)"
    batch = 50_000
    db.execute("BEGIN")
    for start in range(0, n, batch):
        reqs: list[tuple[Any, ...]] = []
        atts: list[tuple[Any, ...]] = []
        labels: list[tuple[Any, ...]] = []
        for i in range(start, min(n, start + batch)):
            trace = f"{i:032x}"
            at = now - rng.random() * 30 * DAY
            route = ROUTES[rng.randrange(3)]
            tier, model, usd = TIERS[min(2, int(rng.expovariate(1.6)))]
            key, team = KEYS[rng.randrange(len(KEYS))]
            cost = round(usd * rng.uniform(0.2, 3.0), 9)
            latency = rng.lognormvariate(7.0, 0.6)
            ok = rng.random() > 0.01
            second = rng.random() < 0.1
            ttft: float | None = latency * 0.3 if rng.random() < 0.3 else None
            reqs.append((trace, at, route, "cascade" if route == "code" else "router", None, None, model, tier,
                         "ok" if ok else "overloaded_error", "router", tier, "complexity 0.42 -> " + tier, "{}",
                         format(cost, "f"), int(cost * 1e9), latency, 0, int(second and tier != "haiku"),
                         int(second and tier == "haiku"), None, key, team, ttft))
            if second:
                atts.append((trace, 0, "claude-haiku-4-5", "haiku", "answer", "ok", 500, 80, 0, 0, "0.0001", 100_000,
                             latency * 0.4, None, 200, "first", "first"))
            atts.append((trace, int(second), model, tier, "answer", "ok" if ok else "overloaded_error",
                         900, 200, 1200, 0, format(cost, "f"), int(cost * 1e9), latency, ttft, 200,
                         "escalated: low confidence" if second else "first", "escalation" if second else "first"))
            if rng.random() < 0.02:
                labels.append((trace, rng.random(), "judge", at + 60))
        db.executemany(req_sql, reqs)
        db.executemany(att_sql, atts)
        db.executemany(q_sql, labels)
    db.execute("COMMIT")


def median_ms(fn: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def naive_overview(sink: SqliteSink, since: float) -> Any:
    with sink._lock:
        return sink._fetch("SELECT CAST(created_at / 86400 AS INTEGER) AS d, tier, SUM(cost_nano_usd) AS c, "
                           "COUNT(*) AS n FROM requests WHERE created_at >= :s GROUP BY d, tier", {"s": since})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--db", default=None, help="Where to build the log (default: a temporary file).")
    ap.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = ap.parse_args()
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="tiered-dash-")) / "requests.db"
    if path.exists():
        path.unlink()
    now = time.time()
    rng = random.Random(20261130)
    results: dict[str, Any] = {"records": args.records, "cores": os.cpu_count(), "load": os.getloadavg()[0]}
    with SqliteSink(path) as sink:
        t = time.perf_counter()
        fill(sink, args.records, now, rng)
        results["fill_s"] = round(time.perf_counter() - t, 1)
        print(f"filled {args.records:,} records in {results['fill_s']} s ({path}, "
              f"{path.stat().st_size / 1e6:.0f} MB); load average {results['load']:.1f} on {results['cores']} cores")
        t = time.perf_counter()
        refresh(sink, now=now)
        results["rollup_build_s"] = round(time.perf_counter() - t, 2)
        rows = sink._fetch("SELECT COUNT(*) AS n FROM request_rollup", {})[0]["n"]
        print(f"roll-up built once in {results['rollup_build_s']} s: {rows:,} rows")
        results["rollup_refresh_ms"] = round(median_ms(lambda: refresh(sink, now=time.time())), 1)
        print(f"incremental refresh: {results['rollup_refresh_ms']} ms (median of 5)")
        views: dict[str, Callable[[dashboard.Filters], Any]] = {
            "overview": lambda f: dashboard.overview(sink, f, now=now),
            "routes": lambda f: dashboard.routes(sink, f),
            "budgets": lambda f: dashboard.spend_by_key(sink, now=now),
            "recent": lambda f: dashboard.recent(sink, f),
        }
        worst = 0.0
        for days in (7, 30):
            for label, filters in (("all", dashboard.Filters(now - days * DAY)),
                                   ("route=code", dashboard.Filters(now - days * DAY, route="code")),
                                   ("key=key-07", dashboard.Filters(now - days * DAY, key="key-07"))):
                line = []
                for name, fn in views.items():
                    ms = median_ms(lambda fn=fn, filters=filters: fn(filters))  # type: ignore[misc]
                    worst = max(worst, ms)
                    results[f"{name}_{days}d_{label}_ms"] = round(ms, 1)
                    line.append(f"{name} {ms:6.1f} ms")
                print(f"{days:>2}d {label:<11} " + "  ".join(line))
        naive = median_ms(lambda: naive_overview(sink, now - 30 * DAY), runs=3)
        rolled = median_ms(lambda: dashboard.overview(sink, dashboard.Filters(now - 30 * DAY), now=now))
        results.update(naive_overview_30d_ms=round(naive, 1), rollup_overview_30d_ms=round(rolled, 1),
                       naive_over_rollup=round(naive / rolled, 1), worst_view_ms=round(worst, 1))
        print(f"spend by day and tier, 30 days: GROUP BY over requests {naive:.0f} ms vs roll-up overview "
              f"{rolled:.1f} ms ({naive / rolled:.0f}x); slowest view {worst:.1f} ms (target < 500 ms)")
    if not args.keep and not args.db:
        path.unlink()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
