"""The request log's spool and batch writer: durable lines, replay after a crash, batches, real errors."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tiered.records import Record
from tiered.telemetry.rows import ATTEMPT_COLUMNS, REQUEST_COLUMNS, attempt_rows, request_row
from tiered.telemetry.spool import Spool
from tiered.telemetry.spooled import SpooledLog, decode, encode
from tiered.telemetry.sqlite import SqliteSink

MB = 1024 * 1024
MakeRecord = Callable[..., Record]


def test_spool_lines_are_the_records_rows_in_column_order(make_record: MakeRecord) -> None:
    record = make_record()
    assert list(request_row(record)) == list(REQUEST_COLUMNS)
    assert all(list(a) == list(ATTEMPT_COLUMNS) for a in attempt_rows(record))
    values, attempts = decode(encode(record))
    assert dict(zip(REQUEST_COLUMNS, values, strict=True)) == request_row(record)
    assert [dict(zip(ATTEMPT_COLUMNS, a, strict=True)) for a in attempts] == attempt_rows(record)


def test_records_are_stored_in_batches_and_the_spool_empties(tmp_path: Path, make_record: MakeRecord) -> None:
    records = [make_record() for _ in range(500)]
    spool = Spool(tmp_path / "spool", max_bytes=64 * MB)
    for r in records:
        assert spool.append(encode(r))
    log = SpooledLog(SqliteSink(tmp_path / "r.db"), spool)
    assert log.flush(30)
    assert log.written == 500 and spool.pending_bytes == 0
    log.close()
    with SqliteSink(tmp_path / "r.db") as db:
        assert db.records() == records  # exact, attempts and costs included
    assert [p.stat().st_size for p in (tmp_path / "spool").iterdir()] == []  # nothing left to replay


def test_a_dead_process_spool_is_replayed_once_by_the_next_start(tmp_path: Path, make_record: MakeRecord) -> None:
    records = [make_record() for _ in range(50)]
    first = Spool(tmp_path / "spool", max_bytes=64 * MB)
    for r in records:
        first.append(encode(r))
    # A live process's segment is locked: a second spool on the folder leaves it alone.
    assert Spool(tmp_path / "spool", max_bytes=MB).adopted == 0
    with SqliteSink(tmp_path / "r.db") as db:  # half of them were stored before the "crash"
        db.write_batch([decode(encode(r)) for r in records[:25]])
    first.close()  # the process is gone; its lines stay on disk, unlocked (as after SIGKILL)
    second = Spool(tmp_path / "spool", max_bytes=64 * MB)
    assert second.adopted == 1 and second.pending_bytes > 0
    log = SpooledLog(SqliteSink(tmp_path / "r.db"), second)
    assert log.flush(30)
    log.close()
    with SqliteSink(tmp_path / "r.db") as db:
        assert sorted(r.trace_id for r in db.records()) == sorted(r.trace_id for r in records)  # none twice


def test_a_line_cut_short_by_a_crash_is_skipped_and_the_rest_stored(tmp_path: Path, make_record: MakeRecord) -> None:
    records = [make_record() for _ in range(3)]
    folder = tmp_path / "spool"
    folder.mkdir()
    (folder / "1-1-1.spool").write_bytes(b"".join(encode(r) for r in records) + encode(make_record())[:40])
    log = SpooledLog(SqliteSink(tmp_path / "r.db"), Spool(folder, max_bytes=MB))
    assert log.flush(30)
    assert log.written == 3 and log.skipped == 1
    log.close()


def test_a_full_spool_refuses_a_line_unless_forced(tmp_path: Path, make_record: MakeRecord) -> None:
    line = encode(make_record())
    spool = Spool(tmp_path / "spool", max_bytes=2 * len(line))
    assert spool.append(line) and spool.append(line)
    assert spool.full and not spool.append(line)
    assert spool.append(line, force=True) and spool.pending_bytes == 3 * len(line)
    spool.close()


def test_sqlite_errors_keep_their_real_cause(tmp_path: Path, make_record: MakeRecord,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """SQLite rolls a transaction back by itself on some errors (disk I/O, a RAISE(ROLLBACK) here); the
    sink's own ROLLBACK then failed with "cannot rollback - no transaction is active", hiding the cause."""
    sink = SqliteSink(tmp_path / "r.db")
    sink.execute("CREATE TRIGGER fail BEFORE INSERT ON requests "
                 "BEGIN SELECT RAISE(ROLLBACK, 'disk I/O error (simulated)'); END")
    with pytest.raises(sqlite3.DatabaseError, match="disk I/O error"):
        sink.emit(make_record())
    with pytest.raises(sqlite3.DatabaseError, match="disk I/O error"):
        sink.write_batch([decode(encode(make_record()))])
    spool = Spool(tmp_path / "spool", max_bytes=MB)
    spool.append(encode(make_record()))
    with caplog.at_level(logging.ERROR, logger="tiered.telemetry"):
        log = SpooledLog(sink, spool)
        log.flush(10)
        log.close()
    assert "disk I/O error (simulated)" in caplog.text and "cannot rollback" not in caplog.text
    assert log.written == 0 and log.skipped == 1  # refused for what it holds: logged, skipped, not retried forever


def test_a_removed_log_folder_is_recreated_and_nothing_is_lost(tmp_path: Path, make_record: MakeRecord,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "logs"
    log = SpooledLog(SqliteSink(folder / "r.db"), Spool(folder / "r.db.spool", max_bytes=MB))
    before, after = [make_record() for _ in range(3)], [make_record() for _ in range(3)]
    for r in before:
        log.append(encode(r))
    assert log.flush(10)
    shutil.rmtree(folder)  # an operator cleans up; SQLite would go on writing into the unlinked file
    with caplog.at_level(logging.WARNING, logger="tiered.telemetry"):
        for r in after:
            log.append(encode(r))
        assert log.flush(10)
    assert "was removed while in use; recreating it" in caplog.text
    assert (folder / "r.db.spool").is_dir()  # new lines are on disk again
    log.close()
    with SqliteSink(folder / "r.db") as db:
        assert [r.trace_id for r in db.records()] == [r.trace_id for r in after]


@pytest.mark.postgres
def test_postgres_batches_are_idempotent_by_trace_id(postgres_dsn: str, postgres_schema: str,
                                                     make_record: MakeRecord) -> None:
    from tiered.telemetry.postgres import PostgresSink

    records = [make_record() for _ in range(6)]
    rows = [decode(encode(r)) for r in records]
    with PostgresSink(postgres_dsn, schema=postgres_schema) as db:
        db.write_batch(rows[:4])  # stored before a crash
        db.write_batch(rows[2:])  # the replayed spool overlaps: the plain COPY fails, the staged one skips
        db.write_batch(rows)
        assert db.records() == records  # each once, exact


def test_postgres_down_at_start_is_one_line_without_the_password() -> None:
    pytest.importorskip("psycopg")
    import socket

    from tiered.telemetry.postgres import PostgresSink
    from tiered.telemetry.sql_sink import LogUnavailable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LogUnavailable) as caught:
        PostgresSink(f"host=127.0.0.1 port={port} dbname=test user=tiered password=s3cret connect_timeout=1")
    message = str(caught.value)
    assert "\n" not in message and "s3cret" not in message
    assert message.startswith(f"request log: cannot connect to PostgreSQL (host=127.0.0.1 port={port} dbname=test")
