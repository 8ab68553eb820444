"""A gateway on a free 127.0.0.1 port for the length of a `with` block, for tests and benchmarks.

    with running_gateway(build_gateway(config, settings)) as base_url:
        client = anthropic.Anthropic(api_key="k", base_url=base_url)

The server runs in a thread with its own event loop (`tiered.serving`, as for the emulator), so sync and
async tests both use it; leaving the block runs the app's shutdown (records flushed, clients
closed) and joins the thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tiered.gateway.app import Gateway
from tiered.gateway.server import make_server
from tiered.serving import serving_in_thread


@contextmanager
def running_gateway(app: Gateway) -> Iterator[str]:
    with serving_in_thread(lambda host, port: make_server(app, host=host, port=port), name="gateway") as url:
        yield url
