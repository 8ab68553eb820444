from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from tiered.catalog import Catalog
from tiered.errors import AllFailed, Overloaded, UpstreamTimeout
from tiered.models.fake import text_response
from tiered.models.registry import ModelSet
from tiered.policies.base import Call, Flow, Parallel, Result, Sleep
from tiered.policies.direct import Direct
from tiered.policies.fallback import Fallback
from tiered.records import Decision, Record
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.runtime.policy_model import PolicyModel
from tiered.types import Request, Response


class ListSink:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def emit(self, record: Record) -> None:
        self.records.append(record)


class BrokenSink:
    def emit(self, record: Record) -> None:
        raise OSError("disk full")


def exact(_: Request) -> Response:
    return text_response("four", model="claude-haiku-4-5", input_tokens=10, output_tokens=5)


async def test_cost_latency_and_record_fields(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    async def slow(req: Request) -> Response:
        clock.advance(0.25)
        return exact(req)

    sink = ListSink()
    req = Request.user("2+2?", model="auto", task="math")
    result = await run(Direct("haiku"), req, fakes(haiku=slow), clock=clock, route="chat", sinks=[sink],
                       trace_id="t1")
    rec = result.record
    assert sink.records == [rec]
    assert rec.cost_usd == Decimal("0.000035")  # 10 x $1 + 5 x $5 per million
    assert rec.attempts[0].latency_ms == 250.0 and rec.latency_ms == 250.0
    assert (rec.trace_id, rec.route, rec.policy, rec.requested_model, rec.task) == ("t1", "chat", "Direct('haiku')",
                                                                                    "auto", "math")
    assert (rec.model, rec.tier, rec.outcome, rec.attempts[0].status) == ("claude-haiku-4-5", "haiku", "ok", 200)


async def test_call_timeout_becomes_upstream_timeout(fakes: Callable[..., ModelSet]) -> None:
    async def hangs(_: Request) -> str:
        await asyncio.sleep(5)
        return "late"

    result = await run(Direct("haiku", timeout_s=0.05), Request.user("x"), fakes(haiku=hangs))
    assert isinstance(result.error, UpstreamTimeout) and result.record.outcome == "timeout_error"
    with pytest.raises(AllFailed):
        result.unwrap()


class FanOut:
    """A test policy: n calls in one Parallel step under `limit`, then a sleep."""

    def __init__(self, n: int, limit: int) -> None:
        self.n, self.limit = n, limit

    def flow(self, request: Request) -> Flow:
        outs = yield Parallel(tuple(Call("haiku", request, purpose="step", reason=f"step {i}")
                                    for i in range(self.n)), self.limit)
        yield Sleep(1.5)
        return Result(outs[-1], Decision(repr(self), "haiku", "fan-out"))


async def test_parallel_respects_the_bound_and_keeps_order(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    live = [0, 0]

    async def counted(_: Request) -> str:
        live[0] += 1
        live[1] = max(live[1], live[0])
        await asyncio.sleep(0.01)
        live[0] -= 1
        return "ok"

    result = await run(FanOut(6, 2), Request.user("x"), fakes(haiku=counted), clock=clock, sleep=clock.sleep)
    assert live[1] == 2
    assert [a.reason for a in result.record.attempts] == [f"step {i}" for i in range(6)]
    assert clock.slept == [1.5]


async def test_a_failing_sink_never_fails_the_request(
    fakes: Callable[..., ModelSet], caplog: pytest.LogCaptureFixture
) -> None:
    good = ListSink()
    result = await run(Direct("haiku"), Request.user("x"), fakes(haiku=exact), sinks=[BrokenSink(), good])
    assert result.unwrap().text == "four" and len(good.records) == 1
    assert "failed to store record" in caplog.text


async def test_policy_model_is_a_model_and_nests(catalog: Catalog, fakes: Callable[..., ModelSet]) -> None:
    def busy(_: Request) -> str:
        raise Overloaded("busy")

    inner = PolicyModel(Fallback("opus", "haiku", retries=0), fakes(opus=busy, haiku=exact), name="resilient")
    outer_models = ModelSet(catalog, {"resilient": inner})
    outer = PolicyModel(Direct("resilient"), outer_models, name="outer")
    resp = await outer.complete(Request.user("x"))
    assert resp.text == "four"
    assert inner.last_record is not None and inner.last_record.fell_back
    assert outer.last_record is not None and outer.last_record.model == "resilient"
    assert outer.last_record.tier is None  # not a catalog model: no tier, no price
    events = [e async for e in outer.stream(Request.user("x"))]
    assert events[-1] == {"type": "message_stop"}

    failing = PolicyModel(Direct("opus"), fakes(opus=busy))
    with pytest.raises(AllFailed):
        await failing.complete(Request.user("x"))

