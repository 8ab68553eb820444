"""An emulator on a free 127.0.0.1 port for the duration of a `with` block, for tests.

    with running_emulator() as base_url:          # base_url has no /v1, as the SDK wants it
        client = anthropic.Anthropic(api_key="test-key", base_url=base_url)

The server runs in a background thread with its own event loop, so sync and async tests can both
use it; leaving the block stops it and joins the thread. `running_emulator_app` also yields the
`Emulator` instance, whose state (e.g. `attempts`) a test may inspect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tiered.emulator.app import Emulator
from tiered.emulator.config import EmulatorConfig
from tiered.emulator.server import bound_socket, make_server

START_TIMEOUT_S = 10.0


@contextmanager
def running_emulator_app(config: EmulatorConfig | None = None) -> Iterator[tuple[str, Emulator]]:
    app = Emulator(config)
    sock = bound_socket()
    host, port = sock.getsockname()[:2]
    server = make_server(app, host=host, port=port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"emulator:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the emulator did not start on {host}:{port}")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        sock.close()


@contextmanager
def running_emulator(config: EmulatorConfig | None = None) -> Iterator[str]:
    """Yield the base URL (no /v1) of an emulator serving `config` (default: no faults, no latency)."""
    with running_emulator_app(config) as (url, _):
        yield url
