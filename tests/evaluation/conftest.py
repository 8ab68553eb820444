from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tiered.datasets import Dataset, load_dataset

MODELS = {"haiku": "small-7b", "sonnet": "mid-70b", "opus": "big-1t"}


def _outcome(quality: float, inp: int, out: int, text: str, cost: float) -> dict[str, object]:
    return {"quality": quality, "cost_usd": cost, "input_tokens": inp, "output_tokens": out, "response": text}


ROWS = [
    # id, task, (quality small, mid, big), input tokens, output tokens per model
    ("q0", "easy", (1.0, 1.0, 1.0), 1000, (100, 200, 300)),
    ("q1", "easy", (0.0, 1.0, 1.0), 2000, (100, 100, 100)),
    ("q2", "hard", (0.0, 0.0, 1.0), 400, (50, 60, 70)),
    ("q3", "hard", (0.0, 0.0, 0.0), 800, (10, 20, 30)),
]


def write_synthetic(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "outcomes.jsonl.gz", "wt", encoding="utf-8") as fh:
        for item_id, task, quality, inp, outs in ROWS:
            outcomes = {
                model: _outcome(q, inp, out, "sure" if q else "maybe", cost=0.001 * (k + 1))
                for k, (model, q, out) in enumerate(zip(MODELS.values(), quality, outs, strict=True))
            }
            line = {"id": item_id, "source": "synthetic", "task": task, "split": "test",
                    "prompt": f"prompt {item_id}", "outcomes": outcomes}
            fh.write(json.dumps(line) + "\n")
    (folder / "models.json").write_text(json.dumps({m: {"tier_hint": t} for t, m in MODELS.items()}))
    return folder


@pytest.fixture
def synthetic_tiers() -> dict[str, str]:
    """tier -> the synthetic dataset's model playing it."""
    return dict(MODELS)


@pytest.fixture
def synthetic_rows() -> list[tuple[str, str, tuple[float, float, float], int, tuple[int, int, int]]]:
    return list(ROWS)


@pytest.fixture
def synthetic(tmp_path: Path) -> Dataset:
    return load_dataset(write_synthetic(tmp_path / "synthetic"))


@pytest.fixture
def synthetic_path(tmp_path: Path) -> Path:
    return write_synthetic(tmp_path / "synthetic")
