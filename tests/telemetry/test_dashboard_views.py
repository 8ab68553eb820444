"""The dashboard's views over the hourly roll-ups: the same figures as the log itself (counts, exact costs), p50/p95
within a bucket, incremental refresh, filters; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tiered.records import Attempt, Decision, Record
from tiered.telemetry import dashboard
from tiered.telemetry.rollup import BOUNDS_MS, percentile_ms, refresh
from tiered.telemetry.spend import spend_by
from tiered.telemetry.sql_sink import SqlSink
from tiered.telemetry.sqlite import SqliteSink
from tiered.telemetry.stats import percentile

NOW = 1_764_500_000.0
HOUR = 3600.0


def rec(i: int, at: float, *, key: str, route: str, tier: str, ms: float, ttft: float | None = None,
        ok: bool = True) -> Record:
    a = Attempt(model=f"claude-{tier}", tier=tier, purpose="answer", outcome="ok" if ok else "overloaded_error",
                cost_usd=Decimal("0.000123"), latency_ms=ms, ttft_ms=ttft, reason="first")
    return Record(trace_id=f"t{i}", route=route, policy="fallback", decision=Decision("fallback", tier, f"why {i}"),
                  attempts=(a,), cost_usd=Decimal("0.000123"), latency_ms=ms, degraded=False, created_at=at,
                  model=f"claude-{tier}" if ok else None, tier=tier if ok else None,
                  outcome="ok" if ok else "overloaded_error",
                  escalated=i % 5 == 0, key_name=key, team="t-" + key[0])


def records() -> list[Record]:
    out = []
    for i in range(200):
        at = NOW - (i % 48) * HOUR - 60 if i < 150 else NOW - 30 - i  # the last 50 arrive late, but within the hour
        out.append(rec(i, at, key=("alice", "bob", "carol")[i % 3], route=("default", "code")[i % 2],
                       tier=("haiku", "sonnet")[i % 4 // 2], ms=40.0 + 17 * i, ttft=10.0 + i if i % 3 == 0 else None,
                       ok=i % 17 != 0))
    return out


def check(log: SqlSink) -> None:
    recs = records()
    for r in recs[:150]:
        log.emit(r)  # type: ignore[attr-defined]
    refresh(log, now=NOW)
    for r in recs[150:]:  # arrive after the first build, within the last hours
        log.emit(r)  # type: ignore[attr-defined]
    assert refresh(log, now=NOW + 10) == int(NOW // HOUR) - 1  # only the last hour or two is recomputed
    f = dashboard.Filters(since=NOW - 3 * 86_400)
    o = dashboard.overview(log, f, now=NOW)
    assert o["requests"] == 200 and o["bucket_s"] == 86_400
    assert Decimal(str(o["cost_usd"])) == Decimal("0.000123") * 200
    assert o["error_rate"] == pytest.approx(sum(r.outcome != "ok" for r in recs) / 200)
    exact50 = percentile([r.latency_ms for r in recs], 0.5)
    bucket = next(b for b in BOUNDS_MS if b >= exact50)
    assert abs(o["p50_ms"] - exact50) <= bucket * 0.5  # within the bucket
    assert o["ttft_p50_ms"] is not None
    assert {p["tier"] for p in o["spend_by_tier"]} == {"haiku", "sonnet", "none"}
    assert {p["key"] for p in o["spend_by_key"]} == {"alice", "bob", "carol"}
    by_key = {r.group: r.cost_usd for r in spend_by(log, "key")}
    assert sum(p["usd"] for p in o["spend_by_key"] if p["key"] == "alice") == pytest.approx(float(by_key["alice"]))
    rows = {r["route"]: r for r in dashboard.routes(log, f, routers={"default": "fallback"})}
    assert rows["default"]["requests"] == 100 and rows["default"]["router"] == "fallback"
    for route in ("default", "code"):
        mine = [r for r in recs if r.route == route]
        assert rows[route]["escalation_rate"] == pytest.approx(sum(r.escalated for r in mine) / len(mine))
    assert sum(rows["default"]["tier_mix"].values()) == pytest.approx(1.0)
    log.record_quality("t0", 0.5)  # type: ignore[attr-defined]
    refresh(log, now=NOW + 20)  # labels are folded in by the refresh before each view
    assert {r["route"]: r for r in dashboard.routes(log, f)}["default"]["quality"] == pytest.approx(0.5)
    log.record_quality("t0", 1.0)  # type: ignore[attr-defined]  # the latest label wins
    log.record_quality("t2", 0.0)  # type: ignore[attr-defined]
    refresh(log, now=NOW + 30)
    rows = {r["route"]: r for r in dashboard.routes(log, f)}
    assert rows["default"]["labelled"] == 2 and rows["default"]["quality"] == pytest.approx(0.5)
    # filtered by key: from key_rollup, percentiles exact from the key's requests
    fk = dashboard.Filters(since=NOW - 3 * 86_400, key="bob")
    ok = dashboard.overview(log, fk, now=NOW)
    bob = [r for r in recs if r.key_name == "bob"]
    assert ok["requests"] == len(bob) and {p["key"] for p in ok["spend_by_key"]} == {"bob"}
    assert ok["p50_ms"] in {r.latency_ms for r in bob}
    by_route = dashboard.routes(log, dashboard.Filters(since=NOW - 3 * 86_400, key="bob", route="code"))
    assert [r["route"] for r in by_route] == ["code"]
    assert by_route[0]["requests"] == sum(r.route == "code" for r in bob)
    recent = dashboard.recent(log, dashboard.Filters(since=NOW - 86_400, route="code"), limit=5)
    assert len(recent) == 5 and all(r["route"] == "code" for r in recent)
    assert recent[0]["created_at"] >= recent[-1]["created_at"] and recent[0]["attempts"][0]["reason"] == "first"
    spent = dashboard.spend_by_key(log, now=NOW)
    assert spent["alice"]["month"] == pytest.approx(float(by_key["alice"]))
    assert spent["team:t-a"]["month"] == spent["alice"]["month"]


def test_views_on_sqlite(tmp_path: Path) -> None:
    with SqliteSink(tmp_path / "r.db") as log:
        check(log)


@pytest.mark.postgres
def test_views_on_postgres(postgres_dsn: str, postgres_schema: str) -> None:
    from tiered.telemetry.postgres import PostgresSink

    with PostgresSink(postgres_dsn, schema=postgres_schema) as log:
        check(log)


def test_percentile_from_a_cumulative_histogram() -> None:
    cumulative = [0] * len(BOUNDS_MS)
    for i, b in enumerate(BOUNDS_MS):
        cumulative[i] = 10 if b >= 200 else 0  # ten observations between 100 and 200 ms
    assert percentile_ms(cumulative, 10, 0.5) == pytest.approx(150.0)
    assert percentile_ms(cumulative, 0, 0.5) is None
