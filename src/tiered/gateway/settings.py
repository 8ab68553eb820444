"""What `tiered serve` reads besides the routes: gateway keys, limits, shared state, fallbacks.

The gateway's tables live in the same TOML file as the routes, and are taken out before the rest is
handed to `tiered.config.parse_config` (the library never sees them):

    [gateway]
    keys = "env:TIERED_GATEWAY_KEYS"   # comma-separated keys callers must send (this is the default)
    requests_per_minute = 600         # per gateway key; 429 rate_limit_error past it
    usd_per_day = 25.0                # per gateway key, UTC day; each request holds its worst case
    fallback = ["sonnet", "haiku"]    # a request for a catalog model falls back along this chain
    fallback_retries = 1
    max_body_bytes = 33554432
    pass_through_key = false          # true: each caller's own key goes upstream (no gateway keys then)
    admin_keys = "env:TIERED_ADMIN_KEYS" # keys that may read /v1/tiered/stats and the /ui data (the default)
    key_store = false                 # true: also accept the keys `tiered keys create` put in the log's database
    [[gateway.keys]]                  # named keys with their own budgets and allowlists (tiered.gateway.keys)
    [gateway.teams.NAME]              # limits shared by a team's keys
    [state]
    redis = "redis://127.0.0.1:6379/0" # share limits, budgets and breakers between replicas
    on_failure = "open"               # Redis down: "open" = limits kept per process, "closed" = 503
    timeout_ms = 1000                 # the most a request waits on Redis (see gateway.state_store)
    [learning]                        # learn from the traffic (tiered.online.settings)
    shadow_rate = 0.02

Keys are never written in the file: `keys` names the environment variable that holds them. When the
variable is unset or empty the gateway is open (anyone may call it), and says so at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tiered.config import SERVER_TABLES, Config, parse_config, parse_config_text, read_config_file
from tiered.config_tables import Table
from tiered.errors import ConfigError
from tiered.gateway.keys import GatewayKey, TeamLimits, parse_keys_table, parse_teams
from tiered.online.settings import LearningSettings, learning_settings

KEYS_ENV = "TIERED_GATEWAY_KEYS"
ADMIN_KEYS_ENV = "TIERED_ADMIN_KEYS"
MAX_BODY_BYTES = 32 * 1024 * 1024
_GATEWAY_TABLES = SERVER_TABLES


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    keys: frozenset[str] = field(default=frozenset(), repr=False)
    """Accepted gateway keys; empty means open. Kept out of the repr so it is never logged."""
    requests_per_minute: int | None = None
    usd_per_day: Decimal | None = None
    redis_url: str | None = field(default=None, repr=False)
    fallback: tuple[str, ...] | None = None
    """Chain after a requested catalog model (None: the catalog's tiers, most capable first)."""
    fallback_retries: int = 1
    max_body_bytes: int = MAX_BODY_BYTES
    pass_through_key: bool = False
    """Send each caller's own key upstream instead of the environment's (the upstream authenticates)."""
    learning: LearningSettings | None = None
    """`[learning]` (`tiered.online.settings`); None: nothing is learned, no prompt is logged."""
    state_on_failure: str = "open"
    """When Redis is down: "open" (limits kept in this process) or "closed" (503 overloaded_error)."""
    state_timeout_s: float = 1.0
    named_keys: tuple[GatewayKey, ...] = ()
    """`[[gateway.keys]]`: named keys with their own limits (hashes only)."""
    teams: Mapping[str, TeamLimits] = field(default_factory=dict)
    admin_keys: frozenset[str] = field(default=frozenset(), repr=False)
    """Keys that may read the operator's endpoints (besides named keys with admin = true)."""
    key_store: bool = False
    """Also accept the keys of the request log's key table (`tiered keys create`)."""
    batch_deadline_s: float | None = None
    """A whole (non-streamed) request whose `x-tiered-deadline-s` header allows at least this many seconds
    is answered through the Batches API at its discount (`tiered.gateway.batches`); None: never."""

    @property
    def open(self) -> bool:
        return not self.keys and not self.named_keys and not self.key_store


def parse_keys(raw: str | None) -> frozenset[str]:
    return frozenset(k.strip() for k in (raw or "").split(",") if k.strip())


def gateway_settings(data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                     base_dir: Path | None = None) -> GatewaySettings:
    """Read the `[gateway]`, `[state]` and `[learning]` tables of a config (any may be absent)."""
    env = os.environ if env is None else env
    g = Table(data.get("gateway", {}), "gateway")
    raw_keys = g.raw("keys", None)
    named = parse_keys_table(raw_keys) if isinstance(raw_keys, list) else ()
    keys_var = (g.env("keys") if raw_keys is not None and not isinstance(raw_keys, list) else None) or KEYS_ENV
    admin_var = g.env("admin_keys") or ADMIN_KEYS_ENV
    key_store = g.flag("key_store", False)
    teams = parse_teams(g.raw("teams", {}))
    rpm = g.integer("requests_per_minute", None, minimum=1)
    usd = g.number("usd_per_day", None)
    fallback = g.texts("fallback", None)
    retries = g.integer("fallback_retries", 1)
    max_body = g.integer("max_body_bytes", MAX_BODY_BYTES, minimum=1024)
    pass_through = g.flag("pass_through_key", False)
    batch_deadline = g.number("batch_deadline_s", None)
    g.done()
    keys = parse_keys(env.get(keys_var))
    if pass_through and (keys or named or key_store):
        raise ConfigError(f"gateway.pass_through_key: callers' keys go upstream, so gateway keys (${keys_var}) "
                          "cannot be required as well; unset one of them")
    s = Table(data.get("state", {}), "state")
    redis_url = s.text("redis", None)
    on_failure = s.choice("on_failure", ("open", "closed"), "open")
    timeout_ms = s.integer("timeout_ms", 1000, minimum=1)
    s.done()
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"state.redis: expected a redis:// URL, got {redis_url.split('://')[0]!r}://...")
    return GatewaySettings(
        keys=keys, requests_per_minute=rpm,
        usd_per_day=Decimal(str(usd)) if usd is not None else None, redis_url=redis_url,
        fallback=fallback, fallback_retries=retries, max_body_bytes=max_body, pass_through_key=pass_through,
        learning=learning_settings(data, base_dir=base_dir),
        state_on_failure=on_failure, state_timeout_s=timeout_ms / 1000.0,
        named_keys=named, teams=teams, admin_keys=parse_keys(env.get(admin_var)), key_store=key_store,
        batch_deadline_s=batch_deadline,
    )


def load(path: str | os.PathLike[str] | None, *,
         env: Mapping[str, str] | None = None) -> tuple[Config, GatewaySettings]:
    """The route config and the gateway settings of a file (None: tiered's built-in default route)."""
    if path is None:
        from tiered.routes import DEFAULT_CONFIG

        return parse_config_text(DEFAULT_CONFIG, source="<built-in default>"), gateway_settings({}, env=env)
    p = Path(path)
    data = read_config_file(p)
    library = {k: v for k, v in data.items() if k not in _GATEWAY_TABLES}
    settings = gateway_settings(data, env=env, base_dir=p.parent)
    return parse_config(library, source=str(p), base_dir=p.parent), settings
