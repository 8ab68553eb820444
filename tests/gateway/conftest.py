"""Fixtures for gateway tests: a gateway served on a free port whose upstream is tiered's emulator.

`serve_gateway(emulator_url, ...)` builds the config the way `tiered serve --backend emulator` does
(a TOML text through the real loader), with the request log in a per-test SQLite file, and serves it
in a thread for the rest of the test. Upstream keys are never read from this process's environment
(`env={}`), so the emulator gets its placeholder key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tiered.config import parse_config_text
from tiered.gateway import build_gateway
from tiered.gateway.app import Gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway
from tiered.records import Record
from tiered.telemetry.sqlite import SqliteSink

KEY = "gw-test-key-0123456789"
FALLBACK_ROUTE = """
[routes.default]
policy = "fallback"
chain = ["opus", "sonnet", "haiku"]
retries = 0
"""


@dataclass
class Served:
    url: str
    app: Gateway
    db: Path

    def flush(self) -> None:
        self.app.core.recorder.flush()

    def records(self, expected: int, timeout_s: float = 5.0) -> list[Record]:
        """The stored records once `expected` are there: a stream's record is written just after its
        last byte, which the client may read first."""
        deadline = time.monotonic() + timeout_s
        with SqliteSink(self.db) as log:
            while True:
                self.flush()
                found = log.records()
                if len(found) >= expected or time.monotonic() > deadline:
                    return found
                time.sleep(0.01)


ServeGateway = Callable[..., Served]


@pytest.fixture
def serve_gateway(tmp_path: Path) -> Iterator[ServeGateway]:
    with ExitStack() as stack:
        count = 0

        def start(upstream: str, *, routes: str = FALLBACK_ROUTE, settings: GatewaySettings | None = None) -> Served:
            nonlocal count
            count += 1
            db = tmp_path / f"requests-{count}.db"
            text = (f'[backend]\nkind = "emulator"\nbase_url = "{upstream}"\n'
                    f'[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\npath = "{db}"\n{routes}')
            config = parse_config_text(text, source="test")
            app = build_gateway(config, settings or GatewaySettings(keys=frozenset({KEY})), env={})
            url = stack.enter_context(running_gateway(app))
            return Served(url, app, db)

        yield start
