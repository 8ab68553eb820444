"""Fixtures for provider tests: the scripted fake upstream (see fake_upstream.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_upstream import FakeUpstream, running_fake_upstream


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[tuple[str, FakeUpstream]]:
    with running_fake_upstream() as served:
        yield served
