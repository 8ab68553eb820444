"""Serving the gateway with uvicorn: in this process, or as N worker processes.

One process serves with `make_server(app)` (also what `tiered.gateway.testing` runs in a thread).
Several workers need an app each process can build on its own, so `serve` hands uvicorn the import
string of `from_env`, a factory that rebuilds the gateway from the environment variables `serve`
set (config path, backend override). With workers, limits and breakers would be per process unless
`[state] redis` shares them (each worker would allow the whole rate and budget), so `workers > 1`
without it refuses to start unless `local_limits` (`--local-limits`) says that is meant. /metrics
shows the counters of whichever worker answers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from tiered.config import Config
from tiered.gateway import build_gateway
from tiered.gateway.app import Gateway
from tiered.gateway.settings import GatewaySettings, load

log = logging.getLogger("tiered.gateway")
CONFIG_ENV = "TIERED_SERVE_CONFIG"
BACKEND_ENV = "TIERED_SERVE_BACKEND"
UPSTREAM_ENV = "TIERED_SERVE_UPSTREAM"


def make_server(app: Gateway, *, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A `uvicorn.Server` for `app` (typed Any: uvicorn ships no stubs)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, http="httptools", loop="auto", lifespan="on",
                            access_log=False, log_level="warning", timeout_keep_alive=30, backlog=4096)
    return uvicorn.Server(config)


def configure(path: str | None, backend: str | None, upstream: str | None) -> tuple[Config, GatewaySettings]:
    """The config file (or the built-in default) with the command line's backend override applied."""
    config, settings = load(path)
    b = config.backend
    if backend is not None or upstream is not None:
        b = dataclasses.replace(b, kind=backend or b.kind, base_url=upstream or b.base_url)  # type: ignore[arg-type]
        config = dataclasses.replace(config, backend=b)
    if b.kind == "emulator" and not b.base_url:
        from tiered.errors import ConfigError

        raise ConfigError("--backend emulator needs --upstream URL (or [backend] base_url)")
    return config, settings


def check_workers(workers: int, settings: GatewaySettings, *, local_limits: bool) -> None:
    """Refuse `workers > 1` without shared state: every per-key limit and budget would be multiplied."""
    if workers > 1 and not settings.redis_url and not local_limits:
        from tiered.errors import ConfigError

        raise ConfigError(f"--workers {workers} without [state] redis would give each worker its own rate limits, "
                          f"budgets and breakers ({workers}x every per-key limit); set [state] redis, or pass "
                          "--local-limits to accept that")


def from_env() -> Gateway:
    """The uvicorn factory for worker processes (see the module docstring)."""
    config, settings = configure(os.environ.get(CONFIG_ENV) or None, os.environ.get(BACKEND_ENV) or None,
                                 os.environ.get(UPSTREAM_ENV) or None)
    return build_gateway(config, settings)


def serve(path: str | None, *, host: str, port: int, backend: str | None = None, upstream: str | None = None,
          workers: int = 1, local_limits: bool = False) -> None:
    """Serve until interrupted. Checks the config first, so a mistake fails before the port opens."""
    config, settings = configure(path, backend, upstream)
    check_workers(workers, settings, local_limits=local_limits)
    app = build_gateway(config, settings)  # every check runs here, before the port opens
    if settings.open and not settings.pass_through_key:
        log.warning("no gateway keys ($TIERED_GATEWAY_KEYS is unset): the gateway is open to anyone who "
                    "reaches %s:%d", host, port)
    log.info("tiered gateway on http://%s:%d (backend %s, routes %s, %d worker%s); Ctrl-C to stop", host, port,
             config.backend.kind, ", ".join(config.routes), workers, "" if workers == 1 else "s")
    if workers <= 1:
        make_server(app, host=host, port=port).run()
        return
    import asyncio

    import uvicorn

    asyncio.run(app.core.aclose())  # each worker builds its own

    os.environ[CONFIG_ENV] = path or ""
    os.environ[BACKEND_ENV] = backend or ""
    os.environ[UPSTREAM_ENV] = upstream or ""
    uvicorn.run("tiered.gateway.server:from_env", factory=True, host=host, port=port, workers=workers,
                http="httptools", lifespan="on", access_log=False, log_level="warning")
