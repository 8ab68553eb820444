"""Hourly roll-ups of the request log, so the dashboard answers in milliseconds on millions of records.

Two tables (migration m022), both per UTC hour:

- `request_rollup`, per route x tier x model: requests, errors, escalations, fallbacks, the exact cost
  (nano-dollars), the latency sum, and two cumulative histograms (latency and time to first token:
  counts at or under each bound of `BOUNDS_MS`, as Prometheus keeps them). p50/p95 are read off them by
  linear interpolation inside the bucket, so they are within one bucket of the exact figure (the
  bounds are 25-50% apart);
- `label_rollup`, the latest quality label of each labelled request with its hour, route and key (the
  labels that arrived since the last refresh are added, a newer label replacing an older one);
- `key_rollup`, per key name x team x route: requests, errors and the exact cost (spend per key over
  time), and `key_day_rollup`, the same per UTC day (budgets, and charts of more than two days).

A month of traffic is some thousands of rows in the first and at most keys x routes x hours in the
second, whatever the number of requests. A view filtered by key reads that key's requests instead,
through an index that covers every column it needs (m020), and computes exact figures from them.

`refresh` keeps them current incrementally: it recomputes from one hour before its watermark
(records are written when a request ends, stamped with when it began, and no request lasts an hour)
to now, in one transaction, and moves the watermark to the current hour. The first refresh of a log
builds them whole (once); later ones touch only the last hour or two. NULL group values are rolled
up under '' (so a group is one row, not one per NULL).
"""

from __future__ import annotations

import time
from typing import Any

from tiered.telemetry import sql
from tiered.telemetry.sql_sink import SqlSink

HOUR_S = 3600
BOUNDS_MS = (50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 20_000, 30_000,
             60_000, 120_000, 300_000)
LAT = tuple(f"lat_{i}" for i in range(len(BOUNDS_MS)))
TTFT = tuple(f"ttft_{i}" for i in range(len(BOUNDS_MS)))
REQUEST_GROUPS = ("route", "tier", "model")
KEY_GROUPS = ("key_name", "team", "route")
REQUEST_SUMS = ("requests", "errors", "escalated", "fell_back", "cost_nano", "latency_sum", "ttft_count", *LAT, *TTFT)
KEY_SUMS = ("requests", "errors", "cost_nano")


def create_table_sql() -> list[str]:
    """The DDL of m022 (kept here beside the columns it must match)."""
    hists = ", ".join(f"{c} BIGINT NOT NULL" for c in (*LAT, *TTFT))
    return [
        f"""CREATE TABLE request_rollup (
            hour BIGINT NOT NULL, route TEXT NOT NULL, tier TEXT NOT NULL, model TEXT NOT NULL,
            requests BIGINT NOT NULL, errors BIGINT NOT NULL, escalated BIGINT NOT NULL, fell_back BIGINT NOT NULL,
            cost_nano BIGINT NOT NULL, latency_sum DOUBLE PRECISION NOT NULL, ttft_count BIGINT NOT NULL, {hists})""",
        "CREATE INDEX request_rollup_hour ON request_rollup (hour)",
        """CREATE TABLE key_rollup (
            hour BIGINT NOT NULL, key_name TEXT NOT NULL, team TEXT NOT NULL, route TEXT NOT NULL,
            requests BIGINT NOT NULL, errors BIGINT NOT NULL, cost_nano BIGINT NOT NULL)""",
        "CREATE INDEX key_rollup_hour ON key_rollup (hour)",
        "CREATE INDEX key_rollup_key ON key_rollup (key_name, hour)",
        """CREATE TABLE key_day_rollup (
            day BIGINT NOT NULL, key_name TEXT NOT NULL, team TEXT NOT NULL, route TEXT NOT NULL,
            requests BIGINT NOT NULL, errors BIGINT NOT NULL, cost_nano BIGINT NOT NULL)""",
        "CREATE INDEX key_day_rollup_day ON key_day_rollup (day)",
        """CREATE TABLE label_rollup (
            trace_id TEXT PRIMARY KEY, hour BIGINT NOT NULL, route TEXT NOT NULL, key_name TEXT NOT NULL,
            label_id BIGINT NOT NULL, score DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX label_rollup_hour ON label_rollup (hour)",
        "CREATE TABLE rollup_state (name TEXT PRIMARY KEY, hour BIGINT NOT NULL)",
    ]


def hour_expr(dialect: str) -> str:
    return "CAST(FLOOR(created_at / 3600) AS BIGINT)" if dialect == "postgres" else "CAST(created_at / 3600 AS INTEGER)"


def per_request_columns(dialect: str, *, histograms: bool = True) -> str:
    """The roll-ups' summed columns for one request row (each request counts 1), over the `requests` table."""
    lat = ", ".join(f"CASE WHEN latency_ms <= {b} THEN 1 ELSE 0 END AS {c}"
                    for b, c in zip(BOUNDS_MS, LAT, strict=True))
    ttft = ", ".join(f"CASE WHEN ttft_ms <= {b} THEN 1 ELSE 0 END AS {c}" for b, c in zip(BOUNDS_MS, TTFT, strict=True))
    groups = ", ".join(f"COALESCE({c}, '') AS {c}" for c in ("route", "tier", "model", "key_name", "team"))
    return (f"{hour_expr(dialect)} AS hour, {groups}, 1 AS requests, "
            "CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END AS errors, escalated, fell_back, cost_nano_usd AS cost_nano, "
            "latency_ms AS latency_sum, CASE WHEN ttft_ms IS NULL THEN 0 ELSE 1 END AS ttft_count"
            + (f", {lat}, {ttft}" if histograms else ""))


def source(dialect: str, where: str, *, histograms: bool = True) -> str:
    """A derived table with the roll-ups' columns, one row per request matching `where` (a WHERE clause over
    `requests`)."""
    return f"(SELECT {per_request_columns(dialect, histograms=histograms)} FROM requests{where}) AS src"


def _insert(table: str, groups: tuple[str, ...], sums: tuple[str, ...], dialect: str, style: sql.ParamStyle, *,
            hists: bool) -> str:
    return (f"INSERT INTO {table} (hour, {', '.join(groups)}, {', '.join(sums)}) "
            f"SELECT hour, {', '.join(groups)}, {', '.join(f'SUM({c})' for c in sums)} "
            f"FROM {source(dialect, ' WHERE created_at >= ' + sql.placeholder('start', style), histograms=hists)} "
            f"GROUP BY hour, {', '.join(groups)}")


def refresh(log: SqlSink, *, now: float | None = None) -> int:
    """Bring the roll-ups up to `now`; returns the first hour recomputed."""
    now = time.time() if now is None else now
    dialect = str(getattr(log, "dialect", "sqlite"))
    style = log.style
    statements = [_insert("request_rollup", REQUEST_GROUPS, REQUEST_SUMS, dialect, style, hists=True),
                  _insert("key_rollup", KEY_GROUPS, KEY_SUMS, dialect, style, hists=False)]
    current = int(now // HOUR_S)

    def rebuild() -> int:
        row = log._fetch("SELECT hour FROM rollup_state WHERE name = 'requests'", {})
        start = int(row[0]["hour"]) - 1 if row else 0  # never built: everything
        for table in ("request_rollup", "key_rollup"):  # key_day_rollup: below
            log._write(f"DELETE FROM {table} WHERE hour >= {sql.placeholder('hour', style)}", {"hour": start})
        for statement in statements:
            log._write(statement, {"start": start * HOUR_S})
        day = start // 24  # the days the recomputed hours belong to, summed again from key_rollup
        log._write(f"DELETE FROM key_day_rollup WHERE day >= {sql.placeholder('day', style)}", {"day": day})
        log._write(f"INSERT INTO key_day_rollup (day, {', '.join(KEY_GROUPS)}, {', '.join(KEY_SUMS)}) "
                   f"SELECT hour / 24, {', '.join(KEY_GROUPS)}, {', '.join(f'SUM({c})' for c in KEY_SUMS)} "
                   f"FROM key_rollup WHERE hour >= {sql.placeholder('hour', style)} "
                   f"GROUP BY hour / 24, {', '.join(KEY_GROUPS)}", {"hour": day * 24})
        _labels(log, dialect)
        log._write("DELETE FROM rollup_state WHERE name = 'requests'", {})
        log._write(f"INSERT INTO rollup_state (name, hour) VALUES ('requests', {sql.placeholder('hour', style)})",
                   {"hour": current})
        return start

    with log._lock:
        db: Any = log._db
        if dialect == "postgres":
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(hashtext('tiered.request_rollup'))")
                return rebuild()
        db.execute("BEGIN IMMEDIATE")
        try:
            start = rebuild()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return start


def _labels(log: SqlSink, dialect: str) -> None:
    """Fold the quality labels added since the last refresh into `label_rollup` (the latest per trace wins)."""
    style = log.style
    row = log._fetch("SELECT hour FROM rollup_state WHERE name = 'labels'", {})
    seen = int(row[0]["hour"]) if row else 0
    latest = log._fetch("SELECT MAX(id) AS id FROM quality", {})[0]["id"]
    if latest is None or int(latest) <= seen:
        return
    w = sql.placeholder("seen", style)
    log._write(
        f"INSERT INTO label_rollup (trace_id, hour, route, key_name, label_id, score) "
        f"SELECT q.trace_id, {hour_expr(dialect).replace('created_at', 'r.created_at')}, r.route, "
        f"COALESCE(r.key_name, ''), q.id, q.score FROM quality q JOIN requests r ON r.trace_id = q.trace_id "
        f"WHERE q.id IN (SELECT MAX(id) FROM quality WHERE id > {w} GROUP BY trace_id) "
        "ON CONFLICT (trace_id) DO UPDATE SET label_id = excluded.label_id, score = excluded.score",
        {"seen": seen})
    log._write("DELETE FROM rollup_state WHERE name = 'labels'", {})
    log._write(f"INSERT INTO rollup_state (name, hour) VALUES ('labels', {sql.placeholder('id', style)})",
               {"id": int(latest)})


def percentile_ms(cumulative: list[int], total: int, q: float) -> float | None:
    """The q-quantile from a cumulative histogram over `BOUNDS_MS` (None without observations)."""
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0
    for bound, count in zip(BOUNDS_MS, cumulative, strict=True):
        if count >= rank:
            inside = count - below
            share = (rank - below) / inside if inside else 1.0
            return lower + (bound - lower) * share
        lower, below = float(bound), count
    return float(BOUNDS_MS[-1])  # beyond the last bound: report the bound
