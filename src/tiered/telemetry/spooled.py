"""A SQL sink fed from a durable spool by one thread, in batches: the request log of a busy gateway.

    log = SpooledLog(SqliteSink(path), Spool(folder, max_bytes=...))
    log.append(encode(record))     # on the request's path: one write(2), no database
    ...                            # a thread stores what the spool holds, one transaction per batch

The thread waits `linger_s` after a short batch so that, under load, records are stored a few hundred
at a time (one transaction, `executemany`) instead of one transaction each; a long backlog is read
`batch` lines at a time with no wait. When the database fails, the error is logged once, with its real
cause, and the lines stay in the spool: the thread reconnects by itself (backing off up to
`retry_max_s`) and stores them, and says so in one line when the database is back. A SQLite file
removed under a running gateway (its folder deleted) is noticed and recreated. Lines the database
rejects for what they hold (not for being unreachable) are stored one by one, and the ones that
still fail are logged and skipped, so one bad record never blocks the rest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from tiered.records import Record
from tiered.telemetry.rows import ATTEMPT_COLUMNS, CREATED_AT, REQUEST_COLUMNS, RecordRows, record_values
from tiered.telemetry.spool import Batch, Spool
from tiered.telemetry.sql_sink import first_line

log = logging.getLogger("tiered.telemetry")


class BatchSink(Protocol):
    """What a spooled sink needs: idempotent batch writes, and a way back after failures."""

    def write_batch(self, batch: list[RecordRows]) -> None: ...

    def transient(self, error: BaseException) -> bool: ...

    def moved(self) -> bool: ...

    def reconnect(self) -> None: ...

    def close(self) -> None: ...


def encode(record: Record) -> bytes:
    """A record as one spool line: `[request values, [attempt values, ...]]` as JSON."""
    return json.dumps(record_values(record), separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> RecordRows:
    data: Any = json.loads(line)
    if not (isinstance(data, list) and len(data) == 2 and len(data[0]) == len(REQUEST_COLUMNS)
            and all(len(a) == len(ATTEMPT_COLUMNS) for a in data[1])):
        raise ValueError("not a record's rows")
    return data[0], data[1]


class SpooledLog:
    def __init__(self, sink: BatchSink, spool: Spool, *, batch: int = 2000, linger_s: float = 0.2,
                 retry_max_s: float = 5.0, adopt_every_s: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.sink = sink
        self.spool = spool
        self.batch = batch
        self.linger_s = linger_s
        self.retry_max_s = retry_max_s
        self.adopt_every_s = adopt_every_s
        self._clock = clock
        self.up = True
        self.down_since: float | None = None
        self.written = 0
        self.skipped = 0
        """Records the database rejected for their content (logged), or torn by a crash."""
        self.lag_s = 0.0
        """Age of the oldest record in the last batch stored (how far behind the log is)."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"tiered-log-{spool.directory.name}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"SpooledLog({self.sink!r})"

    def append(self, line: bytes, *, force: bool = False) -> bool:
        """Spool one record's line; False when the spool is full (nothing written)."""
        if not self.spool.append(line, force=force):
            return False
        if not self._wake.is_set():
            self._wake.set()
        return True

    # -- the writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        adopted_at = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if time.monotonic() - adopted_at > self.adopt_every_s:
                adopted_at = time.monotonic()
                if self.spool.adopt():
                    log.info("request log: replaying the spool of a process that stopped (%s)", self.spool.directory)
            self._drain(until_stopped=True)
        self._drain(until_stopped=False)

    def _drain(self, *, until_stopped: bool) -> None:
        """Store what the spool holds; return when it is empty, or when stopping (or stopped and failing)."""
        failures = 0
        while True:
            if until_stopped and self._stop.is_set():
                return
            batch = self.spool.take(self.batch)
            if batch is None:
                return
            try:
                self._store(batch)
            except Exception as e:  # noqa: BLE001 - any database failure: keep the lines, retry later
                failures += 1
                self._failed(e)
                if not until_stopped:
                    return  # closing: what is left stays in the spool for the next start
                self._stop.wait(min(self.retry_max_s, 0.1 * 2 ** min(failures, 8)))
                self._reconnect()
                continue
            failures = 0
            if len(batch.lines) < self.batch and until_stopped:
                self._stop.wait(self.linger_s)  # let a few more records arrive: fewer, bigger transactions

    def _store(self, batch: Batch) -> None:
        rows: list[RecordRows] = []
        for line in batch.lines:
            try:
                rows.append(decode(line))
            except (ValueError, KeyError, TypeError) as e:
                self.skipped += 1
                log.error("request log: skipped an unreadable spool line (%s) in %s", first_line(e), batch.segment.path)
        self.spool.check()
        if self.sink.moved():
            log.warning("request log: %r was removed while in use; recreating it", self.sink)
            self.sink.reconnect()
        stored = len(rows)
        if rows:
            self.spool.sync()
            try:
                self.sink.write_batch(rows)
            except Exception as e:
                if self.sink.transient(e):
                    raise
                stored = self._one_by_one(rows)
        self.skipped += 1 if batch.torn else 0
        self.written += stored  # counted before the commit, which is what `flush` waits for
        if rows:
            self.lag_s = max(0.0, self._clock() - min(float(r[CREATED_AT]) for r, _ in rows))
        self.spool.commit(batch)
        if not self.up:
            log.warning("request log: %r is back after %.1f s; the spooled records are being written",
                        self.sink, time.monotonic() - (self.down_since or time.monotonic()))
            self.up, self.down_since = True, None
        with self._progress:
            self._progress.notify_all()

    def _one_by_one(self, rows: list[RecordRows]) -> int:
        """A batch the database refused for its content: store each record alone, skip (and log) the bad.
        Returns how many were stored."""
        stored = 0
        for row in rows:
            try:
                self.sink.write_batch([row])
                stored += 1
            except Exception as e:
                if self.sink.transient(e):
                    raise
                self.skipped += 1
                log.error("request log: %r refused record %s: %s", self.sink, row[0][0], first_line(e))
        return stored

    def _failed(self, error: BaseException) -> None:
        if self.up:
            self.up, self.down_since = False, time.monotonic()
            log.error("request log: %r failed: %s; records are kept in the spool %s and written when it is back",
                      self.sink, first_line(error), self.spool.directory)
        else:
            log.debug("request log: %r still failing: %s", self.sink, first_line(error))
        with self._progress:
            self._progress.notify_all()

    def _reconnect(self) -> None:
        try:
            self.sink.reconnect()
        except Exception as e:  # noqa: BLE001 - still down; the next attempt says nothing new
            log.debug("request log: reconnecting %r failed: %s", self.sink, first_line(e))

    # -- the owner's side ------------------------------------------------------------------------
    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every line spooled so far is stored (True), or the database is failing (False)."""
        deadline = time.monotonic() + timeout_s
        with self._progress:
            while self.spool.pending_bytes > 0:
                if not self.up or time.monotonic() > deadline:
                    return False
                self._wake.set()
                self._progress.wait(0.05)
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Store what is spooled (while the database answers), stop the thread, release the spool."""
        self.flush(timeout_s)
        self._stop.set()
        self._wake.set()
        self._thread.join()
        if self.spool.pending_bytes > 0:
            log.warning("request log: %d bytes of records stay in the spool %s; they are written when the "
                        "gateway next starts", self.spool.pending_bytes, self.spool.directory)
        self.spool.close()
        self.sink.close()
