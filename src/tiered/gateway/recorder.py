"""Writing request records off the event loop, without losing them: a durable spool per database sink.

The driver hands each record to `Recorder.emit`. For the SQLite and PostgreSQL sinks the record is
appended to that sink's spool (`tiered.telemetry.spool`: one `write(2)`, so it survives the process
being killed once the answer has gone out) and a thread per sink stores the spool in batches, one
transaction each (`tiered.telemetry.spooled`), reconnecting by itself after an outage. What the spool
holds when the gateway stops or dies is stored when it starts again on the same log; records are
stored idempotently by trace id, so none counts twice.

The spool is bounded (`[telemetry.spool] max_mb`). When it is full, `when_full` says what happens:
"drop" keeps answering and counts each record not logged (`tiered_request_log_dropped_total`, and
one log line per episode); "refuse" makes the gateway answer 503 overloaded_error until the log
catches up (`refusing`). Never silently.

Other sinks (JSONL, a test's own) keep the simple path: a queue drained by one thread, in order.
`flush()` waits until everything emitted is stored (tests, shutdown) and `close()` stores what it can
before closing the sinks.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tiered.config import TelemetryConfig
from tiered.records import Record
from tiered.runtime.driver import emit

log = logging.getLogger("tiered.gateway")
_STOP = object()


def spool_folder(sink: Any, base: str | None) -> Path | None:
    """Where a database sink's spool lives: `base`/<sink id>, or beside the SQLite file, or in the
    per-user data folder for PostgreSQL. None for a sink that is not spooled (an in-memory SQLite)."""
    from tiered.telemetry.postgres import PostgresSink
    from tiered.telemetry.sqlite import SqliteSink, default_db_path

    if isinstance(sink, SqliteSink):
        if str(sink.path) == ":memory:":
            return None
        path = sink.path.resolve()
        if base is None:
            return path.parent / f"{path.name}.spool"
        return Path(base) / f"sqlite-{_digest(str(path))}"
    if isinstance(sink, PostgresSink):
        root = Path(base) if base is not None else default_db_path().parent / "spool"
        return root / f"postgres-{sink.schema}-{_digest(sink.target)}"
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Recorder:
    def __init__(self, sinks: Sequence[Any], telemetry: TelemetryConfig | None = None) -> None:
        from tiered.telemetry.spool import Spool
        from tiered.telemetry.spooled import SpooledLog

        cfg = telemetry or TelemetryConfig()
        self.sinks = tuple(sinks)
        self.when_full = cfg.spool_when_full
        self.dropped = 0
        self._dropping = False
        self.logs: list[SpooledLog] = []
        plain: list[Any] = []
        for sink in self.sinks:
            folder = spool_folder(sink, cfg.spool_dir)
            if folder is None:
                plain.append(sink)
                continue
            spool = Spool(folder, max_bytes=int(cfg.spool_max_mb * 1024 * 1024))
            if spool.adopted:
                log.info("request log: replaying %d spooled segment(s) left by a previous run (%s)",
                         spool.adopted, folder)
            self.logs.append(SpooledLog(sink, spool))
        self.plain = tuple(plain)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def emit(self, record: Record) -> None:
        if self.logs:
            from tiered.telemetry.spooled import encode

            line = encode(record)
            force = self.when_full == "refuse"  # admitted requests are logged; new ones are refused
            for spooled in self.logs:
                if not spooled.append(line, force=force):
                    self._drop(spooled)
        if self.plain:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._drain, name="tiered-recorder", daemon=True)
                    self._thread.start()
            self._queue.put(record)

    def _drop(self, spooled: Any) -> None:
        self.dropped += 1
        if not self._dropping:
            self._dropping = True
            log.error("request log: the spool %s is full (%d MB not yet stored); records are dropped and counted "
                      "in tiered_request_log_dropped_total until it drains", spooled.spool.directory,
                      spooled.spool.pending_bytes // (1024 * 1024))

    @property
    def refusing(self) -> bool:
        """True when a spool is full and the config says to refuse requests until it drains."""
        if self.when_full != "refuse":
            return False
        return any(s.spool.full for s in self.logs)

    def refusal(self) -> str:
        full = [s for s in self.logs if s.spool.full]
        state = "unreachable" if any(not s.up for s in full) else "behind"
        return (f"the gateway's request log is {state} and its spool is full "
                f"({', '.join(repr(s.sink) for s in full)}); retry shortly")

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                emit(item, self.plain)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Block until every record emitted so far is stored (or its database is failing)."""
        for spooled in self.logs:
            spooled.flush()
        self._queue.join()
        if self._dropping and all(not s.spool.full for s in self.logs):
            self._dropping = False

    def close(self) -> None:
        """Store what is queued, stop the writers, close the sinks."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()
        for spooled in self.logs:
            spooled.close()
        for sink in self.plain:
            close = getattr(sink, "close", None)
            if close is not None:
                close()

    def render_metrics(self) -> str:
        """The request log's gauges and counters, in Prometheus text."""
        out = ["# HELP tiered_request_log_dropped_total Records not logged because the spool was full.",
               "# TYPE tiered_request_log_dropped_total counter",
               f"tiered_request_log_dropped_total {self.dropped}"]
        if not self.logs:
            return "\n".join(out) + "\n"
        series: list[tuple[str, str, str, list[str]]] = [
            ("tiered_request_log_up", "gauge", "1 while the log's database takes writes, 0 while it fails.",
             [str(int(s.up)) for s in self.logs]),
            ("tiered_request_log_spooled_bytes", "gauge", "Bytes of records spooled and not yet stored.",
             [str(s.spool.pending_bytes) for s in self.logs]),
            ("tiered_request_log_written_total", "counter", "Records stored in the log's database.",
             [str(s.written) for s in self.logs]),
            ("tiered_request_log_lag_seconds", "gauge", "Age of the oldest record of the last batch stored.",
             [f"{s.lag_s:.3f}" for s in self.logs]),
        ]
        for name, kind, help_text, values in series:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            out += [f'{name}{{sink="{type(s.sink).__name__}"}} {v}' for s, v in zip(self.logs, values, strict=True)]
        return "\n".join(out) + "\n"

    def __repr__(self) -> str:
        return f"Recorder({', '.join(map(repr, self.sinks))})"
