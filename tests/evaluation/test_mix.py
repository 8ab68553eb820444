"""`tiered eval` reports each policy's distance from the random mix of its own tiers (issue 9.8)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from tiered.evaluation.mix import distance, mix_line, mix_quality, vs_mix
from tiered.evaluation.pareto import Point

ALWAYS = {"haiku": Point("always-haiku", 0.05, 0.5, {"tier": "haiku"}),
          "sonnet": Point("always-sonnet", 0.3, 0.6, {"tier": "sonnet"}),
          "opus": Point("always-opus", 1.0, 0.8, {"tier": "opus"})}
NAMES = ("haiku", "sonnet", "opus")


def test_the_line_is_the_upper_hull_of_the_tiers_always_points() -> None:
    assert mix_line(ALWAYS, NAMES) == [(0.05, 0.5), (0.3, 0.6), (1.0, 0.8)]
    assert mix_line(ALWAYS, ("haiku", "opus")) == [(0.05, 0.5), (1.0, 0.8)]
    worse_middle = {**ALWAYS, "sonnet": Point("always-sonnet", 0.5, 0.55)}
    assert mix_line(worse_middle, NAMES) == [(0.05, 0.5), (1.0, 0.8)]  # a tier under the line is never mixed in
    line = mix_line(ALWAYS, ("haiku", "opus"))
    assert mix_quality(line, 0.525) == pytest.approx(0.65)
    assert mix_quality(line, 0.01) == 0.5 and mix_quality(line, 2.0) == 0.8


def test_distance_uses_the_policys_own_tiers() -> None:
    cascade = Point("cascade haiku>opus", 0.525, 0.62, {"tiers": ["haiku", "opus"], "thresholds": {"haiku": 0.5}})
    assert distance(cascade, ALWAYS, NAMES) == pytest.approx(-0.03)
    router = Point("router", 0.3, 0.66, {"cuts": [0.3, 0.6]})  # all three tiers: the line passes (0.3, 0.6)
    assert distance(router, ALWAYS, NAMES) == pytest.approx(0.06)
    v = vs_mix("cascade haiku>opus", [cascade, Point("cascade haiku>opus", 0.525, 0.7, {"tiers": ["haiku", "opus"]})],
               ALWAYS, NAMES)
    assert v.tiers == ("haiku", "opus") and v.points == 2
    assert v.mean == pytest.approx(0.01) and v.best == pytest.approx(0.05) and v.above == 0.5


def _dataset(folder: Path) -> Path:
    """60 prompts, three models of rising quality and price, answers of varying length and hedging."""
    rng = random.Random(5)
    rows = []
    for i in range(60):
        outcomes = {}
        for name, p_good, words in (("small", 0.45, 20), ("mid", 0.6, 40), ("big", 0.8, 60)):
            hedge = "I think it is probably " if rng.random() < 0.3 else "It is "
            outcomes[name] = {"quality": float(rng.random() < p_good), "cost_usd": None, "input_tokens": 50,
                              "output_tokens": words, "response": hedge + "word " * rng.randint(1, words)}
        rows.append({"id": f"q{i}", "source": "t", "task": "t", "split": None, "prompt": f"Question {i}?",
                     "outcomes": outcomes})
    data = folder / "tiny3"
    data.mkdir()
    with gzip.open(data / "outcomes.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return data


def test_eval_reports_the_distance_from_the_random_mix(tmp_path: Path) -> None:
    from tiered.datasets import load_dataset
    from tiered.evaluation.replay import TierMap
    from tiered.evaluation.report import VS_MIX_HEADER, text_evaluation
    from tiered.evaluation.suite import evaluate

    tiers = TierMap.parse("haiku=small,sonnet=mid,opus=big")
    ev = evaluate(load_dataset(_dataset(tmp_path)), tiers, policies=("always", "random", "cascade"), steps=3)
    rows = {v["policy"]: v for v in ev.to_json()["vs_mix"]}
    assert "always-haiku" not in rows and rows["cascade haiku>opus"]["tiers"] == ["haiku", "opus"]
    assert rows["cascade haiku>sonnet>opus"]["tiers"] == ["haiku", "sonnet", "opus"]
    cascade = next(c for c in ev.curves if c.name == "cascade haiku>opus")
    expected = [distance(p, ev.always, tiers.names) for p in cascade.points]
    assert rows["cascade haiku>opus"]["mean"] == pytest.approx(sum(expected) / len(expected))
    assert rows["cascade haiku>opus"]["points"] == len(cascade.points)
    text = text_evaluation(ev).splitlines()
    section = text[text.index(VS_MIX_HEADER):]
    line = next(ln for ln in section if ln.startswith("cascade haiku>opus "))
    assert f"{rows['cascade haiku>opus']['mean']:+.3f}" in line and line.split()[2] == "haiku>opus"
    losers = [v for v in rows.values() if v["best"] <= 1e-9]
    assert losers  # on this data the three-tier cascade never beats the coin
    for v in losers:
        assert any(ln.startswith(f"{v['policy']}: below the random mix") for ln in section)
