"""Shared fixtures: a local Anthropic API emulator (tiered.emulator) for real-HTTP tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tiered.emulator.config import EmulatorConfig
from tiered.emulator.testing import running_emulator


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """Base URL (no /v1) of an emulator with the default config, shared by the whole session."""
    with running_emulator() as url:
        yield url


@pytest.fixture
def start_emulator() -> Iterator[Callable[[EmulatorConfig], str]]:
    """A factory: `start_emulator(config)` -> base URL of a fresh emulator, stopped after the test."""
    with ExitStack() as stack:
        yield lambda config: stack.enter_context(running_emulator(config))
