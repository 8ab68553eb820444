from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tiered.errors import AllFailed, Overloaded
from tiered.models.events import response_events
from tiered.models.fake import FakeStream, text_response
from tiered.models.registry import ModelSet
from tiered.policies.cascade import Cascade
from tiered.policies.direct import Direct
from tiered.policies.fallback import Fallback
from tiered.runtime.clock import ManualClock
from tiered.runtime.streaming import stream
from tiered.scoring.confidence import REPORT_TOOL_NAME
from tiered.types import Request, Response, Usage

REQ = Request.user("Tell me a story.")


def story(model: str) -> Response:
    return text_response("Once upon a time, a small model answered well.", model=model)


def events_of(model: str) -> list[Mapping[str, Any]]:
    return list(response_events(story(model)))


def busy(_: Request) -> str:
    raise Overloaded("busy")


async def collect(s: Any) -> list[Mapping[str, Any]]:
    return [e async for e in s]


async def test_direct_streams_the_model_events(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    s = stream(Direct("haiku"), REQ, fakes(haiku=lambda r: story("claude-haiku-4-5")), clock=clock)
    events = await collect(s)
    assert events == events_of("claude-haiku-4-5")
    assert s.record is not None and s.record.outcome == "ok" and s.record.attempts[0].ttft_ms is not None


@pytest.mark.parametrize("fails_with", ["error_first", "error_after_start"])
async def test_error_before_any_content_moves_on_silently(
    fakes: Callable[..., ModelSet], clock: ManualClock, fails_with: str
) -> None:
    start = events_of("claude-opus-4-7")[0]
    broken = FakeStream([Overloaded("busy", midstream=True)] if fails_with == "error_first"
                        else [start, Overloaded("busy", midstream=True)])
    models = fakes(opus=lambda r: broken, sonnet=lambda r: story("claude-sonnet-4-6"))
    s = stream(Fallback("opus", "sonnet", retries=0), REQ, models, clock=clock, sleep=clock.sleep)
    events = await collect(s)
    assert events == events_of("claude-sonnet-4-6")  # nothing of opus's attempt reached the caller
    assert s.record is not None and s.record.fell_back and s.record.degraded and s.record.model == "claude-sonnet-4-6"


async def test_error_after_content_went_out_ends_with_an_error_event(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    good = events_of("claude-opus-4-7")
    cut = FakeStream([*good[:3], Overloaded("busy", midstream=True)])
    models = fakes(opus=lambda r: cut, sonnet=lambda r: story("claude-sonnet-4-6"))
    s = stream(Fallback("opus", "sonnet", retries=0), REQ, models, clock=clock, sleep=clock.sleep)
    events = await collect(s)
    assert events[:3] == good[:3]
    assert events[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert {"type": "message_stop"} not in events  # never passed off as complete
    rec = s.record
    assert rec is not None and rec.outcome == "overloaded_error" and rec.model is None
    assert len(rec.attempts) == 1 and rec.attempts[0].reason == "first [after 3 events]"


async def test_cascade_answer_that_never_streamed_is_replayed_as_text(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    block = {"type": "tool_use", "id": "t", "name": REPORT_TOOL_NAME, "input": {"answer": "Paris", "confidence": 0.95}}
    reported = Response(id="m", model="claude-haiku-4-5", content=(block,), stop_reason="tool_use",
                        usage=Usage(10, 5))
    s = stream(Cascade(("haiku", "sonnet")), REQ, fakes(haiku=lambda r: reported, sonnet=busy), clock=clock)
    events = await collect(s)
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert deltas == [{"type": "text_delta", "text": "Paris"}]
    assert events[-1] == {"type": "message_stop"}


async def test_failure_before_any_event_raises(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    s = stream(Fallback("opus", "sonnet", retries=0), REQ, fakes(opus=busy, sonnet=busy), clock=clock)
    with pytest.raises(AllFailed) as info:
        await collect(s)
    assert len(info.value.exceptions) == 2
    assert s.record is not None and s.record.outcome == "overloaded_error"


async def test_a_caller_that_stops_reading_is_recorded_as_cancelled(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    s = stream(Direct("haiku"), REQ, fakes(haiku=lambda r: story("claude-haiku-4-5")), clock=clock)
    events = s.__aiter__()
    first = await events.__anext__()
    assert first["type"] == "message_start"
    await events.aclose()  # type: ignore[attr-defined]
    assert s.record is not None and s.record.outcome == "cancelled" and s.record.model is None
