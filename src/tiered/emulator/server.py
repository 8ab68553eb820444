"""Serving the emulator with uvicorn (httptools, no access log): the one place that knows uvicorn.

Both the CLI and the test fixture go through `make_server`, so they run the same stack the
throughput bench measures.
"""

from __future__ import annotations

from typing import Any

from tiered.emulator.app import Emulator
from tiered.emulator.config import EmulatorConfig


def make_server(app: Emulator, *, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A `uvicorn.Server` for `app` (typed Any: uvicorn ships no stubs)."""
    import uvicorn  # lazily: importing tiered.emulator must not pull in the server stack

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        loop="auto",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        backlog=4096,
        timeout_graceful_shutdown=2,  # an abandoned slow stream must not hold a test's teardown
    )
    return uvicorn.Server(config)


def serve(config: EmulatorConfig, *, host: str = "127.0.0.1", port: int) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    make_server(Emulator(config), host=host, port=port).run()
