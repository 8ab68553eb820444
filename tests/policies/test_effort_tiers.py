"""Effort as a rung: `sonnet@low` is sonnet asked at output_config.effort low, checked against the catalog."""

from __future__ import annotations

import pytest

from tiered.catalog import Catalog, split_effort
from tiered.config import parse_config_text
from tiered.errors import CatalogError, ConfigError
from tiered.models.registry import ModelSet
from tiered.policies.direct import Direct
from tiered.policies.router import ComplexityRouter
from tiered.runtime.driver import run
from tiered.scoring.base import Thresholds
from tiered.types import Request

PROMPT = Request.user("Explain in detail why the build fails when the cache is cold.", max_tokens=400)


def test_the_catalog_says_which_models_accept_which_efforts(catalog: Catalog) -> None:
    assert split_effort("sonnet@low") == ("sonnet", "low") and split_effort("sonnet") == ("sonnet", None)
    assert catalog.resolve("sonnet@low").id == "claude-sonnet-4-6"
    assert "xhigh" in catalog.resolve("opus").efforts and "xhigh" not in catalog.resolve("sonnet").efforts
    with pytest.raises(CatalogError, match="claude-haiku-4-5 does not accept effort 'low' \\(it accepts: none\\)"):
        catalog.resolve("haiku@low")
    with pytest.raises(CatalogError, match="does not accept effort 'xhigh'"):
        catalog.resolve("sonnet@xhigh")
    with pytest.raises(ConfigError, match="unknown value .turbo."):
        Catalog.from_dict({"models": {"m": {"input": 1, "output": 2, "efforts": ["turbo"]}}})


def test_a_config_may_put_effort_rungs_on_the_ladder() -> None:
    config = parse_config_text("""
[routes.default]
policy = "router"
thresholds = { tiers = ["haiku", "sonnet@low", "sonnet@high", "opus"], cuts = [0.2, 0.4, 0.7] }
""", source="test")
    assert config.routes["default"].thresholds.tiers[1] == "sonnet@low"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="unknown model 'haiku@max'"):
        parse_config_text('[routes.default]\npolicy = "direct"\ntarget = "haiku@max"\n', source="test")


async def test_the_effort_reaches_the_api_and_the_record_names_the_rung(emulator_url: str, catalog: Catalog) -> None:
    models = ModelSet.build(catalog, backend="emulator", base_url=emulator_url)
    try:
        low = await run(Direct("sonnet@low"), PROMPT, models, catalog=catalog)
        high = await run(Direct("sonnet@high"), PROMPT, models, catalog=catalog)
        plain = await run(Direct("sonnet"), PROMPT, models, catalog=catalog)
        router = ComplexityRouter(lambda r: 0.3, Thresholds.of(("haiku", "sonnet@low", "opus"), (0.2, 0.7)))
        routed = await run(router, PROMPT, models, catalog=catalog)
    finally:
        await models.aclose()
    assert low.record.model == "claude-sonnet-4-6" and low.record.tier == "sonnet@low"
    assert high.record.tier == "sonnet@high" and plain.record.tier == "sonnet"
    out_low, out_high = low.record.attempts[0].output_tokens, high.record.attempts[0].output_tokens
    assert out_low < out_high == plain.record.attempts[0].output_tokens  # the emulator shortens low effort
    assert low.record.cost_usd < high.record.cost_usd  # same prices, fewer output tokens
    assert routed.record.tier == "sonnet@low" and routed.record.decision.reason == "score 0.30 -> sonnet@low"
