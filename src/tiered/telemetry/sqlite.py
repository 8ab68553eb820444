"""The default sink: every request appended to a SQLite database, as simonw's llm logs prompts.

One file, no server, queryable with any SQLite tool (`sqlite3 requests.db 'select route, ...'`).
The schema comes from the named migrations in `tiered.telemetry.migrations`, applied once each on
open. The path is `$TIERED_DB`, else the platform's per-user data directory
(`~/.local/share/tiered/requests.db` on Linux). Records never hold headers or keys, so neither
does the database.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tiered.records import Record
from tiered.telemetry import sql
from tiered.telemetry.migrations import CREATE_MIGRATIONS_TABLE, Dialect, pending
from tiered.telemetry.quality import UnknownTrace, check_score
from tiered.telemetry.rows import attempt_rows, record_from_rows, request_row

STYLE: sql.ParamStyle = "named"


def default_db_path(env: Mapping[str, str] | None = None, platform: str | None = None,
                    home: Path | None = None) -> Path:
    """`$TIERED_DB`, else the per-user data directory of the platform, + `tiered/requests.db`."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if env.get("TIERED_DB"):
        return Path(env["TIERED_DB"]).expanduser()
    if platform == "darwin":
        base = home / "Library" / "Application Support"
    elif platform.startswith("win"):
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        base = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "tiered" / "requests.db"


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class SqliteSink:
    """Append records; read them back exactly; attach quality labels. Safe to share across threads."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = default_db_path() if path is None else Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        # Autocommit mode; every write below is one explicit transaction.
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = _dict_row
        self._db.execute("PRAGMA foreign_keys = ON")
        self.migrate()

    def __repr__(self) -> str:
        return f"SqliteSink({str(self.path)!r})"

    # -- MigrationTarget -------------------------------------------------------------------------
    def execute(self, statement: str) -> None:
        self._db.execute(statement)

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; return the names applied now."""
        done: list[str] = []
        with self._lock:
            self._db.execute(CREATE_MIGRATIONS_TABLE)
            applied = {r["name"] for r in self._db.execute("SELECT name FROM _migrations")}
            for m in pending(applied):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    # Another process may have applied it while we waited for the write lock.
                    if self._db.execute("SELECT 1 FROM _migrations WHERE name = ?", (m.__name__,)).fetchone():
                        self._db.execute("COMMIT")
                        continue
                    m(self)
                    self._db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                                     (m.__name__, self._clock()))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                done.append(m.__name__)
        return done

    def applied_migrations(self) -> list[str]:
        return [r["name"] for r in self._db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    # -- Sink ------------------------------------------------------------------------------------
    def emit(self, record: Record) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql.insert_request(STYLE), request_row(record))
                self._db.executemany(sql.insert_attempt(STYLE), attempt_rows(record))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record_quality(self, trace_id: str, score: float, *, source: str | None = None) -> None:
        value = check_score(score)
        with self._lock:
            if not self._db.execute("SELECT 1 FROM requests WHERE trace_id = ?", (trace_id,)).fetchone():
                raise UnknownTrace(trace_id)
            self._db.execute(sql.insert_quality(STYLE), {"trace_id": trace_id, "score": value,
                                                         "source": source, "created_at": self._clock()})

    # -- reading ---------------------------------------------------------------------------------
    def get(self, trace_id: str) -> Record | None:
        found = self._read({"trace_id": trace_id}, by_trace=True)
        return found[0] if found else None

    def records(self, route: str | None = None) -> list[Record]:
        """Every record (of `route`), oldest first, with the latest quality label applied."""
        if route is None:
            return self._read({})
        return self._read({"route": route}, by_route=True)

    def _read(self, params: dict[str, Any], *, by_trace: bool = False, by_route: bool = False) -> list[Record]:
        with self._lock:
            rows = self._db.execute(sql.select_requests(STYLE, by_trace=by_trace, by_route=by_route),
                                    params).fetchall()
            tparams = {"trace_id": params["trace_id"]} if by_trace else {}
            attempts = self._db.execute(sql.select_attempts(STYLE, by_trace=by_trace), tparams).fetchall()
            labels = self._db.execute(sql.select_quality(STYLE, by_trace=by_trace), tparams).fetchall()
        by_id: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for a in attempts:
            by_id[a["trace_id"]].append(a)
        latest = {str(q["trace_id"]): float(q["score"]) for q in labels}
        return [record_from_rows(r, by_id[r["trace_id"]], latest.get(r["trace_id"])) for r in rows]

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteSink:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
