"""A uvicorn server on a free 127.0.0.1 port, in a thread, for the length of a `with` block.

    with serving_in_thread(lambda host, port: make_server(app, host=host, port=port), name="emulator") as url:
        ...

What `tiered.emulator.testing` and `tiered.gateway.testing` both run: the socket is bound before
the server starts (no port race), the server runs in its own thread with its own event loop (so
sync and async tests can both use it), and leaving the block asks it to exit (the app's shutdown
runs, if it has one) and joins the thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

START_TIMEOUT_S = 60.0
"""Generous: a gateway's start-up builds its models (the SDK import took 12 s at load 13 on a shared 2-core box)."""


def bound_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready socket on `port` (0: a free one), handed to uvicorn so no port race exists."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextmanager
def serving_in_thread(make_server: Callable[[str, int], Any], *, name: str) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT`) while `make_server(host, port)` (a `uvicorn.Server`) serves.

    `name` names the thread (`name:PORT`) and the error raised when the server does not start within
    `START_TIMEOUT_S`.
    """
    sock = bound_socket()
    host, port = sock.getsockname()[:2]
    server = make_server(host, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"{name}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the {name} did not start on {host}:{port}")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        sock.close()
