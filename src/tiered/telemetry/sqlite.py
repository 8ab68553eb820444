"""The default sink: every request appended to a SQLite database, as simonw's llm logs prompts.

One file, no server, queryable with any SQLite tool (`sqlite3 requests.db 'select route, ...'`).
The schema comes from the named migrations in `tiered.telemetry.migrations`, applied once each on
open. The path is `$TIERED_DB`, else the platform's per-user data directory
(`~/.local/share/tiered/requests.db` on Linux). Records never hold headers or keys, so neither
does the database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tiered.records import Record
from tiered.telemetry import sql
from tiered.telemetry.migrations import CREATE_MIGRATIONS_TABLE, Dialect, pending
from tiered.telemetry.rows import RecordRows, attempt_rows, request_row
from tiered.telemetry.sql_sink import SqlSink

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


class SqliteSink(SqlSink):
    """Append records; read them back exactly; attach quality labels. Safe to share across threads."""

    dialect: Dialect = "sqlite"
    style = STYLE

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = default_db_path() if path is None else Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = self._connect()
        self._identity = self._file_identity()
        self.migrate()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode; every write below is one explicit transaction.
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        db.row_factory = _dict_row
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _file_identity(self) -> tuple[int, int] | None:
        """The database file's (device, inode), to notice it being removed or replaced under us."""
        if str(self.path) == ":memory:":
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def moved(self) -> bool:
        """True when the file this connection writes to is no longer at `path` (removed, or its folder
        was): SQLite would go on writing into the unlinked file, and every record would be lost."""
        return self._identity is not None and self._file_identity() != self._identity

    def reconnect(self) -> None:
        """Open the database again (recreating its folder and schema if they were removed)."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
            self._identity = self._file_identity()
        self.migrate()

    @staticmethod
    def transient(error: BaseException) -> bool:
        """An error that says nothing about the records (disk, lock, a removed file): retry them later."""
        return isinstance(error, (sqlite3.OperationalError, OSError)) or (
            isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.IntegrityError))

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
                self._rollback()
                raise

    def write_batch(self, batch: Sequence[RecordRows]) -> None:
        """Store many records in one transaction; a trace id already stored is skipped (so a spool can be
        replayed after a crash without counting anything twice)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql.insert_request_once(STYLE), [r for r, _ in batch])
                self._db.executemany(sql.insert_attempt_once(STYLE), [a for _, attempts in batch for a in attempts])
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Roll back if a transaction is still open. SQLite rolls back by itself after some errors (a disk
        I/O error, a full disk); a ROLLBACK then would fail and hide the error that mattered."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the caller re-raises the error that says what went wrong
                self._db.execute("ROLLBACK")
