"""The dashboard's views, as JSON-ready dicts, read from the roll-up (`tiered.telemetry.rollup`) and the log.

    overview   totals and spend over time by tier and by key        request_rollup, key_rollup
    routes     per route: tier mix, escalation / fallback / error   request_rollup, label_rollup, and
               rates, p50/p95 latency and time to first token,      the latest record's policy per route
               mean quality and labels, the policy answering it
    budgets    spend today and this month per key and team          key_day_rollup
    recent     the latest requests with their decision trail        requests + attempts (indexed, LIMIT)

Every view takes the same filters (`since`, `route`, `key`) and reads only aggregated hours or a
bounded, indexed slice of the log, so each answers in milliseconds whatever the log's size
(bench/dashboard_views.py measures it on 1,000,000 records).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tiered.telemetry import sql
from tiered.telemetry.rollup import HOUR_S, LAT, TTFT, percentile_ms
from tiered.telemetry.rows import NANO
from tiered.telemetry.sql_sink import SqlSink

TOP_KEYS = 8
RECENT = 50


@dataclass(frozen=True, slots=True)
class Filters:
    since: float
    route: str | None = None
    key: str | None = None


def _requests_where(f: Filters, style: sql.ParamStyle, table: str = "") -> tuple[str, dict[str, Any]]:
    """The filters as a WHERE clause over the requests (`table`: an alias and a dot, or nothing)."""
    p = sql.placeholder
    params: dict[str, Any] = {"since": f.since}
    clauses = [f"{table}created_at >= {p('since', style)}"]
    if f.route:
        clauses.append(f"{table}route = {p('route', style)}")
        params["route"] = f.route
    if f.key:
        clauses.append(f"{table}key_name = {p('key', style)}")
        params["key"] = f.key
    return " WHERE " + " AND ".join(clauses), params


def _from(log: SqlSink, f: Filters, *, keys: bool = False, labels: bool = False) -> tuple[str, dict[str, Any]]:
    """FROM + WHERE for the (route) filter over a roll-up: `key_rollup` when asked for (`keys`), else
    `request_rollup` (which has the histograms). Views filtered by key read the key's requests (`_key_where`)."""
    p = sql.placeholder
    params: dict[str, Any] = {"hour": int(f.since // HOUR_S)}
    clauses = [f"hour >= {p('hour', log.style)}"]
    if f.route:
        clauses.append(f"route = {p('route', log.style)}")
        params["route"] = f.route
    if labels:
        if f.key:
            clauses.append(f"key_name = {p('key', log.style)}")
            params["key"] = f.key
        return f"label_rollup WHERE {' AND '.join(clauses)}", params
    return f"{'key_rollup' if keys else 'request_rollup'} WHERE {' AND '.join(clauses)}", params


def _usd(nanos: Any) -> float:
    return float(int(nanos or 0) * NANO)


def _hist(row: dict[str, Any], n: int, ttft_n: int) -> dict[str, float | None]:
    lat = [int(row[c] or 0) for c in LAT]
    ttft = [int(row[c] or 0) for c in TTFT]
    return {"p50_ms": percentile_ms(lat, n, 0.5), "p95_ms": percentile_ms(lat, n, 0.95),
            "ttft_p50_ms": percentile_ms(ttft, ttft_n, 0.5), "ttft_p95_ms": percentile_ms(ttft, ttft_n, 0.95)}


def _key_where(log: SqlSink, f: Filters, route: str | None = None) -> tuple[str, dict[str, Any]]:
    """The WHERE clause over one key's requests (the window aligned to the hour, as the roll-ups are)."""
    return _requests_where(Filters(since=f.since - f.since % HOUR_S, route=route or f.route, key=f.key), log.style)


def _nearest(log: SqlSink, f: Filters, column: str, n: int, q: float, route: str | None = None) -> float | None:
    """The q-quantile (nearest rank) of `column` over one key's requests: sorted in SQL over the covering
    (key_name, created_at, ...) index. Call with the lock held."""
    if n <= 0:
        return None
    where, params = _key_where(log, f, route)
    row = log._fetch(f"SELECT {column} AS v FROM requests{where} AND {column} IS NOT NULL ORDER BY {column} "
                     f"LIMIT 1 OFFSET {max(0, min(n - 1, round(q * (n - 1))))}", params)
    return float(row[0]["v"]) if row else None


def _exact(log: SqlSink, f: Filters, n: int, ttft_n: int, route: str | None = None) -> dict[str, float | None]:
    return {"p50_ms": _nearest(log, f, "latency_ms", n, 0.5, route),
            "p95_ms": _nearest(log, f, "latency_ms", n, 0.95, route),
            "ttft_p50_ms": _nearest(log, f, "ttft_ms", ttft_n, 0.5, route),
            "ttft_p95_ms": _nearest(log, f, "ttft_ms", ttft_n, 0.95, route)}


_KEY_SUMS = ("COUNT(*) AS n, SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END) AS errors, SUM(escalated) AS esc, "
             "SUM(fell_back) AS fb, SUM(cost_nano_usd) AS cost, COUNT(ttft_ms) AS ttft_n")


def overview(log: SqlSink, f: Filters, *, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    per = 1 if now - f.since <= 2 * 86_400 else 24  # hours per point: hourly up to two days, else daily
    if f.key:
        return _key_overview(log, f, per)
    src, params = _from(log, f)
    ksrc, kparams = _from(log, f, keys=True)
    kbucket = f"hour / {per}"
    if per == 24:  # daily points: the daily key roll-up, a 24th of the rows
        ksrc, kbucket = ksrc.replace("key_rollup WHERE hour >=", "key_day_rollup WHERE day >=", 1), "day"
        kparams = {**kparams, "hour": int(f.since // 86_400)}
    hists = ", " + ", ".join(f"SUM({c}) AS {c}" for c in (*LAT, *TTFT))
    with log._lock:
        total = log._fetch(f"SELECT SUM(requests) AS n, SUM(errors) AS errors, SUM(escalated) AS escalated, "
                           f"SUM(fell_back) AS fell_back, SUM(cost_nano) AS cost, SUM(ttft_count) AS ttft_n"
                           f"{hists} FROM {src}", params)[0]
        tiers = log._fetch(f"SELECT hour / {per} AS b, tier, SUM(cost_nano) AS cost, SUM(requests) AS n "
                           f"FROM {src} GROUP BY hour / {per}, tier ORDER BY b", params)
        keys = log._fetch(f"SELECT {kbucket} AS b, key_name, SUM(cost_nano) AS cost FROM {ksrc} "
                          f"GROUP BY {kbucket}, key_name ORDER BY b", kparams)
    n = int(total["n"] or 0)
    pct = _hist(total, n, int(total["ttft_n"] or 0))
    key_totals: defaultdict[str, int] = defaultdict(int)
    for r in keys:
        key_totals[r["key_name"]] += int(r["cost"] or 0)
    top = sorted(key_totals, key=lambda k: -key_totals[k])[:TOP_KEYS]
    by_key: defaultdict[tuple[int, str], int] = defaultdict(int)
    for r in keys:
        name = r["key_name"] if r["key_name"] in top else "(other keys)"
        by_key[(int(r["b"]), name or "(no key)")] += int(r["cost"] or 0)
    return {
        "since": f.since, "bucket_s": per * HOUR_S,
        "requests": n, "cost_usd": _usd(total["cost"]),
        "error_rate": int(total["errors"] or 0) / n if n else 0.0,
        "escalation_rate": int(total["escalated"] or 0) / n if n else 0.0,
        "fallback_rate": int(total["fell_back"] or 0) / n if n else 0.0,
        **pct,
        "spend_by_tier": [{"t": int(r["b"]) * per * HOUR_S, "tier": r["tier"] or "none", "usd": _usd(r["cost"]),
                           "requests": int(r["n"] or 0)} for r in tiers],
        "spend_by_key": [{"t": b * per * HOUR_S, "key": k, "usd": _usd(c)} for (b, k), c in sorted(by_key.items())],
    }


def _key_overview(log: SqlSink, f: Filters, per: int) -> dict[str, Any]:
    where, params = _key_where(log, f)
    dialect = str(getattr(log, "dialect", "sqlite"))
    span = per * HOUR_S
    bucket = (f"CAST(FLOOR(created_at / {span}) AS BIGINT)" if dialect == "postgres"
              else f"CAST(created_at / {span} AS INTEGER)")
    with log._lock:
        c = log._fetch(f"SELECT {_KEY_SUMS} FROM requests{where}", params)[0]
        tiers = log._fetch(f"SELECT {bucket} AS b, tier, SUM(cost_nano_usd) AS cost, COUNT(*) AS n "
                           f"FROM requests{where} GROUP BY {bucket}, tier ORDER BY b", params)
        n, ttft_n = int(c["n"] or 0), int(c["ttft_n"] or 0)
        pct = _exact(log, f, n, ttft_n)
    spend: defaultdict[int, int] = defaultdict(int)
    for r in tiers:
        spend[int(r["b"])] += int(r["cost"] or 0)
    return {
        "since": f.since, "bucket_s": span, "requests": n, "cost_usd": _usd(c["cost"]),
        "error_rate": int(c["errors"] or 0) / n if n else 0.0, "escalation_rate": int(c["esc"] or 0) / n if n else 0.0,
        "fallback_rate": int(c["fb"] or 0) / n if n else 0.0, **pct,
        "spend_by_tier": [{"t": int(r["b"]) * span, "tier": r["tier"] or "none", "usd": _usd(r["cost"]),
                           "requests": int(r["n"] or 0)} for r in tiers],
        "spend_by_key": [{"t": b * span, "key": f.key, "usd": _usd(v)} for b, v in sorted(spend.items())],
    }


def routes(log: SqlSink, f: Filters, *, routers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    src, params = _from(log, f)
    hists = ", " + ", ".join(f"SUM({c}) AS {c}" for c in (*LAT, *TTFT))
    with log._lock:
        if f.key:
            kwhere, kparams = _key_where(log, f)
            rows = log._fetch(f"SELECT route, tier, {_KEY_SUMS} FROM requests{kwhere} GROUP BY route, tier", kparams)
        else:
            rows = log._fetch(f"SELECT route, tier, SUM(requests) AS n, SUM(errors) AS errors, SUM(escalated) AS esc, "
                              f"SUM(fell_back) AS fb, SUM(cost_nano) AS cost, SUM(ttft_count) AS ttft_n{hists} "
                              f"FROM {src} GROUP BY route, tier", params)
        lwhere, lparams = _from(log, f, labels=True)
        labels = log._fetch(f"SELECT route, COUNT(*) AS n, AVG(score) AS mean FROM {lwhere} GROUP BY route", lparams)
        policies = {}
        pcts: dict[str, dict[str, float | None]] = {}
        grouped: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            grouped[r["route"]].append(r)
        for name, parts in grouped.items():
            latest = log._fetch(f"SELECT policy FROM requests WHERE route = {sql.placeholder('r', log.style)} "
                                "ORDER BY created_at DESC LIMIT 1", {"r": name})
            policies[name] = latest[0]["policy"] if latest else ""
            if f.key:
                pcts[name] = _exact(log, f, sum(int(p["n"] or 0) for p in parts),
                                    sum(int(p["ttft_n"] or 0) for p in parts), route=name)
            else:
                summed = {c: sum(int(p[c] or 0) for p in parts) for c in ("n", "ttft_n", *LAT, *TTFT)}
                pcts[name] = _hist(summed, summed["n"], summed["ttft_n"])
    quality = {r["route"]: (int(r["n"]), float(r["mean"])) for r in labels}
    out = []
    for name, parts in sorted(grouped.items()):
        n = sum(int(p["n"] or 0) for p in parts)
        labelled, mean = quality.get(name, (0, None))
        out.append({
            "route": name, "requests": n, "cost_usd": _usd(sum(int(p["cost"] or 0) for p in parts)),
            "tier_mix": {p["tier"] or "none": int(p["n"] or 0) / n for p in parts} if n else {},
            "escalation_rate": sum(int(p["esc"] or 0) for p in parts) / n if n else 0.0,
            "fallback_rate": sum(int(p["fb"] or 0) for p in parts) / n if n else 0.0,
            "error_rate": sum(int(p["errors"] or 0) for p in parts) / n if n else 0.0,
            **pcts[name], "quality": mean, "labelled": labelled, "policy": policies.get(name, ""),
            "router": (routers or {}).get(name, ""),
        })
    return out


def month_start(now: float) -> float:
    d = datetime.fromtimestamp(now, UTC)
    return datetime(d.year, d.month, 1, tzinfo=UTC).timestamp()


def spend_by_key(log: SqlSink, *, now: float | None = None) -> dict[str, dict[str, float]]:
    """Today's and this month's spend (UTC) per key name and per team (`team:<name>`), from the roll-up."""
    now = time.time() if now is None else now
    p = sql.placeholder
    out: dict[str, dict[str, float]] = {}
    with log._lock:
        rows = log._fetch(f"SELECT key_name, team, SUM(cost_nano) AS month, "
                          f"SUM(CASE WHEN day >= {p('day', log.style)} THEN cost_nano ELSE 0 END) AS day "
                          f"FROM key_day_rollup WHERE day >= {p('month', log.style)} GROUP BY key_name, team",
                          {"day": int(now // 86_400), "month": int(month_start(now) // 86_400)})
    for r in rows:
        for who in (r["key_name"], f"team:{r['team']}" if r["team"] else None):
            if who:
                slot = out.setdefault(who, {"day": 0.0, "month": 0.0})
                slot["day"] += _usd(r["day"])
                slot["month"] += _usd(r["month"])
    return out


def recent(log: SqlSink, f: Filters, *, limit: int = RECENT) -> list[dict[str, Any]]:
    where, params = _requests_where(f, log.style)
    with log._lock:
        rows = log._fetch(
            "SELECT trace_id, created_at, route, policy, model, tier, outcome, decision_reason, decision_tier, "
            "cost_usd, latency_ms, escalated, fell_back, degraded, key_name, team, quality "
            f"FROM requests{where} ORDER BY created_at DESC LIMIT {int(limit)}", params)
        attempts: list[dict[str, Any]] = []
        if rows:
            ids = {f"t{i}": r["trace_id"] for i, r in enumerate(rows)}
            marks = ", ".join(sql.placeholder(k, log.style) for k in ids)
            attempts = log._fetch(f"SELECT trace_id, idx, model, tier, purpose, outcome, kind, reason, latency_ms, "
                                  f"ttft_ms, cost_usd, input_tokens, output_tokens FROM attempts "
                                  f"WHERE trace_id IN ({marks}) ORDER BY trace_id, idx", ids)
    trail: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in attempts:
        trail[a["trace_id"]].append({k: a[k] for k in a if k != "trace_id"})
    return [{**r, "escalated": bool(r["escalated"]), "fell_back": bool(r["fell_back"]),
             "degraded": bool(r["degraded"]), "attempts": trail[r["trace_id"]]} for r in rows]
