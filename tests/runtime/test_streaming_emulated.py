"""Streaming through the driver against the emulator over real HTTP, with injected stream faults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from tiered.catalog import Catalog
from tiered.emulator.config import Behaviour, EmulatorConfig
from tiered.models.registry import ModelSet
from tiered.policies.fallback import Fallback
from tiered.runtime.clock import ManualClock
from tiered.runtime.streaming import stream
from tiered.types import Request

OPUS, SONNET = "claude-opus-4-7", "claude-sonnet-4-6"


@pytest.fixture
async def emulated(
    start_emulator: Callable[[EmulatorConfig], str], catalog: Catalog
) -> AsyncIterator[Callable[[EmulatorConfig], ModelSet]]:
    built: list[ModelSet] = []

    def build(config: EmulatorConfig) -> ModelSet:
        built.append(ModelSet.build(catalog, backend="emulator", base_url=start_emulator(config)))
        return built[-1]

    yield build
    for models in built:
        await models.aclose()


async def _events(policy: Fallback, models: ModelSet) -> tuple[list[Mapping[str, Any]], Any]:
    clock = ManualClock()
    s = stream(policy, Request.user("Tell me about tiers.", max_tokens=64), models, clock=clock, sleep=clock.sleep)
    return [e async for e in s], s.record


async def test_a_529_before_the_stream_starts_falls_back_unseen(
    emulated: Callable[[EmulatorConfig], ModelSet],
) -> None:
    models = emulated(EmulatorConfig(per_model={OPUS: Behaviour(error_rates={"529": 1.0})}))
    events, record = await _events(Fallback("opus", "sonnet", retries=1), models)
    assert events[0]["type"] == "message_start" and events[0]["message"]["model"] == SONNET
    assert events[-1] == {"type": "message_stop"} and not any(e["type"] == "error" for e in events)
    assert record.model == SONNET and record.fell_back and [a.outcome for a in record.attempts] == [
        "overloaded_error", "overloaded_error", "ok"]


async def test_an_error_after_the_first_token_ends_the_stream_with_an_error_event(
    emulated: Callable[[EmulatorConfig], ModelSet],
) -> None:
    models = emulated(EmulatorConfig(per_model={OPUS: Behaviour(error_rates={"midstream": 1.0})}))
    events, record = await _events(Fallback("opus", "sonnet"), models)
    kinds = [e["type"] for e in events]
    assert "content_block_delta" in kinds and kinds[-1] == "error" and "message_stop" not in kinds
    assert events[-1]["error"]["type"] == "overloaded_error"
    assert record.outcome == "overloaded_error" and record.model is None and len(record.attempts) == 1
