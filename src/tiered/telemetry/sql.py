"""The SQL the two database sinks share, written once with the placeholder style as a parameter.

SQLite's driver takes `:name` placeholders and psycopg takes `%(name)s`; everything else (tables,
columns, the latest-label-wins rule for quality) is the same text for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tiered.telemetry.rows import ATTEMPT_COLUMNS, REQUEST_COLUMNS

ParamStyle = Literal["named", "pyformat"]


def placeholder(name: str, style: ParamStyle) -> str:
    return f":{name}" if style == "named" else f"%({name})s"


def insert(table: str, columns: Sequence[str], style: ParamStyle) -> str:
    values = ", ".join(placeholder(c, style) for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


def insert_request(style: ParamStyle) -> str:
    return insert("requests", REQUEST_COLUMNS, style)


def insert_attempt(style: ParamStyle) -> str:
    return insert("attempts", ATTEMPT_COLUMNS, style)


def insert_once(table: str, columns: Sequence[str], style: ParamStyle) -> str:
    """Insert positional values unless the row's key is already stored (a spool replayed after a crash)."""
    values = ", ".join("?" if style == "named" else "%s" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) ON CONFLICT DO NOTHING"


def insert_request_once(style: ParamStyle) -> str:
    return insert_once("requests", REQUEST_COLUMNS, style)


def insert_attempt_once(style: ParamStyle) -> str:
    return insert_once("attempts", ATTEMPT_COLUMNS, style)


def insert_quality(style: ParamStyle) -> str:
    return insert("quality", ("trace_id", "score", "source", "created_at"), style)


def select_trace(style: ParamStyle) -> str:
    """One row if the trace id is in the log, none if not."""
    return f"SELECT 1 FROM requests WHERE trace_id = {placeholder('trace_id', style)}"


def select_requests(style: ParamStyle, *, by_trace: bool = False, by_route: bool = False) -> str:
    """Requests oldest first, so the last row of a route is its latest state."""
    where = []
    if by_trace:
        where.append(f"trace_id = {placeholder('trace_id', style)}")
    if by_route:
        where.append(f"route = {placeholder('route', style)}")
    sql = f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY created_at, trace_id"


def select_attempts(style: ParamStyle, *, by_trace: bool = False) -> str:
    sql = f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts"
    if by_trace:
        sql += f" WHERE trace_id = {placeholder('trace_id', style)}"
    return sql + " ORDER BY trace_id, idx"


def select_quality(style: ParamStyle, *, by_trace: bool = False) -> str:
    """Every label in arrival order; a reader keeps the last one per trace (the latest wins)."""
    sql = "SELECT trace_id, score FROM quality"
    if by_trace:
        sql += f" WHERE trace_id = {placeholder('trace_id', style)}"
    return sql + " ORDER BY id"
