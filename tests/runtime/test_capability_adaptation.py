"""The routing layer adapts a request to the model it sends it to, or skips a model that cannot serve it
(issue 8, item 5), against the emulator over real HTTP, which refuses what each model does not accept."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tiered.capabilities import adapt
from tiered.catalog import Catalog
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.errors import AllFailed, Unsupported
from tiered.models.registry import ModelSet
from tiered.policies import Direct
from tiered.policies.fallback import Fallback
from tiered.runtime.driver import run
from tiered.runtime.streaming import stream
from tiered.types import Request

THINK = {"thinking": {"type": "enabled", "budget_tokens": 2000}}


@pytest.fixture
async def models(start_emulator: Callable[[EmulatorConfig], str], catalog: Catalog) -> AsyncIterator[
        Callable[[EmulatorConfig], ModelSet]]:
    built: list[ModelSet] = []

    def build(config: EmulatorConfig) -> ModelSet:
        built.append(ModelSet.build(catalog, ("haiku", "sonnet", "opus", "claude-opus-4-5"), backend="emulator",
                                    base_url=start_emulator(config)))
        return built[-1]

    yield build
    for m in built:
        await m.aclose()


def _ask(extra: dict[str, Any], max_tokens: int = 4000) -> Request:
    return Request.user("Explain recursion briefly.", max_tokens=max_tokens, extra=extra)


async def test_escalating_thinking_enabled_to_opus_4_7_sends_adaptive(
        models: Callable[[EmulatorConfig], ModelSet]) -> None:
    # sonnet is overloaded, so the chain escalates to opus, which accepts only adaptive thinking
    ms = models(EmulatorConfig(seed=1, per_model={"claude-sonnet-4-6": Behaviour(error_rates={"529": 1.0})}))
    result = await run(Fallback("sonnet", "opus", retries=0), _ask(THINK), ms)
    assert result.response is not None, result.record.attempts
    served = result.record.attempts[-1]
    assert served.model == "claude-opus-4-7" and "adapted: thinking enabled -> adaptive" in served.reason


async def test_adaptive_thinking_to_a_model_that_needs_a_budget(models: Callable[[EmulatorConfig], ModelSet]) -> None:
    result = await run(Direct("haiku"), _ask({"thinking": {"type": "adaptive"}}), models(EmulatorConfig()))
    assert result.response is not None
    assert "thinking adaptive -> enabled, budget 2000" in result.record.attempts[0].reason
    tight = await run(Direct("haiku"), _ask({"thinking": {"type": "adaptive"}}, max_tokens=1000),
                      models(EmulatorConfig()))
    assert tight.response is not None and "thinking adaptive dropped" in tight.record.attempts[0].reason


async def test_effort_and_max_tokens_follow_the_model(models: Callable[[EmulatorConfig], ModelSet]) -> None:
    ms = models(EmulatorConfig())
    xhigh = await run(Direct("claude-opus-4-5"), _ask({"output_config": {"effort": "xhigh"}}), ms)
    assert xhigh.response is not None and "effort xhigh -> high" in xhigh.record.attempts[0].reason
    none = await run(Direct("haiku"), _ask({"output_config": {"effort": "max"}}), ms)
    assert none.response is not None and "effort max dropped" in none.record.attempts[0].reason
    # a request written for opus-4-7's 128k output, sent to haiku (64k): lowered, with the thinking budget
    big = await run(Direct("haiku"), _ask({"thinking": {"type": "enabled", "budget_tokens": 100_000}},
                                          max_tokens=120_000), ms)
    assert big.response is not None and "max_tokens 120000 -> 64000" in big.record.attempts[0].reason


async def test_streams_are_adapted_too(models: Callable[[EmulatorConfig], ModelSet]) -> None:
    run_ = stream(Direct("opus"), _ask(THINK), models(EmulatorConfig()))
    events = [e async for e in run_]
    assert events[-1]["type"] == "message_stop"
    assert run_.record is not None and "adapted: thinking enabled -> adaptive" in run_.record.attempts[0].reason


async def test_a_model_that_cannot_serve_the_request_is_skipped(tmp_path: Path,
                                                               start_emulator: Callable[[EmulatorConfig], str]) -> None:
    user = tmp_path / "catalog.toml"
    user.write_text('[models."claude-haiku-4-5"]\ntools = ["custom"]\n')
    catalog = Catalog.load(user)
    ms = ModelSet.build(catalog, backend="emulator", base_url=start_emulator(EmulatorConfig()))
    search = Request.user("Find today's news.", tools=({"type": "web_search_20250305", "name": "web_search"},))
    try:
        result = await run(Fallback("haiku", "sonnet", retries=0), search, ms)
        assert result.response is not None and result.record.model == "claude-sonnet-4-6"
        skipped = result.record.attempts[0]
        assert skipped.model == "claude-haiku-4-5" and skipped.outcome == "invalid_request_error"
        assert skipped.cost_usd == 0 and skipped.input_tokens == 0  # refused before any call
        with pytest.raises(AllFailed) as failed:
            (await run(Direct("haiku"), search, ms)).unwrap()
        assert isinstance(failed.value.exceptions[0], Unsupported)
        assert "does not take web_search tools" in str(failed.value.exceptions[0])
    finally:
        await ms.aclose()


def test_adapt_leaves_what_the_model_accepts_alone(catalog: Catalog) -> None:
    request = _ask({"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}})
    adapted = adapt(request, catalog.resolve("opus"))
    assert adapted.request is request and adapted.changes == ()
