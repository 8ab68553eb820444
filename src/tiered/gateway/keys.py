"""Gateway keys as data: a name, a hash of the secret, a team, budgets, a rate, what the key may call, an expiry.

Keys come from two places, and both may be used at once:

- the config, one `[[gateway.keys]]` table per key (the secret itself is never written there, only its
  SHA-256 in hex, which `tiered keys hash` or `tiered keys create --print-toml` prints):

      [[gateway.keys]]
      name = "search-prod"
      secret_sha256 = "9f86d081884c7d65..."
      team = "search"
      usd_per_day = 20.0
      usd_per_month = 400.0
      requests_per_minute = 120
      routes = ["default", "code"]      # routes this key may use (absent: all)
      models = ["haiku", "sonnet"]      # catalog models it may request by name (absent: all)
      expires = "2027-01-01T00:00:00Z"  # absent: never
      admin = false                     # may read /v1/tiered/stats and the /ui dashboard's data

      [gateway.teams.search]            # limits shared by every key of the team
      usd_per_day = 50.0
      usd_per_month = 1000.0
      requests_per_minute = 600

- the key table of the request log's database (`gateway_keys`, written by `tiered keys create | revoke`,
  read by a gateway whose `[gateway] key_store = true`; `tiered.telemetry.key_table`).

The flat list of secrets in `$TIERED_GATEWAY_KEYS` keeps working: such a key has no name, so its
records carry its short digest (`key_<16 hex>`) as the key name, and the gateway-wide limits apply.
A secret is `tk-` + 43 URL-safe characters (256 bits); only its SHA-256 is ever stored or compared.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tiered.config_tables import Table
from tiered.errors import ConfigError

SECRET_PREFIX = "tk-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
_HEX = re.compile(r"[0-9a-f]{64}")


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """The SHA-256 of a secret in hex: what the config and the key table hold instead of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str, what: str = "key") -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{what} name {name!r}: use 1-64 letters, digits and _ . : @ - (starting with a "
                          "letter or digit)")
    return name


def parse_expiry(value: str | float | int | datetime | None, where: str = "expires") -> float | None:
    """An expiry as UNIX seconds, from ISO 8601 text (a date alone means its midnight UTC), a TOML
    datetime or a number; None for none."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected an ISO 8601 date or time")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise ConfigError(f"{where}: expected an ISO 8601 date or time, got {value!r}") from e
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """One named key. Holds the secret's hash, never the secret."""

    name: str
    secret_sha256: str = field(repr=False)
    team: str | None = None
    usd_per_day: Decimal | None = None
    usd_per_month: Decimal | None = None
    requests_per_minute: int | None = None
    routes: tuple[str, ...] | None = None
    """Routes the key may use (None: every route)."""
    models: tuple[str, ...] | None = None
    """Catalog models (ids, aliases or tiers) it may request by name (None: every model)."""
    expires_at: float | None = None
    admin: bool = False
    created_at: float | None = None
    revoked_at: float | None = None
    source: str = "config"
    """Where it was defined: "config" or "store" (the key table)."""

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        """What `tiered keys list --json` and the dashboard show: everything but the hash."""
        now = time.time() if now is None else now
        return {
            "name": self.name, "team": self.team,
            "usd_per_day": None if self.usd_per_day is None else float(self.usd_per_day),
            "usd_per_month": None if self.usd_per_month is None else float(self.usd_per_month),
            "requests_per_minute": self.requests_per_minute,
            "routes": None if self.routes is None else list(self.routes),
            "models": None if self.models is None else list(self.models),
            "expires_at": self.expires_at, "admin": self.admin, "created_at": self.created_at,
            "revoked_at": self.revoked_at, "source": self.source,
            "status": "revoked" if self.revoked_at is not None else "expired" if self.expired(now) else "active",
        }


@dataclass(frozen=True, slots=True)
class TeamLimits:
    """Limits shared by every key of a team (`[gateway.teams.NAME]`)."""

    name: str
    usd_per_day: Decimal | None = None
    usd_per_month: Decimal | None = None
    requests_per_minute: int | None = None


def _usd(t: Table, key: str) -> Decimal | None:
    value = t.number(key, None)
    return None if value is None else Decimal(str(value))


def parse_key(data: object, where: str) -> GatewayKey:
    t = Table(data, where)
    name = check_name(t.text("name"))
    digest = t.text("secret_sha256").lower()
    if "secret" in t:
        raise ConfigError(f"{t.at('secret')}: secrets are never written in the config; write secret_sha256 "
                          "(`tiered keys hash` prints it)")
    if not _HEX.fullmatch(digest):
        raise ConfigError(f"{t.at('secret_sha256')}: expected 64 hex digits (the SHA-256 of the secret)")
    team = t.text("team", None)
    key = GatewayKey(
        name=name, secret_sha256=digest, team=check_name(team, "team") if team is not None else None,
        usd_per_day=_usd(t, "usd_per_day"), usd_per_month=_usd(t, "usd_per_month"),
        requests_per_minute=t.integer("requests_per_minute", None, minimum=1),
        routes=t.texts("routes", None), models=t.texts("models", None),
        expires_at=parse_expiry(t.raw("expires", None), t.at("expires")), admin=t.flag("admin", False),
    )
    t.done()
    return key


def parse_keys_table(raw: object, where: str = "gateway.keys") -> tuple[GatewayKey, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected [[gateway.keys]] tables (or an \"env:VAR\" reference)")
    keys = tuple(parse_key(item, f"{where}[{i}]") for i, item in enumerate(raw))
    names = [k.name for k in keys]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}: key name {dupes[0]!r} is used twice")
    return keys


def parse_teams(raw: object, where: str = "gateway.teams") -> Mapping[str, TeamLimits]:
    teams: dict[str, TeamLimits] = {}
    top = Table(raw, where)
    for name in top.names():
        t = Table(top.raw(name), top.at(name))
        teams[name] = TeamLimits(check_name(name, "team"), _usd(t, "usd_per_day"), _usd(t, "usd_per_month"),
                                 t.integer("requests_per_minute", None, minimum=1))
        t.done()
    top.done()
    return teams
