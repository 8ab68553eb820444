"""The PostgreSQL sink against the real server: same migrations, exact round trip, quality labels.

Each test gets its own schema (dropped afterwards), so runs never see each other's rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.pricing import format_usd
from tiered.records import Record
from tiered.telemetry import PostgresSink, UnknownTrace, migrations

MakeRecord = Callable[..., Record]

pytestmark = pytest.mark.postgres


def test_migrations_apply_once(postgres_dsn: str, postgres_schema: str) -> None:
    names = [m.__name__ for m in migrations.MIGRATIONS]
    with PostgresSink(postgres_dsn, schema=postgres_schema) as sink:
        assert sink.applied_migrations() == names
    with PostgresSink(postgres_dsn, schema=postgres_schema) as sink:
        assert sink.migrate() == []
        assert sink.applied_migrations() == names


def test_a_record_round_trips_exactly(postgres_dsn: str, postgres_schema: str, make_record: MakeRecord) -> None:
    record = make_record(cost_usd=Decimal("0.000000123456789"))
    failed = make_record(tier=None, model=None, outcome="overloaded_error", route="other")
    with PostgresSink(postgres_dsn, schema=postgres_schema) as sink:
        sink.emit(record)
        sink.emit(failed)
    with PostgresSink(postgres_dsn, schema=postgres_schema) as sink:
        assert sink.get(record.trace_id) == record
        assert sink.records() == [record, failed]
        assert sink.records("other") == [failed]
        row = sink._db.execute("SELECT cost_usd, cost_nano_usd FROM requests WHERE trace_id = %s",
                               (record.trace_id,)).fetchone()
    assert row == {"cost_usd": "0.000000123456789", "cost_nano_usd": 123}


def test_quality_latest_wins(postgres_dsn: str, postgres_schema: str, make_record: MakeRecord) -> None:
    record = make_record()
    with PostgresSink(postgres_dsn, schema=postgres_schema) as sink:
        sink.emit(record)
        sink.record_quality(record.trace_id, 0.2, source="judge")
        sink.record_quality(record.trace_id, 0.9, source="human")
        back = sink.get(record.trace_id)
        assert back is not None and back.quality == 0.9
        with pytest.raises(UnknownTrace):
            sink.record_quality("missing", 1.0)


def test_schema_names_are_checked(postgres_dsn: str) -> None:
    from tiered.errors import ConfigError

    with pytest.raises(ConfigError, match="schema"):
        PostgresSink(postgres_dsn, schema="x; DROP TABLE y")


def test_a_config_routes_into_postgres(postgres_dsn: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    import asyncio

    from tiered.config import parse_config_text
    from tiered.routes import Routes
    from tiered.types import Request

    monkeypatch.setenv("TIERED_TEST_PG_DSN", postgres_dsn)
    tables = f"""
[telemetry]
sinks = ["postgres"]
postgres = {{ dsn = "env:TIERED_TEST_PG_DSN", schema = "{postgres_schema}" }}
[routes.default]
policy = "direct"
target = "haiku"
"""
    config = parse_config_text('[backend]\nkind = "replay"\n' + tables)
    assert config.telemetry.postgres_dsn_env == "TIERED_TEST_PG_DSN" and config.telemetry.postgres_dsn is None

    async def once() -> Record:
        routes = Routes(config)
        try:
            return (await routes.run(Request.user("hello"))).record
        finally:
            await routes.aclose()

    record = asyncio.run(once())
    with PostgresSink(postgres_dsn, schema=postgres_schema) as sink:
        assert sink.records() == [record]

    path = tmp_path / "tiered.toml"
    path.write_text(tables)  # the same log, named by a file the stats command reads
    result = CliRunner().invoke(main, ["stats", "--json", "--config", str(path)])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["route"] == "default" and row["requests"] == 1 and row["cost_usd_exact"] == format_usd(record.cost_usd)
