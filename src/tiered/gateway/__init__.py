"""`tiered serve`: an Anthropic Messages API (and OpenAI chat completions) endpoint in front of tiered's
policies, so existing SDKs and Claude Code only change `ANTHROPIC_BASE_URL`.

The gateway is thin on purpose: it adapts HTTP to the library and back (`app`, `messages`,
`openai_chat`), and everything that decides (routes, fallbacks, cascades, pricing, records) is the
library's own code, run by the same driver a library caller uses. Around that: who may call (`auth`),
how often and for how much (`limits`, `redis_limits`), what it cost and how it went (`metrics`,
`recorder`), and which policy a request names (`selection`, `settings`).

    from tiered.gateway import build_gateway
    app = build_gateway()                 # an ASGI app; offline replay, open, SQLite log
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiered.config import Config
    from tiered.gateway.app import Gateway
    from tiered.gateway.settings import GatewaySettings

__all__ = ["build_gateway"]


def build_gateway(config: Config | None = None, settings: GatewaySettings | None = None, *,
                  sinks: list[Any] | None = None, env: Mapping[str, str] | None = None) -> Gateway:
    """The gateway app for `config` (default: tiered's built-in route) and `settings` (default: open,
    no limits; keys from $TIERED_GATEWAY_KEYS)."""
    from tiered.gateway.app import Gateway
    from tiered.gateway.core import Core
    from tiered.gateway.settings import gateway_settings, load

    if config is None:
        config, default_settings = load(None, env=env)
        settings = settings or default_settings
    settings = settings or gateway_settings({}, env=env)
    core = Core(config, settings, sinks=sinks, env=env)
    core.check_backend(env)
    return Gateway(core)
