"""The PostgreSQL sink (psycopg 3): the SQLite schema and migrations, on a shared server.

For teams whose gateways run on several hosts. Tables live in their own schema (default `tiered`),
created on first use, so the log never collides with an application's tables and a test run can
use a throwaway schema and drop it. The migrations are the very functions the SQLite sink runs.
psycopg is an optional extra (`tiered[postgres]`), imported only when this sink is built.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from tiered.errors import ConfigError
from tiered.records import Record
from tiered.telemetry import sql
from tiered.telemetry.migrations import CREATE_MIGRATIONS_TABLE, Dialect, pending
from tiered.telemetry.rows import attempt_rows, request_row
from tiered.telemetry.sql_sink import SqlSink

STYLE: sql.ParamStyle = "pyformat"
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresSink(SqlSink):
    """Append records to PostgreSQL; read them back exactly; attach quality labels."""

    dialect: Dialect = "postgres"
    style = STYLE

    def __init__(self, dsn: str, *, schema: str = "tiered", clock: Callable[[], float] = time.time,
                 connect_timeout: float = 5.0) -> None:
        if not _SCHEMA.fullmatch(schema):
            raise ConfigError(f"telemetry.postgres.schema: not a plain lowercase identifier: {schema!r}")
        import psycopg
        from psycopg.rows import dict_row

        self.schema = schema
        self._clock = clock
        self._lock = threading.Lock()
        self._db: Any = psycopg.connect(dsn, autocommit=True, row_factory=dict_row,
                                        connect_timeout=max(1, int(connect_timeout)))
        # The schema name was checked above, so it is safe to splice into the statement.
        self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        self._db.execute(f"SET search_path TO {schema}")
        self.migrate()

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

