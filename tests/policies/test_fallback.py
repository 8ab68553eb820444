from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from tiered.errors import AllFailed, BadRequest, Overloaded, RateLimited, ServerError, SpendLimit
from tiered.models.registry import ModelSet
from tiered.policies.fallback import Backoff, Fallback
from tiered.policies.triggers import on
from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import run
from tiered.runtime.health import BreakerConfig, Breakers
from tiered.types import Request

REQ = Request.user("What is 2 + 2?")


def scripted(*answers: str | Exception) -> Callable[[Request], str]:
    """A fake that plays the given answers (or raises the given errors) in order, then repeats the last."""
    it: Iterator[str | Exception] = iter(answers)
    last: list[str | Exception] = []

    def fn(_: Request) -> str:
        a = next(it, last[0] if last else "done")
        last[:] = [a]
        if isinstance(a, Exception):
            raise a
        return a

    return fn


async def test_retries_same_model_with_backoff_then_answers(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(opus=scripted(Overloaded("busy"), Overloaded("busy"), "4"), sonnet=scripted("from sonnet"))
    policy = Fallback("opus", "sonnet", retries=2, backoff=Backoff(0.5, 8.0, rng=random.Random(1)))
    result = await run(policy, REQ, models, clock=clock, sleep=clock.sleep)
    assert result.unwrap().text == "4"
    assert [a.reason for a in result.record.attempts] == ["first", "retry 1: overloaded_error",
                                                         "retry 2: overloaded_error"]
    assert len(clock.slept) == 2
    assert 0.375 <= clock.slept[0] <= 0.5 and 0.75 <= clock.slept[1] <= 1.0  # base * 2**n, 25% jitter
    assert not result.record.fell_back and not result.record.degraded
    assert result.record.model == "claude-opus-4-7"


async def test_falls_back_and_marks_degraded(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(opus=scripted(Overloaded("busy")), sonnet=scripted("from sonnet"))
    result = await run(Fallback("opus", "sonnet", retries=1), REQ, models, clock=clock, sleep=clock.sleep)
    assert result.unwrap().text == "from sonnet"
    rec = result.record
    assert rec.fell_back and rec.degraded and rec.tier == "sonnet"
    assert rec.attempts[-1].reason == "fell back: overloaded_error on opus"
    assert "fell back to sonnet" in rec.decision.reason
    assert len(result.errors) == 2


async def test_fallback_to_a_stronger_model_is_not_degraded(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(haiku=scripted(ServerError("boom")), sonnet=scripted("ok"))
    result = await run(Fallback("haiku", "sonnet", retries=0), REQ, models, clock=clock, sleep=clock.sleep)
    assert result.record.fell_back and not result.record.degraded


@pytest.mark.parametrize("error", [BadRequest("bad"), SpendLimit("cap reached", status=429)])
async def test_no_fallback_on_client_errors_or_spend_limit(
    fakes: Callable[..., ModelSet], clock: ManualClock, error: Exception
) -> None:
    sonnet = scripted("never")
    models = fakes(opus=scripted(error), sonnet=sonnet)
    result = await run(Fallback("opus", "sonnet"), REQ, models, clock=clock, sleep=clock.sleep)
    assert result.response is None and result.error is error
    assert len(result.record.attempts) == 1 and clock.slept == []
    with pytest.raises(AllFailed) as info:
        result.unwrap()
    assert info.value.last is error


async def test_honours_retry_after_and_moves_on_when_it_is_too_long(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    models = fakes(opus=scripted(RateLimited("slow down", retry_after=1.5), "4"), sonnet=scripted("s"))
    result = await run(Fallback("opus", "sonnet"), REQ, models, clock=clock, sleep=clock.sleep)
    assert result.unwrap().text == "4" and clock.slept == [1.5]

    clock2 = ManualClock()
    models = fakes(opus=scripted(RateLimited("slow down", retry_after=120)), sonnet=scripted("s"))
    policy = Fallback("opus", "sonnet", max_retry_after_s=30)
    result = await run(policy, REQ, models, clock=clock2, sleep=clock2.sleep)
    assert result.unwrap().text == "s" and clock2.slept == []


async def test_all_fail_carries_every_error(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(opus=scripted(Overloaded("o")), sonnet=scripted(RateLimited("r", retry_after=0.1)))
    result = await run(Fallback("opus", "sonnet", retries=1), REQ, models, clock=clock, sleep=clock.sleep)
    assert result.response is None
    assert result.record.outcome == "rate_limit_error" and result.record.model is None
    assert result.record.decision.reason.startswith("failed: overloaded_error on opus")
    with pytest.raises(AllFailed) as info:
        result.unwrap()
    assert [type(e) for e in info.value.exceptions] == [Overloaded, Overloaded, RateLimited, RateLimited]


async def test_fallback_on_can_be_narrowed_to_types(fakes: Callable[..., ModelSet], clock: ManualClock) -> None:
    models = fakes(opus=scripted(ServerError("500")), sonnet=scripted("s"))
    policy = Fallback("opus", "sonnet", fallback_on=on(Overloaded, RateLimited))
    result = await run(policy, REQ, models, clock=clock, sleep=clock.sleep)
    assert result.response is None and len(result.record.attempts) == 1
    assert repr(policy) == "Fallback('opus', 'sonnet', retries=2)"


async def test_breaker_opens_skips_and_recovers_after_a_probe(
    fakes: Callable[..., ModelSet], clock: ManualClock
) -> None:
    healthy = [False]

    def opus(_: Request) -> str:
        if not healthy[0]:
            raise Overloaded("down")
        return "opus is back"

    models = fakes(opus=opus, sonnet=scripted("s"))
    breakers = Breakers(BreakerConfig(failure_threshold=3, cooldown_s=60), clock=clock)
    policy = Fallback("opus", "sonnet", retries=0, health=breakers)
    for _ in range(3):
        await run(policy, REQ, models, clock=clock, sleep=clock.sleep)
    assert breakers.state("opus").status == "open"
    calls_before = len(models["claude-opus-4-7"].requests)  # type: ignore[attr-defined]

    result = await run(policy, REQ, models, clock=clock, sleep=clock.sleep)
    assert len(models["claude-opus-4-7"].requests) == calls_before  # type: ignore[attr-defined]
    assert result.unwrap().text == "s" and "opus cooling down" in result.record.decision.reason
    assert result.record.degraded and result.record.fell_back  # opus was meant, even though it was not called

    clock.advance(61)
    healthy[0] = True
    result = await run(policy, REQ, models, clock=clock, sleep=clock.sleep)
    assert result.unwrap().text == "opus is back"
    assert breakers.state("opus").status == "closed"


async def test_failed_probe_reopens(clock: ManualClock) -> None:
    breakers = Breakers(BreakerConfig(failure_threshold=1, cooldown_s=10), clock=clock)
    breakers.record_failure("opus")
    assert not breakers.available("opus")
    clock.advance(10)
    assert breakers.available("opus")  # the probe
    assert not breakers.available("opus")  # only one probe at a time
    breakers.record_failure("opus")
    assert breakers.state("opus").status == "open"
    clock.advance(5)
    assert not breakers.available("opus")
