"""Spend per key, team, route, tier, model and day: SQL sums over the log (SQLite and PostgreSQL), the CLI
and `GET /v1/tiered/stats` behind an admin key."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.errors import ConfigError
from tiered.records import Attempt, Decision, Record
from tiered.telemetry.spend import parse_since, spend_by
from tiered.telemetry.sql_sink import SqlSink
from tiered.telemetry.sqlite import SqliteSink

DAY = 86_400.0
NOW = 1_764_460_800.0  # 2025-11-30 00:00:00 UTC


def rec(i: int, *, key: str | None, team: str | None, route: str = "default", tier: str = "haiku",
        cost: str = "0.001", at: float = NOW, outcome: str = "ok", escalated: bool = False) -> Record:
    attempt = Attempt(model=f"claude-{tier}", tier=tier, purpose="answer", outcome=outcome, input_tokens=10,
                      output_tokens=5, cost_usd=Decimal(cost), latency_ms=100.0)
    return Record(trace_id=f"t{i}", route=route, policy="fallback", decision=Decision("fallback", tier, "first"),
                  attempts=(attempt,), cost_usd=Decimal(cost), latency_ms=100.0 + i, degraded=False, created_at=at,
                  model=f"claude-{tier}", tier=tier, outcome=outcome, escalated=escalated, key_name=key, team=team)


RECORDS = [
    rec(0, key="alice", team="search", cost="0.001"),
    rec(1, key="alice", team="search", cost="0.002", tier="sonnet", escalated=True),
    rec(2, key="bob", team="search", cost="0.0000001", route="code", at=NOW - DAY),
    rec(3, key="carol", team=None, cost="0.5", tier="opus", at=NOW - 10 * DAY, outcome="overloaded_error"),
    rec(4, key=None, team=None, cost="0"),
]


def fill(log: SqlSink) -> None:
    for r in RECORDS:
        log.emit(r)  # type: ignore[attr-defined]


def check(log: SqlSink) -> None:
    by_key = {r.group: r for r in spend_by(log, "key")}
    assert by_key["alice"].requests == 2 and by_key["alice"].cost_usd == Decimal("0.003")
    assert by_key["bob"].cost_usd == Decimal("0.0000001")  # exact: summed in nano-dollars
    assert by_key["(none)"].requests == 1
    assert by_key["alice"].escalated == 1 and by_key["carol"].errors == 1
    assert spend_by(log, "key")[0].group == "carol"  # dearest first
    assert {r.group: r.requests for r in spend_by(log, "team")} == {"search": 3, "(none)": 2}
    assert {r.group: r.requests for r in spend_by(log, "route")} == {"default": 4, "code": 1}
    assert {r.group for r in spend_by(log, "tier")} == {"haiku", "sonnet", "opus"}
    assert {r.group for r in spend_by(log, "model")} == {"claude-haiku", "claude-sonnet", "claude-opus"}
    days = spend_by(log, "day")
    assert [(d.group, d.requests) for d in days] == [("2025-11-20", 1), ("2025-11-29", 1), ("2025-11-30", 3)]
    recent = {r.group: r.requests for r in spend_by(log, "key", since=NOW - 2 * DAY)}
    assert recent == {"alice": 2, "bob": 1, "(none)": 1}


def test_spend_by_every_group_in_sqlite(tmp_path: Path) -> None:
    with SqliteSink(tmp_path / "r.db") as log:
        fill(log)
        check(log)
        with pytest.raises(ConfigError, match="by: one of"):
            spend_by(log, "colour")


@pytest.mark.postgres
def test_spend_by_every_group_in_postgres(postgres_dsn: str, postgres_schema: str) -> None:
    from tiered.telemetry.postgres import PostgresSink

    with PostgresSink(postgres_dsn, schema=postgres_schema) as log:
        fill(log)
        check(log)


def test_since_parses_spans_and_dates() -> None:
    assert parse_since("7d", now=NOW) == NOW - 7 * DAY
    assert parse_since("36h", now=NOW) == NOW - 36 * 3600
    assert parse_since("2025-11-29") == NOW - DAY
    assert parse_since(None) is None
    with pytest.raises(ConfigError, match="span like 7d"):
        parse_since("last tuesday")


def test_stats_by_cli(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with SqliteSink(db) as log:
        fill(log)
    runner = CliRunner()
    out = runner.invoke(main, ["stats", "--by", "key", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["group"]: r for r in json.loads(out.output)["rows"]}
    assert rows["alice"]["cost_usd_exact"] == "0.003" and rows["alice"]["escalation_rate"] == 0.5
    table = runner.invoke(main, ["stats", "--by", "team", "--db", str(db)])
    assert table.exit_code == 0 and "search" in table.output and "total" in table.output
    # --since counts back from now: the fixture's records are from 2025
    none = runner.invoke(main, ["stats", "--by", "day", "--db", str(db), "--since", "1h", "--json"])
    assert json.loads(none.output)["rows"] == []
    bad = runner.invoke(main, ["stats", "--by", "key", "--db", str(db), "--since", "soon"])
    assert bad.exit_code != 0 and "span like 7d" in bad.output
