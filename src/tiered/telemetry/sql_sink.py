"""What the SQLite and PostgreSQL sinks do the same way once connected: label a trace, read records back.

The statements come from `tiered.telemetry.sql` in the sink's placeholder style and the rows go
back through `tiered.telemetry.rows`. A sink supplies its lock, its clock and its connection `_db`
(sqlite3's and psycopg's both run `execute(statement, params)` and `close()`, with rows as dicts);
how it connects, migrates and appends (each database has its own transactions) stays in the sink.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

from tiered.errors import TieredError
from tiered.learning.store import LabelStore
from tiered.records import Record
from tiered.telemetry import sql
from tiered.telemetry.quality import UnknownTrace, check_score
from tiered.telemetry.rows import Row, record_from_rows


class LogUnavailable(TieredError):
    """The request log's database cannot be reached at start (one line, said to the operator)."""


def first_line(error: BaseException) -> str:
    """An error's message on one line (drivers' messages can run to several)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class SqlSink(LabelStore):
    """Quality labels and exact reads over the shared schema; subclasses connect and append.

    `LabelStore` adds the learning tables' writes and reads (`add_label`, `add_prompt`, `examples`).
    """

    style: ClassVar[sql.ParamStyle]
    _lock: threading.Lock
    _clock: Callable[[], float]
    _db: Any
    """The open connection (sqlite3 or psycopg), its rows as dicts."""

    def _fetch(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        """Run a query on the connection and return its rows as dicts (the caller holds the lock)."""
        rows: list[Row] = self._db.execute(statement, params).fetchall()
        return rows

    def _write(self, statement: str, params: Mapping[str, Any]) -> None:
        """Run one statement that returns no rows (the caller holds the lock)."""
        self._db.execute(statement, params)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def record_quality(self, trace_id: str, score: float, *, source: str | None = None,
                       key_name: str | None = None) -> None:
        """Label a logged request: a `quality` row (the latest wins in records and stats) and the same label in
        `labels`, the learning loop's table (source "feedback" for the gateway's feedback endpoint, else
        "manual"; the served tier and model; `key_name`, the non-secret id of the key that gave it)."""
        value = check_score(score)
        with self._lock:
            served = self._fetch(f"SELECT tier, model FROM requests WHERE trace_id = "
                                 f"{sql.placeholder('trace_id', self.style)}", {"trace_id": trace_id})
            if not served:
                raise UnknownTrace(trace_id)
            now = self._clock()
            self._write(sql.insert_quality(self.style), {"trace_id": trace_id, "score": value,
                                                         "source": source, "created_at": now})
        self.add_label(trace_id, value, source="feedback" if source == "feedback" else "manual",
                       tier=served[0]["tier"], model=served[0]["model"], key_name=key_name, created_at=now)

    def get(self, trace_id: str) -> Record | None:
        found = self._read({"trace_id": trace_id}, by_trace=True)
        return found[0] if found else None

    def records(self, route: str | None = None) -> list[Record]:
        """Every record (of `route`), oldest first, with the latest quality label applied."""
        if route is None:
            return self._read({})
        return self._read({"route": route}, by_route=True)

    def _read(self, params: dict[str, Any], *, by_trace: bool = False, by_route: bool = False) -> list[Record]:
        tparams = {"trace_id": params["trace_id"]} if by_trace else {}
        with self._lock:
            rows = self._fetch(sql.select_requests(self.style, by_trace=by_trace, by_route=by_route), params)
            attempts = self._fetch(sql.select_attempts(self.style, by_trace=by_trace), tparams)
            labels = self._fetch(sql.select_quality(self.style, by_trace=by_trace), tparams)
        by_id: defaultdict[str, list[Row]] = defaultdict(list)
        for a in attempts:
            by_id[a["trace_id"]].append(a)
        latest = {str(q["trace_id"]): float(q["score"]) for q in labels}
        return [record_from_rows(r, by_id[r["trace_id"]], latest.get(r["trace_id"])) for r in rows]
