"""Telemetry: where records go after a request (sinks), and what they add up to (stats).

The driver hands each `Record` to sinks through a one-method protocol (`emit(record)`); nothing in
the core imports this package. SQLite is the default sink; JSONL and PostgreSQL are the others.
"""

from tiered.telemetry.jsonl import JsonlSink, read_jsonl
from tiered.telemetry.migrations import MIGRATIONS, migration
from tiered.telemetry.postgres import PostgresSink
from tiered.telemetry.quality import QualityStore, UnknownTrace, record_quality
from tiered.telemetry.sqlite import SqliteSink, default_db_path
from tiered.telemetry.stats import RouteStats, percentile, route_stats, stats_by_route

__all__ = [
    "MIGRATIONS", "JsonlSink", "PostgresSink", "QualityStore", "RouteStats", "SqliteSink", "UnknownTrace",
    "default_db_path", "migration", "percentile", "read_jsonl", "record_quality", "route_stats", "stats_by_route",
]
