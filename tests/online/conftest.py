"""Fixtures for the learning loop's gateway tests: a gateway in front of a replaying emulator, with keys,
a SQLite request log per gateway and an optional `[learning]` table, built through the real config loader."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

# The SDK is imported before any gateway starts: its import alone takes ~10 s on this loaded 2-core machine,
# which a gateway's start-up (building its upstream clients) would otherwise pay inside its start timeout.
import anthropic  # noqa: F401
import pytest
from online_support import KEYS, ServedLoop, StartLoop

from tiered.config import parse_config
from tiered.emulator.config import EmulatorConfig, ReplayConfig
from tiered.emulator.testing import running_emulator
from tiered.gateway import build_gateway
from tiered.gateway.settings import gateway_settings
from tiered.gateway.testing import running_gateway


@pytest.fixture(scope="module")
def replaying_emulator() -> Iterator[str]:
    """An emulator answering as routerbench3's models did (and playing the judge from that data)."""
    with running_emulator(EmulatorConfig(replay=ReplayConfig(dataset="routerbench3", models={}))) as url:
        yield url


@pytest.fixture
def start_loop(tmp_path: Path) -> Iterator[StartLoop]:
    """`start_loop(upstream, routes=TOML, learning=TOML-or-None, telemetry=TOML-or-None, state=TOML)`."""
    import tomllib

    with ExitStack() as stack:
        count = 0

        def start(upstream: str, *, routes: str, learning: str | None = None, telemetry: str | None = None,
                  state: str = "") -> ServedLoop:
            nonlocal count
            count += 1
            db = tmp_path / f"requests-{count}.db"
            tel = telemetry or f'[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\npath = "{db}"\n'
            text = f'[backend]\nkind = "emulator"\nbase_url = "{upstream}"\n{tel}{routes}{learning or ""}{state}'
            data = tomllib.loads(text)
            library = {k: v for k, v in data.items() if k not in ("learning", "state", "gateway")}
            config = parse_config(library, source="test", base_dir=tmp_path)
            settings = gateway_settings(data, env={"TIERED_GATEWAY_KEYS": ",".join(KEYS)}, base_dir=tmp_path)
            app = build_gateway(config, settings, env={})
            url = stack.enter_context(running_gateway(app))
            return ServedLoop(url, app, db)

        yield start
