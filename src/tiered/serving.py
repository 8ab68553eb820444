"""A uvicorn server on a free 127.0.0.1 port, in a thread, for the length of a `with` block (and a server
command in its own process: `serving_in_process`).

    with serving_in_thread(lambda host, port: make_server(app, host=host, port=port), name="emulator") as url:
        ...

What `tiered.emulator.testing` and `tiered.gateway.testing` both run: the socket is bound before
the server starts (no port race), the server runs in its own thread with its own event loop (so
sync and async tests can both use it), and leaving the block asks it to exit (the app's shutdown
runs, if it has one) and joins the thread.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
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


@contextmanager
def serving_in_process(args: Sequence[str], health_url: str, log: Path, *, env: Mapping[str, str] | None = None,
                       append: bool = False, start_timeout_s: float = START_TIMEOUT_S,
                       stop_timeout_s: float = 30.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server command (`tiered serve ...`, `tiered emulator ...`) as an operator would, until the block ends.

    Its output goes to `log` (a pipe nobody read would fill and stall it; `append` keeps an earlier run's);
    the block starts once `health_url` answers below 500. Leaving it sends SIGTERM, then SIGKILL after
    `stop_timeout_s`, unless the process has already ended (a test may kill it itself).
    """
    import httpx2

    with log.open("ab" if append else "wb") as out:
        proc = subprocess.Popen(list(args), env=None if env is None else dict(env), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                if httpx2.get(health_url, timeout=1).status_code < 500:
                    break
            except httpx2.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(args[:3])} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
