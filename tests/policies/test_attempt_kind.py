"""`Call.kind` / `Attempt.kind`: escalated and fell_back come from a typed field, not from reason text."""

from __future__ import annotations

from collections.abc import Callable

from tiered.errors import Overloaded
from tiered.models.fake import text_response
from tiered.models.registry import ModelSet
from tiered.policies.base import Call, Flow, Result
from tiered.policies.fallback import Fallback
from tiered.records import Decision
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.types import Request

REQ = Request.user("hi")


def busy(_: Request) -> str:
    raise Overloaded("busy")


async def test_fallback_and_retry_are_typed(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(opus=busy, sonnet=lambda r: text_response("ok", model="claude-sonnet-4-6"))
    result = await run(Fallback("opus", "sonnet", retries=1), REQ, models, clock=clock, sleep=clock.sleep)
    assert [a.kind for a in result.record.attempts] == ["first", "retry", "fallback"]
    assert result.record.fell_back and not result.record.escalated


class Worded:
    """A policy whose reasons mislead: a first call worded like an escalation, typed as first."""

    def flow(self, request: Request) -> Flow:
        out = yield Call("haiku", request, reason="escalated-looking wording, but a first call", kind="first")
        again = yield Call("sonnet", request, reason="escalated: legacy policy without kind")
        assert out.ok
        return Result(again, Decision("Worded", "sonnet", "done"))


async def test_kind_wins_over_wording_and_legacy_reasons_still_count(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    models = fakes(haiku=lambda r: text_response("a", model="claude-haiku-4-5"),
                   sonnet=lambda r: text_response("b", model="claude-sonnet-4-6"))
    result = await run(Worded(), REQ, models, clock=clock)
    assert [a.kind for a in result.record.attempts] == ["first", "escalation"]
    assert result.record.escalated and not result.record.fell_back
    assert result.record.attempts[1].reason == "escalated: legacy policy without kind"
