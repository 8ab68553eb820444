from __future__ import annotations

from collections.abc import Callable

import pytest

from tiered.catalog import Catalog
from tiered.models.fake import Answer, FakeModel
from tiered.models.registry import ModelSet
from tiered.runtime.clock import ManualClock
from tiered.types import Request

Fn = Callable[[Request], Answer]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fakes(catalog: Catalog) -> Callable[..., ModelSet]:
    """`fakes(haiku=fn, opus=fn)`: a ModelSet of FakeModels named as the catalog's models of those tiers."""

    def build(**fns: Fn) -> ModelSet:
        models = {}
        for tier, fn in fns.items():
            info = catalog.resolve(tier)
            models[info.id] = FakeModel(fn, name=info.id)
        return ModelSet(catalog, models)

    return build
