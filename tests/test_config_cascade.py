"""Issue 9 in the config: the cascade's per-tier bars, share_reasoning on by default, the learned confidence,
and a router's floors (the example config, and errors that name the key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiered.config import load_config, parse_config_text
from tiered.errors import ConfigError
from tiered.policies.cascade import Cascade
from tiered.policies.router import ComplexityRouter
from tiered.policy_registry import BuildContext
from tiered.policy_specs import CascadeSpec, RouterSpec
from tiered.scoring.confidence import Reading

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiered.toml"


def _route(policy: str) -> str:
    return f'[backend]\nkind = "replay"\n[routes.default]\n{policy}\n'


def test_example_cascade_has_per_tier_bars_and_shares_its_draft() -> None:
    config = load_config(EXAMPLE)
    spec = config.policies["escalate"]
    assert isinstance(spec, CascadeSpec)
    assert spec.escalate_when.confidence_below == (0.85, 0.8) and spec.share_reasoning
    cascade = BuildContext(config.catalog, config.policies).policy(spec)
    assert isinstance(cascade, Cascade) and cascade.share_reasoning
    assert isinstance(cascade.escalate_when, dict)
    assert repr(cascade.escalate_when["fast"]).startswith("low_confidence(0.85)")
    assert repr(cascade.escalate_when["smart"]).startswith("low_confidence(0.8)")
    router = config.policies["by_complexity"]
    assert isinstance(router, RouterSpec) and router.floors == {"code-review": "sonnet"}


def test_cascade_defaults_share_reasoning_and_heuristic_confidence() -> None:
    config = parse_config_text(_route('policy = "cascade"\ntiers = ["haiku", "opus"]'))
    spec = config.routes["default"]
    assert isinstance(spec, CascadeSpec) and spec.share_reasoning and spec.confidence == "heuristic"
    cascade = BuildContext(config.catalog).policy(spec)
    assert isinstance(cascade, Cascade) and cascade.confidence.calibrator is None
    assert "share_reasoning" not in repr(cascade)


def test_learned_confidence_loads_the_packaged_calibrator() -> None:
    config = parse_config_text(_route('policy = "cascade"\ntiers = ["haiku", "opus"]\nconfidence = "learned"'))
    cascade = BuildContext(config.catalog).policy(config.routes["default"])
    assert isinstance(cascade, Cascade) and cascade.confidence.calibrator is not None


@pytest.mark.parametrize(("body", "message"), [
    ('tiers = ["haiku", "sonnet", "opus"]\nescalate_when = { confidence_below = [0.8] }',
     "routes.default.escalate_when.confidence_below: 3 tiers need 2 bars"),
    ('tiers = ["haiku", "opus"]\nescalate_when = { confidence_below = [1.5] }',
     "routes.default.escalate_when.confidence_below: a confidence is between 0 and 1"),
    ('tiers = ["haiku", "opus"]\nconfidence = "vibes"', "routes.default.confidence: must be one of heuristic, learned"),
    ('tiers = ["haiku", "opus"]\ncalibrator_path = "c.json"', "only the learned confidence reads a file"),
])
def test_cascade_config_errors_name_the_key(body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config_text(_route(f'policy = "cascade"\n{body}'))


def test_router_floors_default_to_the_packaged_ones_and_can_be_turned_off() -> None:
    config = parse_config_text(_route('policy = "router"'))
    router = BuildContext(config.catalog).policy(config.routes["default"])
    assert isinstance(router, ComplexityRouter) and router.floors["code-review"] == "sonnet"
    off = parse_config_text(_route('policy = "router"\nfloors = {}'))
    built = BuildContext(off.catalog).policy(off.routes["default"])
    assert isinstance(built, ComplexityRouter) and built.floors == {}
    with pytest.raises(ConfigError, match="floors.review: 'opus' is not one of the thresholds' tiers"):
        parse_config_text(_route('policy = "router"\nfloors = { review = "opus" }\n'
                                 'thresholds = { tiers = ["haiku", "sonnet"], cuts = [0.5] }'))


def test_packaged_floors_follow_a_router_named_with_aliases() -> None:
    config = parse_config_text('[backend]\nkind = "replay"\n[models.fast]\nmodel = "claude-haiku-4-5"\n'
                               '[models.deep]\nmodel = "opus"\n[routes.default]\npolicy = "router"\n'
                               'thresholds = { tiers = ["fast", "deep"], cuts = [0.5] }\n')
    router = BuildContext(config.catalog).policy(config.routes["default"])
    assert isinstance(router, ComplexityRouter) and router.floors["code-review"] == "deep"


def test_per_tier_bars_escalate_each_tier_on_its_own_bar() -> None:
    config = parse_config_text(_route('policy = "cascade"\ntiers = ["haiku", "sonnet", "opus"]\n'
                                      'escalate_when = { confidence_below = [0.85, 0.8] }'))
    cascade = BuildContext(config.catalog).policy(config.routes["default"])
    assert isinstance(cascade, Cascade)
    assert cascade._trigger("haiku").explain(_reading(0.82)) == "confidence 0.82 < 0.85"
    assert cascade._trigger("sonnet").explain(_reading(0.82)) is None


def _reading(value: float) -> Reading:
    from tiered.scoring.confidence import Features

    return Reading(value, "x", "", Features(value, True, True, (), False, 1, False))


def test_cascade_floors_default_to_the_packaged_ones_on_its_own_tiers() -> None:
    config = parse_config_text(_route('policy = "cascade"\ntiers = ["haiku", "opus"]'))
    cascade = BuildContext(config.catalog).policy(config.routes["default"])
    assert isinstance(cascade, Cascade) and cascade.floors["code-review"] == "opus"  # sonnet or above: opus here
    off = parse_config_text(_route('policy = "cascade"\ntiers = ["haiku", "opus"]\nfloors = {}'))
    built = BuildContext(off.catalog).policy(off.routes["default"])
    assert isinstance(built, Cascade) and built.floors == {}
    with pytest.raises(ConfigError, match="floors.review: 'sonnet' is not one of the cascade's tiers"):
        parse_config_text(_route('policy = "cascade"\ntiers = ["haiku", "opus"]\nfloors = { review = "sonnet" }'))
