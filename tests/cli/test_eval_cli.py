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


def _unsplit(folder: Path) -> Path:
    """Four prompts with no train/test label, as a held-out benchmark set often comes."""
    import gzip

    folder.mkdir()
    with gzip.open(folder / "outcomes.jsonl.gz", "wt", encoding="utf-8") as fh:
        for k, (weak, strong) in enumerate([(1.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 0.0)]):
            outcomes = {"weak-7b": {"quality": weak, "cost_usd": 0.001},
                        "strong-1t": {"quality": strong, "cost_usd": 0.005}}
            fh.write(json.dumps({"id": f"u{k}", "task": "t", "split": None, "prompt": "x" * (10 + 40 * k),
                                 "outcomes": outcomes}) + "\n")
    return folder


def test_split_test_on_an_unsplit_set_uses_every_item(tmp_path: Path) -> None:
    folder = _unsplit(tmp_path / "held_out")
    args = ["eval", str(folder), "--weak", "weak-7b", "--strong", "strong-1t", "--router", "length", "--json"]
    whole = CliRunner().invoke(main, args, catch_exceptions=False)
    as_test = CliRunner().invoke(main, [*args, "--split", "test"], catch_exceptions=False)
    assert whole.exit_code == 0 and as_test.exit_code == 0, as_test.output
    assert "labels no item train or test: --split test uses all 4 items" in as_test.stderr
    a, b = json.loads(whole.stdout), json.loads(as_test.stdout)
    assert b["n"] == 4 and b["apgr"] == a["apgr"] and b["weak_quality"] == 0.25
    as_train = CliRunner().invoke(main, [*args, "--split", "train"])
    assert as_train.exit_code == 1
    assert "has no item in split 'train' (its splits: none)" in as_train.output



def test_a_long_eval_shows_progress_on_stderr_from_the_start() -> None:
    """The policies are prepared (scored, fitted) before any replay: that phase has its bar too (issue 8, item 9)."""
    result = CliRunner().invoke(main, ["eval", "routerbench3", "--tiers", TIERS, "--split", "test", "--json",
                                       "--progress", *FAST], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # stdout stays one JSON object
    assert "routerbench3: preparing policies (scoring, fitting)" in result.stderr
    assert "routerbench3: replaying" in result.stderr
    assert result.stderr.index("preparing policies") < result.stderr.index("replaying")
    quiet = CliRunner().invoke(main, ["eval", "routerbench3", "--tiers", TIERS, "--split", "test", "--json",
                                      "--policy", "always"], catch_exceptions=False)
    assert quiet.exit_code == 0 and "replaying" not in quiet.stderr
