"""`tiered calibrate --config`: the config it writes loads, and its cuts are on the scale of the scorer that
will use them (issue 8, items 1 and 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.config import load_config
from tiered.policy_specs import RouterSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiered.toml"
TIERS = "haiku=mistralai/mistral-7b-chat,sonnet=gpt-3.5-turbo-1106,opus=gpt-4-1106-preview"


def _calibrate(config: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["calibrate", "routerbench3", "--tiers", TIERS, "--min-quality", "0.95",
                                    "--config", str(config), *extra])
    return res.exit_code, res.output


def _route(config: Path, prompt: str, tmp_path: Path) -> dict[str, object]:
    res = CliRunner().invoke(main, ["route", prompt, "--config", str(config), "--json"],
                             env={"TIERED_DB": str(tmp_path / "r.db"), "ANTHROPIC_API_KEY": None})
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert isinstance(data, dict)
    return data


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    shutil.copy(EXAMPLE, path)
    return path


def test_the_written_config_loads_and_routes_easy_prompts_low(config: Path, tmp_path: Path) -> None:
    code, out = _calibrate(config)
    assert code == 0, out
    # The default route reaches one named router, through its chain, task map and bypass: that is what is written.
    assert "policies.by_complexity.thresholds" in out and "heuristic" in out
    loaded = load_config(config)
    router = loaded.policies["by_complexity"]
    assert isinstance(router, RouterSpec) and router.scorer == "heuristic"
    assert router.thresholds.cuts != (0.3, 0.6)
    # Cuts on the heuristic's own scale: trivial prompts stay on the cheapest tier.
    for prompt in ("What is 2+2?", "hi"):
        assert _route(config, prompt, tmp_path)["tier"] == "haiku", prompt


def test_route_may_name_a_router_policy_or_says_what_it_accepts(config: Path) -> None:
    code, out = _calibrate(config, "--route", "by_complexity")
    assert code == 0, out
    load_config(config)
    code, out = _calibrate(config, "--route", "code")
    assert code == 1 and "route 'code' uses no router" in out and "by_complexity" in out
    code, out = _calibrate(config, "--route", "nope")
    assert code == 1 and "no route or router policy named 'nope'" in out and "by_complexity" in out


def test_cuts_for_another_scorer_are_refused(config: Path) -> None:
    before = config.read_text()
    code, out = _calibrate(config, "--router", "length")
    assert code == 1 and "heuristic scorer" in out and "Drop --router" in out
    assert config.read_text() == before


def test_an_llm_scored_router_is_refused_offline(config: Path) -> None:
    config.write_text(config.read_text().replace('scorer = "heuristic"', 'scorer = "llm"'))
    before = config.read_text()
    code, out = _calibrate(config)
    assert code == 1 and "llm scorer" in out and "--log" in out
    assert config.read_text() == before
