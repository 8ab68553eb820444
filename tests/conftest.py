"""Shared fixtures: a local Anthropic API emulator (tiered.emulator) for real-HTTP tests, and fake tier models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tiered.catalog import Catalog
from tiered.emulator.config import EmulatorConfig
from tiered.emulator.testing import running_emulator
from tiered.models.fake import Answer, FakeModel
from tiered.models.registry import ModelSet
from tiered.runtime.clock import ManualClock
from tiered.types import Request


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


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fakes(catalog: Catalog) -> Callable[..., ModelSet]:
    """`fakes(haiku=fn, opus=fn)`: a ModelSet of FakeModels named as the catalog's models of those tiers."""

    def build(**fns: Callable[[Request], Answer]) -> ModelSet:
        models = {}
        for tier, fn in fns.items():
            info = catalog.resolve(tier)
            models[info.id] = FakeModel(fn, name=info.id)
        return ModelSet(catalog, models)

    return build
