from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tiered.datasets import load_dataset
from tiered.evaluation.two_tier import two_tier
from tiered.types import Request


class TableScorer:
    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, request: Request) -> float:
        return self.table[request.prompt_text]


def _write(path: Path, rows: list[tuple[str, float | None, float | None]]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for pid, w, s in rows:
            outcomes = {}
            if w is not None:
                outcomes["weak"] = {"quality": w, "cost_usd": 0.001, "response": "x"}
            if s is not None:
                outcomes["strong"] = {"quality": s, "cost_usd": 0.01, "response": "y" * 40}
            fh.write(json.dumps({"id": pid, "task": "t", "split": None, "prompt": pid, "outcomes": outcomes}) + "\n")
    return path


def test_hand_computed_two_tier_figures(tmp_path: Path) -> None:
    # weak passes p0 only; strong passes p0, p2, p3; p4 lacks the strong model and is dropped
    ds = load_dataset(_write(tmp_path / "tiny.jsonl.gz",
                             [("p0", 1, 1), ("p1", 0, 0), ("p2", 0, 1), ("p3", 0, 1), ("p4", 1, None)]))
    scorer = TableScorer({"p0": 0.1, "p1": 0.2, "p2": 0.9, "p3": 0.5})
    r = two_tier(ds, "weak", "strong", scorer)
    assert (r["n"], r["dropped"]) == (4, 1)
    assert (r["weak_quality"], r["strong_quality"], r["oracle_quality"]) == (0.25, 0.75, 0.75)
    assert r["apgr"] == pytest.approx(0.75)
    assert (r["cpt50"], r["cpt80"]) == (0.25, 0.5)
    # 95% of 0.75 is reached after two strong calls: cost (2 x 1 + 2 x 5) / (4 x 5)
    assert r["cost_ratio_at_95"] == pytest.approx(0.6)
    assert r["share_strong_at_95"] == 0.5
    assert [p["share_strong"] for p in r["curve"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    # the dataset's own cost: 2 x 0.001 + 2 x 0.01 over 4 x 0.01
    assert two_tier(ds, "weak", "strong", scorer, pricing="dataset")["cost_ratio_at_95"] == pytest.approx(0.55)


def _pair_rows(n: int, seed: int) -> list[tuple[str, float | None, float | None]]:
    rng = np.random.default_rng(seed)
    weak = (rng.random(n) < 0.4).astype(float)
    strong = np.maximum(weak, (rng.random(n) < 0.7).astype(float))
    return [(f"p{i}", float(w), float(s)) for i, (w, s) in enumerate(zip(weak, strong, strict=True))]


def test_perfect_and_inverted_routers_bracket_random(tmp_path: Path) -> None:
    rows = _pair_rows(300, 7)
    ds = load_dataset(_write(tmp_path / "pair.jsonl.gz", rows))
    gain = {pid: float(s - w) for pid, w, s in rows if w is not None and s is not None}
    perfect = two_tier(ds, "weak", "strong", TableScorer(gain))
    inverted = two_tier(ds, "weak", "strong", TableScorer({k: -v for k, v in gain.items()}))
    frac = sum(1 for v in gain.values() if v > 0) / len(gain)
    # the perfect router gains everything after `frac` of the calls: APGR = 1 - frac / 2
    assert perfect["apgr"] == pytest.approx(1 - frac / 2, abs=1e-9)
    assert perfect["cpt80"] <= frac + 1e-9
    assert inverted["apgr"] == pytest.approx(frac / 2, abs=1e-9)
    assert perfect["apgr"] > 0.5 > inverted["apgr"]
