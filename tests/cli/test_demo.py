from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tiered.cli import main


def test_demo_runs_offline_and_exits_zero() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    proc = subprocess.run([sys.executable, "-c", "from tiered.cli import main; main()", "demo"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("always-haiku", "always-sonnet", "always-opus", "router", "cascade", "taskmap"):
        assert name in out
    assert "Pareto frontier" in out
    assert "fallback" in out and "overloaded_error -> " in out  # the 529s were injected and fallen back from
    assert "delegate" in out and "synthesize" in out
    assert "The learning loop" in out and "saving at 95% of opus quality" in out
    assert "prompt-cache-aware routing: $" in out and "cache-blind" in out


def test_demo_json_figures_are_consistent() -> None:
    res = CliRunner().invoke(main, ["demo", "--json", "--no-patterns"], catch_exceptions=False)
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    points = {p["policy"]: p for p in data["policies"]}
    assert data["n"] == 945
    assert points["always-opus"]["cost_ratio"] == pytest.approx(1.0)
    assert points["always-haiku"]["cost_ratio"] < points["always-sonnet"]["cost_ratio"] < 1.0
    for p in points.values():
        assert 0.0 <= p["quality"] <= 1.0
        assert p["latency_p50_ms"] <= p["latency_p95_ms"]
    frontier = [(p["cost_ratio"], p["quality"]) for p in data["frontier"]]
    assert frontier == sorted(frontier)
    assert data["patterns"] == []
    # one headline line, and a reason for every row dearer than always-opus (issue 8, item 8)
    assert data["headline"].startswith("Best: ") and "of always-opus cost at" in data["headline"]
    dearer = [p["policy"] for p in data["policies"] if p["cost_ratio"] > 1.0 + 1e-9]
    assert len(data["over_top"]) == len(dearer)
    for policy, why in zip(dearer, data["over_top"], strict=True):
        assert why.startswith(f"{policy} costs ") and "pays for every tier it tries" in why
    loop = data["learning"]
    assert [p["k"] for p in loop] == [0, 100, 300, 1000]
    assert loop[0]["apgr"] == pytest.approx(loop[0]["prior_apgr"])  # no labels: exactly the prior
    for p in loop:
        assert 0.0 <= p["saving_at_95"] < 1.0 and p["apgr"] >= p["prior_apgr"] - 0.01  # never much below the prior
    costs = [p["labels_cost_usd"] for p in loop]
    assert costs[0] == 0.0 and costs == sorted(costs) and costs[-1] == pytest.approx(1000 * costs[1] / 100)
