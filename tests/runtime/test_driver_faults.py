"""Faults the driver must absorb: a model that cannot be built, a stream that breaks mid-way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from tiered.catalog import Catalog
from tiered.errors import AllFailed, ConfigError, ModelUnavailable, Overloaded
from tiered.models.base import Model
from tiered.models.events import response_events
from tiered.models.fake import FakeStream, text_response
from tiered.models.registry import ModelSet
from tiered.policies.direct import Direct
from tiered.policies.fallback import Fallback
from tiered.pricing import cost_usd
from tiered.records import Record
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.runtime.streaming import stream
from tiered.types import Request, Usage

REQ = Request.user("Tell me a story.")


class Unbuildable:
    """A resolver whose `broken` target cannot be built (as a model whose key is missing)."""

    def __init__(self, models: ModelSet, broken: str) -> None:
        self.models, self.broken = models, broken
        self.catalog = models.catalog

    def resolve(self, target: str) -> Model:
        if target == self.broken:
            raise ConfigError(f"{target}: the anthropic backend needs an API key in $ANTHROPIC_API_KEY")
        return self.models.resolve(target)

    def tier(self, target: str) -> str:
        return self.models.tier(target)


class Sink:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def emit(self, record: Record) -> None:
        self.records.append(record)


async def test_a_model_that_cannot_be_built_fails_the_request_with_one_record(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    sink = Sink()
    models = Unbuildable(fakes(sonnet=lambda r: text_response("hi", model="claude-sonnet-4-6")), "opus")
    result = await run(Fallback("opus", "sonnet", retries=2), REQ, models, clock=clock, sleep=clock.sleep,
                       sinks=[sink])
    assert isinstance(result.error, ModelUnavailable) and result.error.status == 500
    assert "'opus' is not available" in result.error.message and "API key" in result.error.message
    assert [r.outcome for r in sink.records] == ["api_error"]
    (attempt,) = sink.records[0].attempts  # not retryable: the same build fails every time
    assert attempt.model == "opus" and attempt.status == 500 and attempt.cost_usd == 0


async def test_a_stream_whose_model_cannot_be_built_raises_all_failed_with_a_record(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    sink = Sink()
    s = stream(Direct("opus"), REQ, Unbuildable(fakes(), "opus"), clock=clock, sinks=[sink])
    with pytest.raises(AllFailed) as failed:
        _ = [e async for e in s]
    assert isinstance(failed.value.last, ModelUnavailable)
    assert [r.outcome for r in sink.records] == ["api_error"]


async def test_an_unexpected_error_still_writes_one_record(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    def bug(_: Request) -> str:
        raise RuntimeError("a bug in a model adapter")

    sink = Sink()
    with pytest.raises(RuntimeError):
        await run(Direct("opus"), REQ, fakes(opus=bug), clock=clock, sinks=[sink])
    assert [r.outcome for r in sink.records] == ["error"]


def story_events(model: str) -> list[Mapping[str, Any]]:
    response = text_response("Once upon a time, a small model answered well and at length.", model=model,
                             input_tokens=1200, output_tokens=40)
    events = list(response_events(response, chunk_chars=8))
    events[0]["message"]["usage"]["cache_read_input_tokens"] = 300
    return events


async def test_a_stream_broken_midway_is_billed_for_what_it_consumed(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    good = story_events("claude-opus-4-7")
    cut = FakeStream([*good[:5], Overloaded("busy", midstream=True)])  # start, block start, 3 deltas
    sink = Sink()
    s = stream(Direct("opus"), REQ, fakes(opus=lambda r: cut), clock=clock, sinks=[sink])
    events = [e async for e in s]
    assert events[-1]["type"] == "error"
    (record,) = sink.records
    (attempt,) = record.attempts
    assert (attempt.input_tokens, attempt.cache_read_input_tokens, attempt.output_tokens) == (1200, 300, 3)
    info = Catalog.load().get("claude-opus-4-7")
    assert info is not None
    expected = cost_usd(info, Usage(input_tokens=1200, cache_read_input_tokens=300, output_tokens=3))
    assert attempt.cost_usd == expected == record.cost_usd and expected > Decimal(0)


async def test_a_stream_broken_before_message_start_costs_nothing_and_the_fallback_is_billed_once(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    good = story_events("claude-opus-4-7")
    cut = FakeStream([good[0], Overloaded("busy", midstream=True)])  # input billed, nothing sent out
    sink = Sink()
    models = fakes(opus=lambda r: cut, sonnet=lambda r: text_response("fine", model="claude-sonnet-4-6"))
    s = stream(Fallback("opus", "sonnet", retries=0), REQ, models, clock=clock, sleep=clock.sleep, sinks=[sink])
    _ = [e async for e in s]
    (record,) = sink.records
    opus, sonnet = record.attempts
    assert opus.input_tokens == 1200 and opus.output_tokens == 0 and opus.cost_usd > 0
    assert sonnet.outcome == "ok" and record.cost_usd == opus.cost_usd + sonnet.cost_usd
