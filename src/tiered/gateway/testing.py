"""A gateway on a free 127.0.0.1 port for the length of a `with` block, for tests and benchmarks.

    with running_gateway(build_gateway(config, settings)) as base_url:
        client = anthropic.Anthropic(api_key="k", base_url=base_url)

The server runs in a thread with its own event loop (as `tiered.emulator.testing` does), so sync and
async tests both use it; leaving the block runs the app's shutdown (records flushed, clients
closed) and joins the thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tiered.emulator.server import bound_socket
from tiered.gateway.app import Gateway
from tiered.gateway.server import make_server

START_TIMEOUT_S = 10.0


@contextmanager
def running_gateway(app: Gateway) -> Iterator[str]:
    sock = bound_socket()
    host, port = sock.getsockname()[:2]
    server = make_server(app, host=host, port=port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"gateway:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the gateway did not start on {host}:{port}")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        sock.close()
