"""The gateway key table (`gateway_keys`, migration m021) in the request log's database, SQLite or PostgreSQL.

`tiered keys create` adds a row holding the SHA-256 of a new secret (the secret is printed once and
stored nowhere), `revoke` stamps `revoked_at`, `list` reads them; a gateway with `[gateway] key_store
= true` reloads the table every few seconds (`tiered.gateway.keyring`), so a key created or revoked
on one host takes effect on every replica that logs to the same database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tiered.errors import ConfigError
from tiered.gateway.keys import GatewayKey, check_name
from tiered.telemetry import sql
from tiered.telemetry.sql_sink import SqlSink

COLUMNS = ("name", "secret_sha256", "team", "usd_per_day", "usd_per_month", "requests_per_minute", "routes",
           "models", "expires_at", "admin", "created_at", "revoked_at")


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _texts(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in json.loads(value))


def key_from_row(row: dict[str, Any]) -> GatewayKey:
    return GatewayKey(
        name=str(row["name"]), secret_sha256=str(row["secret_sha256"]), team=row["team"],
        usd_per_day=_dec(row["usd_per_day"]), usd_per_month=_dec(row["usd_per_month"]),
        requests_per_minute=None if row["requests_per_minute"] is None else int(row["requests_per_minute"]),
        routes=_texts(row["routes"]), models=_texts(row["models"]),
        expires_at=None if row["expires_at"] is None else float(row["expires_at"]), admin=bool(row["admin"]),
        created_at=float(row["created_at"]),
        revoked_at=None if row["revoked_at"] is None else float(row["revoked_at"]), source="store",
    )


class KeyTable:
    """Create, list and revoke keys in an open SQL sink's database (its lock and connection)."""

    def __init__(self, sink: SqlSink, *, clock: Callable[[], float] = time.time) -> None:
        self.sink = sink
        self._clock = clock

    def create(self, key: GatewayKey) -> GatewayKey:
        """Store `key` (its hash); `ConfigError` when the name is taken."""
        check_name(key.name)
        p = sql.placeholder
        s = self.sink.style
        now = self._clock()
        row = {
            "name": key.name, "secret_sha256": key.secret_sha256, "team": key.team,
            "usd_per_day": None if key.usd_per_day is None else format(key.usd_per_day, "f"),
            "usd_per_month": None if key.usd_per_month is None else format(key.usd_per_month, "f"),
            "requests_per_minute": key.requests_per_minute,
            "routes": None if key.routes is None else json.dumps(list(key.routes)),
            "models": None if key.models is None else json.dumps(list(key.models)),
            "expires_at": key.expires_at, "admin": int(key.admin), "created_at": now, "revoked_at": None,
        }
        with self.sink._lock:
            if self.sink._fetch(f"SELECT 1 FROM gateway_keys WHERE name = {p('name', s)}", {"name": key.name}):
                raise ConfigError(f"key {key.name!r} exists already (revoke it, or choose another name)")
            self.sink._write(sql.insert("gateway_keys", COLUMNS, s), row)
        return key_from_row(row)

    def list(self) -> list[GatewayKey]:
        with self.sink._lock:
            rows = self.sink._fetch(f"SELECT {', '.join(COLUMNS)} FROM gateway_keys ORDER BY name", {})
        return [key_from_row(r) for r in rows]

    def revoke(self, name: str) -> bool:
        """Stamp the key revoked; False when there is no such key that is not revoked already."""
        p = sql.placeholder
        s = self.sink.style
        with self.sink._lock:
            found = self.sink._fetch(f"SELECT 1 FROM gateway_keys WHERE name = {p('name', s)} "
                                     "AND revoked_at IS NULL", {"name": name})
            if not found:
                return False
            self.sink._write(f"UPDATE gateway_keys SET revoked_at = {p('now', s)} WHERE name = {p('name', s)}",
                             {"now": self._clock(), "name": name})
        return True
