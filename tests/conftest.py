"""Shared fixtures: a local Anthropic API emulator (tiered.emulator) for real-HTTP tests, fake tier models, Redis,
and a throwaway PostgreSQL schema (the machine's servers, else private ones: see local_services.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack

import pytest

from local_services import Unavailable, postgres_server, redis_server
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


def _server_or_skip(start: Callable[[], AbstractContextManager[str]], module: str) -> Iterator[str]:
    pytest.importorskip(module)
    with ExitStack() as stack:
        try:
            address = stack.enter_context(start())
        except Unavailable as e:
            pytest.skip(str(e))
        yield address


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL for the session; skips (saying why) only when no server can be had."""
    yield from _server_or_skip(redis_server, "redis")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A PostgreSQL DSN (trust auth, db `test`) for the session; skips (saying why) only when no server can be had."""
    yield from _server_or_skip(postgres_server, "psycopg")


@pytest.fixture
def postgres_schema(postgres_dsn: str) -> Iterator[str]:
    """A fresh schema name on the test server, dropped afterwards."""
    import psycopg

    admin = psycopg.connect(postgres_dsn, autocommit=True)
    name = f"tiered_test_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.close()
