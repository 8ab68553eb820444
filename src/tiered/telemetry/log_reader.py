"""Opening the request log a config writes, for reading: its SQLite file, else its PostgreSQL schema.

`tiered stats`, `tiered keys`, `GET /v1/tiered/stats`, the dashboard and the gateway's key table all
read the same database the sinks write; this is the one place that decides which (`--db` wins, then
the config's `[telemetry]`: sqlite if it logs there, else postgres; else `$TIERED_DB` or the per-user
default). A JSON Lines log is write-only and cannot be read here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tiered.config import TelemetryConfig
from tiered.errors import ConfigError
from tiered.telemetry.sql_sink import SqlSink


def log_location(cfg: TelemetryConfig | None, db: str | os.PathLike[str] | None = None) -> str:
    """Where `open_log` reads, for messages."""
    if db is None and cfg is not None and "sqlite" not in cfg.sinks and "postgres" in cfg.sinks:
        return f"postgres schema {cfg.postgres_schema}"
    from tiered.telemetry.sqlite import default_db_path

    path = db if db is not None else (cfg.sqlite_path if cfg is not None and cfg.sqlite_path else None)
    return str(path if path is not None else default_db_path())


def open_log(cfg: TelemetryConfig | None, db: str | os.PathLike[str] | None = None, *,
             env: Mapping[str, str] | None = None, create: bool = True) -> SqlSink | None:
    """The log, opened (migrated to the current schema); None when `create` is False and the SQLite file
    does not exist yet (reading creates no database)."""
    if db is None and cfg is not None:
        if "sqlite" not in cfg.sinks and "postgres" in cfg.sinks:
            from tiered.telemetry.configured import postgres_dsn
            from tiered.telemetry.postgres import PostgresSink

            return PostgresSink(postgres_dsn(cfg, env=env), schema=cfg.postgres_schema)
        if "sqlite" not in cfg.sinks:
            raise ConfigError("telemetry.sinks: the log is read from sqlite or postgres; a jsonl log is write-only")
    from pathlib import Path

    from tiered.telemetry.sqlite import SqliteSink

    path = Path(log_location(cfg, db))
    if not create and not path.exists():
        return None
    return SqliteSink(path)
