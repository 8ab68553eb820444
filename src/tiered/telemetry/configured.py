"""The sinks a config's `[telemetry]` table asks for, opened and ready for the driver.

Kept apart from the sinks themselves so that each sink stays usable on its own (`SqliteSink(path)`)
and the config schema is read in one place. PostgreSQL DSNs may come from an environment variable,
read here and handed to psycopg, never stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from tiered.config import TelemetryConfig
from tiered.errors import ConfigError
from tiered.records import Record


class OpenSink(Protocol):
    """A sink the caller owns: records go in with `emit`, and `close` releases its connection."""

    def emit(self, record: Record) -> None: ...

    def close(self) -> None: ...


def open_sinks(cfg: TelemetryConfig, *, env: Mapping[str, str] | None = None) -> list[OpenSink]:
    """One open sink per name in `cfg.sinks`, in order. Each has `emit(record)` and `close()`."""
    env = os.environ if env is None else env
    sinks: list[OpenSink] = []
    for name in cfg.sinks:
        if name == "sqlite":
            from tiered.telemetry.sqlite import SqliteSink

            sinks.append(SqliteSink(cfg.sqlite_path))
        elif name == "jsonl":
            from tiered.telemetry.jsonl import JsonlSink

            sinks.append(JsonlSink(cfg.jsonl_path))
        elif name == "otel":  # the tiered[otel] extra; OTLP/HTTP to $OTEL_EXPORTER_OTLP_ENDPOINT
            from tiered.telemetry.otel import OtelSink

            sinks.append(OtelSink.from_environment(env))
        else:
            from tiered.telemetry.postgres import PostgresSink

            sinks.append(PostgresSink(postgres_dsn(cfg, env=env), schema=cfg.postgres_schema))
    return sinks


def postgres_dsn(cfg: TelemetryConfig, *, env: Mapping[str, str] | None = None) -> str:
    """The DSN as written, or read from the variable `dsn = "env:VAR"` names."""
    env = os.environ if env is None else env
    dsn = cfg.postgres_dsn
    if cfg.postgres_dsn_env is not None:
        dsn = env.get(cfg.postgres_dsn_env)
        if not dsn:
            raise ConfigError(f"telemetry.postgres.dsn: ${cfg.postgres_dsn_env} is not set")
    if dsn is None:
        raise ConfigError("telemetry.postgres.dsn: the postgres sink needs a dsn")
    return dsn
