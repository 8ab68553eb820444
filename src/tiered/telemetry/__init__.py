"""Telemetry: where records go after a request (sinks), and what they add up to (stats).

The driver hands each `Record` to sinks through a one-method protocol (`emit(record)`); nothing in
the core imports this package. SQLite is the default sink; JSONL and PostgreSQL are the others.
Names are loaded on first use, so `import tiered` (which re-exports `record_quality`) pays for
neither sqlite3 nor the sinks until a program actually logs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiered.telemetry.jsonl import JsonlSink, read_jsonl
    from tiered.telemetry.migrations import MIGRATIONS, migration
    from tiered.telemetry.postgres import PostgresSink
    from tiered.telemetry.quality import QualityStore, UnknownTrace, record_quality
    from tiered.telemetry.sqlite import SqliteSink, default_db_path
    from tiered.telemetry.stats import RouteStats, percentile, route_stats, stats_by_route

_WHERE = {
    "JsonlSink": "jsonl", "read_jsonl": "jsonl",
    "MIGRATIONS": "migrations", "migration": "migrations",
    "PostgresSink": "postgres",
    "QualityStore": "quality", "UnknownTrace": "quality", "record_quality": "quality",
    "SqliteSink": "sqlite", "default_db_path": "sqlite",
    "RouteStats": "stats", "percentile": "stats", "route_stats": "stats", "stats_by_route": "stats",
}

__all__ = [
    "MIGRATIONS", "JsonlSink", "PostgresSink", "QualityStore", "RouteStats", "SqliteSink", "UnknownTrace",
    "default_db_path", "migration", "percentile", "read_jsonl", "record_quality", "route_stats", "stats_by_route",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tiered.telemetry' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tiered.telemetry.{module}"), name)
