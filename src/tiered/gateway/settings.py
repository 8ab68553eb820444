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
    [state]
    redis = "redis://127.0.0.1:6379/0" # share limits, budgets and breakers between replicas

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

from tiered.config import Config, parse_config, parse_config_text, read_config_file
from tiered.config_tables import Table
from tiered.errors import ConfigError

KEYS_ENV = "TIERED_GATEWAY_KEYS"
MAX_BODY_BYTES = 32 * 1024 * 1024
_GATEWAY_TABLES = ("gateway", "state")


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
    batch_deadline_s: float | None = None
    """A whole (non-streamed) request whose `x-tiered-deadline-s` header allows at least this many seconds
    is answered through the Batches API at its discount (`tiered.gateway.batches`); None: never."""

    @property
    def open(self) -> bool:
        return not self.keys


def parse_keys(raw: str | None) -> frozenset[str]:
    return frozenset(k.strip() for k in (raw or "").split(",") if k.strip())


def gateway_settings(data: Mapping[str, Any], *, env: Mapping[str, str] | None = None) -> GatewaySettings:
    """Read the `[gateway]` and `[state]` tables of a config (either may be absent)."""
    env = os.environ if env is None else env
    g = Table(data.get("gateway", {}), "gateway")
    keys_var = g.env("keys") or KEYS_ENV
    rpm = g.integer("requests_per_minute", None, minimum=1)
    usd = g.number("usd_per_day", None)
    fallback = g.texts("fallback", None)
    retries = g.integer("fallback_retries", 1)
    max_body = g.integer("max_body_bytes", MAX_BODY_BYTES, minimum=1024)
    pass_through = g.flag("pass_through_key", False)
    batch_deadline = g.number("batch_deadline_s", None)
    g.done()
    keys = parse_keys(env.get(keys_var))
    if pass_through and keys:
        raise ConfigError(f"gateway.pass_through_key: callers' keys go upstream, so gateway keys (${keys_var}) "
                          "cannot be required as well; unset one of them")
    s = Table(data.get("state", {}), "state")
    redis_url = s.text("redis", None)
    s.done()
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"state.redis: expected a redis:// URL, got {redis_url.split('://')[0]!r}://...")
    return GatewaySettings(
        keys=keys, requests_per_minute=rpm,
        usd_per_day=Decimal(str(usd)) if usd is not None else None, redis_url=redis_url,
        fallback=fallback, fallback_retries=retries, max_body_bytes=max_body, pass_through_key=pass_through,
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
    return parse_config(library, source=str(p), base_dir=p.parent), gateway_settings(data, env=env)
