"""Fixtures for gateway tests: a gateway served on a free port whose upstream is tiered's emulator.

`serve_gateway(emulator_url, ...)` builds the config the way `tiered serve --backend emulator` does
(a TOML text through the real loader), with the request log in a per-test SQLite file, and serves it
in a thread for the rest of the test. Upstream keys are never read from this process's environment
(`env={}`), so the emulator gets its placeholder key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from gateway_support import FALLBACK_ROUTE, KEY, Served, ServeGateway

from tiered.config import parse_config_text
from tiered.gateway import build_gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway


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
