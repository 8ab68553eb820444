"""An emulator on a free 127.0.0.1 port for the duration of a `with` block, for tests.

    with running_emulator() as base_url:          # base_url has no /v1, as the SDK wants it
        client = anthropic.Anthropic(api_key="test-key", base_url=base_url)

The server runs in a background thread with its own event loop, so sync and async tests can both
use it; leaving the block stops it and joins the thread. `running_emulator_app` also yields the
`Emulator` instance, whose state (e.g. `attempts`) a test may inspect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tiered.emulator.app import Emulator
from tiered.emulator.config import EmulatorConfig
from tiered.emulator.server import make_server
from tiered.serving import serving_in_thread


@contextmanager
def running_emulator_app(config: EmulatorConfig | None = None) -> Iterator[tuple[str, Emulator]]:
    """Yield the base URL (no /v1) and the `Emulator` serving `config`."""
    app = Emulator(config)
    with serving_in_thread(lambda host, port: make_server(app, host=host, port=port), name="emulator") as url:
        yield url, app


@contextmanager
def running_emulator(config: EmulatorConfig | None = None) -> Iterator[str]:
    """Yield the base URL (no /v1) of an emulator serving `config` (default: no faults, no latency)."""
    with running_emulator_app(config) as (url, _):
        yield url
