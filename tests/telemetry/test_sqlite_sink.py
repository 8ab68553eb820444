"""The SQLite sink: exact round trips, integer nano-dollars beside the exact text, quality labels."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tiered.records import Record
from tiered.telemetry import SqliteSink, UnknownTrace, default_db_path, record_quality

MakeRecord = Callable[..., Record]


def test_a_record_round_trips_exactly(tmp_path: Path, make_record: MakeRecord) -> None:
    record = make_record(cost_usd=Decimal("0.000000123456789"), quality=None)
    with SqliteSink(tmp_path / "r.db") as sink:
        sink.emit(record)
    with SqliteSink(tmp_path / "r.db") as sink:  # a fresh connection reads what the first one wrote
        back = sink.get(record.trace_id)
    assert back == record
    assert back is not None and isinstance(back.cost_usd, Decimal)
    assert back.attempts[1].cost_usd == Decimal("0.00482175")


def test_failed_request_without_tier_round_trips(tmp_path: Path, make_record: MakeRecord) -> None:
    from tiered.records import Attempt, Decision

    record = make_record(model=None, tier=None, outcome="overloaded_error", cost_usd=Decimal(0),
                         decision=Decision("Direct('haiku')", None, "failed", {}),
                         attempts=(Attempt("claude-haiku-4-5", None, "answer", "overloaded_error", status=None),))
    with SqliteSink(tmp_path / "r.db") as sink:
        sink.emit(record)
        assert sink.records() == [record]


def test_cost_is_stored_as_exact_text_and_integer_nano_dollars(tmp_path: Path, make_record: MakeRecord) -> None:
    with SqliteSink(tmp_path / "r.db") as sink:
        sink.emit(make_record(cost_usd=Decimal("0.00482175")))
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("SELECT cost_usd, cost_nano_usd FROM requests").fetchone() == ("0.00482175", 4_821_750)
    assert db.execute("SELECT typeof(cost_nano_usd) FROM requests").fetchone() == ("integer",)
    assert db.execute("SELECT SUM(cost_nano_usd) FROM attempts").fetchone() == (4_821_750,)


def test_records_are_oldest_first_and_filter_by_route(tmp_path: Path, make_record: MakeRecord) -> None:
    a = make_record(route="code", created_at=30.0)
    b = make_record(route="chat", created_at=10.0)
    c = make_record(route="code", created_at=20.0)
    with SqliteSink(tmp_path / "r.db") as sink:
        for r in (a, b, c):
            sink.emit(r)
        assert [r.trace_id for r in sink.records()] == [b.trace_id, c.trace_id, a.trace_id]
        assert [r.trace_id for r in sink.records("code")] == [c.trace_id, a.trace_id]
        assert sink.get("nope") is None


def test_a_trace_id_is_written_once(tmp_path: Path, make_record: MakeRecord) -> None:
    record = make_record()
    with SqliteSink(tmp_path / "r.db") as sink:
        sink.emit(record)
        with pytest.raises(sqlite3.IntegrityError):
            sink.emit(record)
        assert sink.records() == [record]  # the failed write left nothing half-done


def test_quality_labels_append_and_the_latest_wins(tmp_path: Path, make_record: MakeRecord) -> None:
    record = make_record()
    ticks = itertools.count(1.0)
    with SqliteSink(tmp_path / "r.db", clock=lambda: next(ticks)) as sink:
        sink.emit(record)
        sink.record_quality(record.trace_id, 0.25, source="judge")
        sink.record_quality(record.trace_id, 1.0, source="human")
        back = sink.get(record.trace_id)
        assert back is not None and back.quality == 1.0
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("SELECT score, source FROM quality ORDER BY id").fetchall() == [(0.25, "judge"), (1.0, "human")]
    assert db.execute("SELECT quality FROM requests").fetchone() == (None,)  # the request row is not rewritten


def test_quality_for_an_unknown_trace_or_out_of_range_is_refused(tmp_path: Path, make_record: MakeRecord) -> None:
    with SqliteSink(tmp_path / "r.db") as sink:
        sink.emit(record := make_record())
        with pytest.raises(UnknownTrace, match="nope"):
            sink.record_quality("nope", 0.5)
        for bad in (1.5, -0.1, float("nan")):
            with pytest.raises(ValueError, match=r"\[0, 1\]"):
                sink.record_quality(record.trace_id, bad)


def test_top_level_record_quality_uses_tiered_db(tmp_path: Path, make_record: MakeRecord,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import tiered

    monkeypatch.setenv("TIERED_DB", str(tmp_path / "env.db"))
    record: Record = make_record()
    with SqliteSink() as sink:
        assert sink.path == tmp_path / "env.db"
        sink.emit(record)
    tiered.record_quality(record.trace_id, 0.75)
    record_quality(record.trace_id, 0.5, db=tmp_path / "env.db")
    with SqliteSink(tmp_path / "env.db") as sink:
        assert [r.quality for r in sink.records()] == [0.5]
        record_quality(record.trace_id, 0.0, db=sink)  # a sink object works too
        assert [r.quality for r in sink.records()] == [0.0]


def test_default_path_per_platform(tmp_path: Path) -> None:
    home = Path("/home/u")
    assert default_db_path({}, "linux", home) == home / ".local/share/tiered/requests.db"
    assert default_db_path({"XDG_DATA_HOME": "/x"}, "linux", home) == Path("/x/tiered/requests.db")
    assert default_db_path({}, "darwin", home) == home / "Library/Application Support/tiered/requests.db"
    assert default_db_path({"LOCALAPPDATA": "C:/L"}, "win32", home) == Path("C:/L/tiered/requests.db")
    assert default_db_path({"TIERED_DB": str(tmp_path / "t.db")}, "linux", home) == tmp_path / "t.db"


def test_opening_creates_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "requests.db"
    with SqliteSink(path):
        pass
    assert path.exists()



class _OldSchema:
    """A MigrationTarget over a plain connection, to build a log as m001-m003 left it."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str) -> None:
        self.conn.execute(statement)


def test_a_log_written_before_m004_gains_attempt_kinds(tmp_path: Path, make_record: MakeRecord) -> None:
    from tiered.telemetry.migrations import CREATE_MIGRATIONS_TABLE, MIGRATIONS

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute(CREATE_MIGRATIONS_TABLE)
        for m in MIGRATIONS[:3]:
            m(_OldSchema(conn))
            conn.execute("INSERT INTO _migrations VALUES (?, 0)", (m.__name__,))
        conn.execute("INSERT INTO attempts (trace_id, idx, model, tier, purpose, outcome, input_tokens, "
                     "output_tokens, cache_read_input_tokens, cache_creation_input_tokens, cost_usd, cost_nano_usd, "
                     "latency_ms, ttft_ms, status, reason) VALUES ('old', 0, 'm', 'haiku', 'answer', 'ok', 1, 1, 0, 0, "
                     "'0', 0, 1.0, NULL, 200, 'first')")
    record = make_record()
    with SqliteSink(db) as sink:
        assert sink.migrate() == []  # m004 already ran when the sink opened
        sink.emit(record)
        assert [a.kind for a in sink.get(record.trace_id).attempts] == ["first", "fallback"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT kind FROM attempts WHERE trace_id = 'old'").fetchone() == ("first",)
