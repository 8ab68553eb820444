"""Writing request records off the event loop: one thread drains a queue into the configured sinks.

The SQLite and PostgreSQL sinks are synchronous (a commit per record); called from the event loop
they would stall every other request for the length of a disk flush or a network round trip. The
driver hands each record to `Recorder.emit`, which only enqueues; a single writer thread stores
records in order. `flush()` waits until everything queued is stored (tests, shutdown), and `close()`
drains the queue before closing the sinks, so a record accepted is a record stored: none is lost at
shutdown and none is written twice. A sink that fails logs its error and the others still run
(`tiered.runtime.driver.emit`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from tiered.records import Record
from tiered.runtime.driver import emit

_STOP = object()


class Recorder:
    def __init__(self, sinks: Sequence[Any]) -> None:
        self.sinks = tuple(sinks)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def emit(self, record: Record) -> None:
        if not self.sinks:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="tiered-recorder", daemon=True)
                self._thread.start()
        self._queue.put(record)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                emit(item, self.sinks)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Block until every record emitted so far is stored."""
        self._queue.join()

    def close(self) -> None:
        """Store what is queued, stop the writer, close the sinks."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                close()

    def __repr__(self) -> str:
        return f"Recorder({', '.join(map(repr, self.sinks))})"
