from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.datasets import packaged_data_dir, resolve_dataset_path

TIERS = "haiku=mistralai/mistral-7b-chat,sonnet=gpt-3.5-turbo-1106,opus=gpt-4-1106-preview"
FAST = ["--policy", "always", "--policy", "oracle", "--policy", "random", "--policy", "taskmap",
        "--policy", "cascade", "--steps", "3"]


def _run(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize("where", ["shared", "packaged"])
def test_three_tier_json_shape(where: str) -> None:
    path = resolve_dataset_path("routerbench3") if where == "shared" else packaged_data_dir() / "routerbench3"
    assert where == "packaged" or "shared" in str(path)
    data = _run(["eval", str(path), "--tiers", TIERS, "--split", "test", "--json", *FAST])
    assert data["n"] == 945
    assert set(data["always"]) == {"haiku", "sonnet", "opus"}
    assert data["always"]["opus"]["cost_ratio"] == pytest.approx(1.0)
    assert data["always"]["haiku"]["quality"] < data["always"]["sonnet"]["quality"] < data["always"]["opus"]["quality"]
    names = {p["name"] for p in data["policies"]}
    assert {"always-haiku", "always-sonnet", "always-opus", "oracle", "random", "taskmap"} <= names
    assert any(n.startswith("cascade") for n in names)
    for policy in data["policies"]:
        for point in policy["points"]:
            assert {"cost_ratio", "quality", "escalation_rate", "tier_mix"} <= set(point)
            assert sum(point["tier_mix"].values()) == pytest.approx(1.0)
    front = data["frontier"]
    assert front and all({"policy", "cost_ratio", "quality"} <= set(p) for p in front)
    assert [p["cost_ratio"] for p in front] == sorted(p["cost_ratio"] for p in front)
    assert [p["quality"] for p in front] == sorted(p["quality"] for p in front)
    oracle = next(p for p in data["policies"] if p["name"] == "oracle")["points"][0]
    assert oracle["quality"] > data["always"]["opus"]["quality"]


def test_two_tier_json_shape_and_random_router() -> None:
    data = _run(["eval", "routerbench3", "--weak", "mistralai/mistral-7b-chat", "--strong", "gpt-4-1106-preview",
                 "--router", "random", "--split", "test", "--json"])
    for key in ("n", "weak_quality", "strong_quality", "oracle_quality", "apgr", "cpt50", "cpt80",
                "cost_ratio_at_95", "curve", "dropped"):
        assert key in data
    assert data["n"] + data["dropped"] == 946
    assert data["weak_quality"] < data["strong_quality"] <= data["oracle_quality"]
    assert 0.4 < data["apgr"] < 0.6
    assert data["curve"][0]["share_strong"] == 0.0 and data["curve"][-1]["cost_ratio"] == pytest.approx(1.0)
    assert 0.0 < data["cost_ratio_at_95"] <= 1.0


def test_report_writes_html_and_pngs(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["eval", "routerbench3", "--tiers", TIERS, "--split", "test",
                                       "--report", str(out), "--policy", "always", "--policy", "random",
                                       "--steps", "3"])
    assert result.exit_code == 0, result.output
    assert "Pareto frontier" in result.stdout
    html = (out / "index.html").read_text()
    assert "cost_quality_0.png" in html and "per_task_0.png" in html
    assert (out / "cost_quality_0.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments_are_usage_errors() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["eval", "routerbench3"]).exit_code == 2
    assert runner.invoke(main, ["eval", "routerbench3", "--weak", "a"]).exit_code == 2
    res = runner.invoke(main, ["eval", "routerbench3", "--weak", "nope", "--strong", "gpt-4-1106-preview",
                               "--router", "length", "--json"])
    assert res.exit_code == 1 and "no item" in res.output
