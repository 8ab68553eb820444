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
