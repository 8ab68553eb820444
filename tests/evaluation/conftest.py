from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_data import write_synthetic

from tiered.datasets import Dataset, load_dataset


@pytest.fixture
def synthetic(tmp_path: Path) -> Dataset:
    return load_dataset(write_synthetic(tmp_path / "synthetic"))


@pytest.fixture
def synthetic_path(tmp_path: Path) -> Path:
    return write_synthetic(tmp_path / "synthetic")
