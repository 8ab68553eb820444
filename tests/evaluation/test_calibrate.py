from __future__ import annotations

import json
import time
import tomllib
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.config_edit import set_route_thresholds
from tiered.errors import ConfigError
from tiered.evaluation.calibrate import StoredScores, Target, fit_thresholds
from tiered.records import Decision, Record
from tiered.telemetry.sqlite import SqliteSink

TIERS = ("haiku", "sonnet", "opus")


def _synthetic(n: int = 2000, seed: int = 0) -> StoredScores:
    """Harder prompts (higher score) need higher tiers: tier t passes when score < its skill."""
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    skill = np.array([0.5, 0.8, 0.95])
    quality = (scores[:, None] < skill[None, :]).astype(float)
    cost = np.tile([1.0, 3.0, 5.0], (n, 1))
    return StoredScores(scores, quality, cost)


def _tier_of(fit_th: object, scores: np.ndarray) -> np.ndarray:
    return np.array([TIERS.index(fit_th.tier_for(float(s))) for s in scores])  # type: ignore[attr-defined]


def test_min_quality_is_met_at_the_least_cost() -> None:
    data = _synthetic()
    fit = fit_thresholds(data, TIERS, Target(min_quality=0.95))
    assert fit.met and fit.quality is not None and fit.cost_ratio is not None
    assert fit.quality >= 0.95 * fit.top_quality
    # recompute from the thresholds alone: what a router would do with them
    t = _tier_of(fit.thresholds, data.scores)
    assert data.quality is not None and data.cost is not None
    rows = np.arange(t.size)
    assert data.quality[rows, t].mean() == pytest.approx(fit.quality)
    assert data.cost[rows, t].sum() / data.cost[:, 2].sum() == pytest.approx(fit.cost_ratio)
    # the ideal split (haiku below 0.5, sonnet below 0.8, opus above) costs 0.5 + 0.3*0.6 + 0.2 = 0.88 of always-opus
    assert fit.cost_ratio <= 0.88 + 1e-3


def test_max_cost_ratio_and_share_caps() -> None:
    data = _synthetic()
    fit = fit_thresholds(data, TIERS, Target(max_cost_ratio=0.5, max_share={"opus": 0.1}))
    assert fit.met and fit.cost_ratio is not None
    assert fit.cost_ratio <= 0.5 + 1e-9
    t = _tier_of(fit.thresholds, data.scores)
    assert np.mean(t == 2) <= 0.1 + 1e-9
    cheaper = fit_thresholds(data, TIERS, Target(max_cost_ratio=0.3))
    assert cheaper.quality is not None and fit.quality is not None and cheaper.quality <= fit.quality


def test_scores_only_spend_the_caps_top_tier_first() -> None:
    scores = np.arange(100, dtype=float)
    fit = fit_thresholds(StoredScores(scores), TIERS, Target(max_share={"opus": 0.15, "sonnet": 0.3}))
    assert fit.share == pytest.approx({"haiku": 0.55, "sonnet": 0.30, "opus": 0.15})
    assert fit.thresholds.tier_for(84.0) == "sonnet" and fit.thresholds.tier_for(85.0) == "opus"
    with pytest.raises(ValueError, match="needs outcomes"):
        fit_thresholds(StoredScores(scores), TIERS, Target(min_quality=0.9))


def test_an_impossible_target_is_reported_unmet() -> None:
    fit = fit_thresholds(_synthetic(), TIERS, Target(min_quality=0.99, max_cost_ratio=0.3))
    assert not fit.met


CONFIG = """# my gateway
default_route = "code"

[routes.code]          # keep this comment
policy = "router"
scorer = "learned"

[routes.code.thresholds]
tiers = ["haiku", "sonnet", "opus"]
cuts = [0.3, 0.6]   # old

[routes.chat]
policy = "router"
thresholds = { tiers = ["haiku", "opus"], cuts = [0.5] }

[routes.bare]
policy = "router"
"""


def test_config_is_edited_in_place() -> None:
    out = set_route_thresholds(CONFIG, "code", TIERS, [0.25, 0.75])
    assert out.replace("[0.25, 0.75]", "[0.3, 0.6]") == CONFIG
    assert tomllib.loads(out)["routes"]["code"]["thresholds"]["cuts"] == [0.25, 0.75]
    inline = set_route_thresholds(CONFIG, "chat", ("haiku", "opus"), [0.1])
    assert tomllib.loads(inline)["routes"]["chat"]["thresholds"] == {"tiers": ["haiku", "opus"], "cuts": [0.1]}
    added = set_route_thresholds(CONFIG, "bare", TIERS, [1.0, 2.0])
    assert added.startswith(CONFIG)
    assert tomllib.loads(added)["routes"]["bare"]["thresholds"]["cuts"] == [1.0, 2.0]
    with pytest.raises(ConfigError, match="no such route"):
        set_route_thresholds(CONFIG, "nope", TIERS, [0.1, 0.2])


def test_calibrate_cli_on_the_request_log(tmp_path: Path) -> None:
    db = tmp_path / "requests.db"
    with SqliteSink(db) as sink:
        for i in range(200):
            decision = Decision("ComplexityRouter(...)", "haiku", "score", {"complexity": i / 200})
            sink.emit(Record(trace_id=f"t{i}", route="code", policy="p", decision=decision, attempts=(),
                             cost_usd=Decimal(0), latency_ms=1.0, degraded=False, created_at=time.time()))
    config = tmp_path / "tiered.toml"
    config.write_text(CONFIG)
    res = CliRunner().invoke(main, ["calibrate", "--log", str(db), "--route", "code", "--max-share", "opus=0.1",
                                    "--max-share", "sonnet=0.2", "--config", str(config), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["share"] == pytest.approx({"haiku": 0.7, "sonnet": 0.2, "opus": 0.1})
    cuts = tomllib.loads(config.read_text())["routes"]["code"]["thresholds"]["cuts"]
    assert cuts == pytest.approx(out["cuts"]) and 0.69 < cuts[0] < 0.7 and 0.89 < cuts[1] < 0.9
    assert "# keep this comment" in config.read_text()
    # 'default' is tiered's own log ($TIERED_DB)
    again = CliRunner().invoke(main, ["calibrate", "--log", "default", "--max-share", "opus=0.5", "--json"],
                               env={"TIERED_DB": str(db)})
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["share"]["opus"] == pytest.approx(0.5)


def test_calibrate_cli_on_a_dataset_agrees_with_the_replay(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["calibrate", "routerbench3", "--tiers",
                                    "haiku=mistralai/mistral-7b-chat,sonnet=gpt-3.5-turbo-1106,opus=gpt-4-1106-preview",
                                    "--split", "test", "--router", "length", "--min-quality", "0.9", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["met"] and out["quality"] >= 0.9 * out["top_quality"] - 1e-12
    assert out["replay"]["quality"] == pytest.approx(out["quality"])
    assert out["replay"]["cost_ratio"] == pytest.approx(out["cost_ratio"])
    assert out["replay"]["tier_mix"] == pytest.approx(out["share"])
