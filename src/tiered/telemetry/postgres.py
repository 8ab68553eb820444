"""The PostgreSQL sink (psycopg 3): the SQLite schema and migrations, on a shared server.

For teams whose gateways run on several hosts. Tables live in their own schema (default `tiered`),
created on first use, so the log never collides with an application's tables and a test run can
use a throwaway schema and drop it. The migrations are the very functions the SQLite sink runs.
psycopg is an optional extra (`tiered[postgres]`), imported only when this sink is built.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tiered.errors import ConfigError
from tiered.records import Record
from tiered.telemetry import sql
from tiered.telemetry.migrations import CREATE_MIGRATIONS_TABLE, Dialect, pending
from tiered.telemetry.rows import ATTEMPT_COLUMNS, REQUEST_COLUMNS, RecordRows, attempt_rows, request_row
from tiered.telemetry.sql_sink import LogUnavailable, SqlSink, first_line

STYLE: sql.ParamStyle = "pyformat"
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SAFE_DSN_KEYS = ("host", "hostaddr", "port", "dbname", "user")


def describe_dsn(dsn: str) -> str:
    """Where a DSN points (host, port, database, user), for messages: never its password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - an unparsable DSN is described as such, never echoed
        return "an unparsable DSN"
    return " ".join(f"{k}={parts[k]}" for k in _SAFE_DSN_KEYS if parts.get(k)) or "the default server"


class PostgresSink(SqlSink):
    """Append records to PostgreSQL; read them back exactly; attach quality labels."""

    dialect: Dialect = "postgres"
    style = STYLE

    def __init__(self, dsn: str, *, schema: str = "tiered", clock: Callable[[], float] = time.time,
                 connect_timeout: float = 5.0) -> None:
        if not _SCHEMA.fullmatch(schema):
            raise ConfigError(f"telemetry.postgres.schema: not a plain lowercase identifier: {schema!r}")
        import psycopg

        self.schema = schema
        self.target = describe_dsn(dsn)
        """Where the log goes, without any password (for messages and the spool's folder name)."""
        self._dsn = dsn
        self._connect_timeout = max(1, int(connect_timeout))
        self._clock = clock
        self._lock = threading.Lock()
        self._staged = False
        """The session's staging tables for COPY exist (they are per connection)."""
        try:
            self._db: Any = self._connect()
        except psycopg.OperationalError as e:  # one line for the operator, not a traceback
            raise LogUnavailable(f"request log: cannot connect to PostgreSQL ({describe_dsn(dsn)}): "
                                 f"{first_line(e)}") from None
        self.migrate()

    def _connect(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        db = psycopg.connect(self._dsn, autocommit=True, row_factory=dict_row, connect_timeout=self._connect_timeout)
        # The schema name was checked in __init__, so it is safe to splice into the statement.
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        db.execute(f"SET search_path TO {self.schema}")
        return db

    def reconnect(self) -> None:
        """Drop the connection and open a new one (after the server restarted or the network failed)."""
        with self._lock:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is dropped anyway
                self._db.close()
            self._db = self._connect()
            self._staged = False
        self.migrate()

    @staticmethod
    def transient(error: BaseException) -> bool:
        """An error of the connection or the server, not of the records: retry them once it is back."""
        import psycopg

        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError, OSError))

    def moved(self) -> bool:
        return False

    def write_batch(self, batch: Sequence[RecordRows]) -> None:
        """Store many records in one transaction with COPY. A trace id already stored (a spool replayed
        after a crash) fails the plain COPY; the batch then goes through this session's staging tables and
        one INSERT .. SELECT .. ON CONFLICT DO NOTHING per table, so nothing counts twice."""
        import psycopg

        with self._lock:
            try:
                with self._db.transaction(), self._db.cursor() as cur:
                    self._copy(cur, batch, staged=False)
            except psycopg.errors.UniqueViolation:
                with self._db.transaction(), self._db.cursor() as cur:
                    self._copy(cur, batch, staged=True)

    def _copy(self, cur: Any, batch: Sequence[RecordRows], *, staged: bool) -> None:
        if staged and not self._staged:
            for table in ("requests", "attempts"):
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS _in_{table} (LIKE {table}) ON COMMIT DELETE ROWS")
            self._staged = True
        for table, columns, rows in (("requests", REQUEST_COLUMNS, [r for r, _ in batch]),
                                     ("attempts", ATTEMPT_COLUMNS, [a for _, rs in batch for a in rs])):
            if not rows:
                continue
            names = ", ".join(columns)
            with cur.copy(f"COPY {'_in_' if staged else ''}{table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if staged:
                cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _in_{table} ON CONFLICT DO NOTHING")

    def __repr__(self) -> str:
        return f"PostgresSink(schema={self.schema!r})"

    def execute(self, statement: str) -> None:
        self._db.execute(statement)

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in a transaction under an advisory lock (one migrator at a time)."""
        done: list[str] = []
        with self._lock:
            self._db.execute(CREATE_MIGRATIONS_TABLE)
            for m in pending(self._applied()):
                with self._db.transaction():
                    self._db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.schema}._migrations",))
                    row = self._db.execute("SELECT 1 FROM _migrations WHERE name = %s", (m.__name__,)).fetchone()
                    if row:
                        continue
                    m(self)
                    self._db.execute("INSERT INTO _migrations (name, applied_at) VALUES (%s, %s)",
                                     (m.__name__, self._clock()))
                done.append(m.__name__)
        return done

    def _applied(self) -> list[str]:
        rows = self._db.execute("SELECT name FROM _migrations ORDER BY applied_at, name").fetchall()
        return [str(r["name"]) for r in rows]

    def applied_migrations(self) -> list[str]:
        with self._lock:
            return self._applied()

    def emit(self, record: Record) -> None:
        with self._lock, self._db.transaction():
            self._db.execute(sql.insert_request(STYLE), request_row(record))
            with self._db.cursor() as cur:
                cur.executemany(sql.insert_attempt(STYLE), attempt_rows(record))

