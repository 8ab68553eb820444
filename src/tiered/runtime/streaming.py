"""Streaming a policy's answer: only the call that answers streams to the caller.

A policy marks the calls whose successful answer it returns as is with `Call(stream=True)` (the leaf
`Direct`, each option of a `Fallback`, a cascade's last tier, a delegate's synthesis); every other
call (a classifier, a cheap tier whose confidence is still to be judged, a plan) runs whole. The
first `stream=True` call streams, and its events reach the caller:

- Events are held back until the first content delta (or `message_stop`). An error before that, the
  usual shape of a 529 or a dropped connection, reaches the caller as nothing at all: the policy gets
  an error outcome and, in a `Fallback`, moves on to the next model.
- Once events went out, an error ends the stream with an `error` event (as the Messages API does)
  and the request is recorded as failed. It is never passed off as complete: no `message_stop`.
- When no call streamed (a cascade that stopped at a cheap tier, whose reported answer became text),
  the final answer is replayed as events (`tiered.models.events.response_events`).
- When the request fails before any event went out, iterating raises `AllFailed`, so a gateway can
  still answer with a proper HTTP error status.
- A call that breaks mid-stream is priced from what it consumed (`Accumulator.partial_usage`: the
  input and cache tokens of `message_start`, the output so far), as the upstream bills it; a call
  that failed before `message_start` costs nothing. So is a call the caller walked away from (it
  stopped reading, or its task was cancelled): its attempt, outcome `cancelled`, is in the record.
  Such an attempt keeps the HTTP status its stream began with (200); the error is its outcome.

    s = stream(policy, request, models)
    async for event in s:
        ...
    s.record            # the frozen Record, once the stream ended
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any, Unpack

from tiered.errors import AllFailed, ModelUnavailable, ProviderError, UpstreamTimeout
from tiered.models.events import Accumulator, response_events
from tiered.policies.base import Call, Outcome, Policy, Result
from tiered.records import Attempt, Decision, Record
from tiered.runtime.driver import Execution, Options, Resolver
from tiered.types import Request, StreamEvent

log = logging.getLogger(__name__)


def error_event(error: ProviderError) -> StreamEvent:
    return {"type": "error", "error": {"type": error.error_type, "message": error.message}}


class StreamRun:
    """An async iterable of Messages API events; `record` is set once iteration has ended."""

    def __init__(self, policy: Policy, request: Request, models: Resolver, **options: Unpack[Options]) -> None:
        self.policy, self.request = policy, request
        self.record: Record | None = None
        self._ex = Execution(models, **options)
        self.route, self.sinks, self.trace_id = self._ex.route, self._ex.sinks, self._ex.trace_id

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events()

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The attempts finished so far (a gateway reads them when the first event goes out)."""
        return tuple(self._ex.attempts)

    def _finish(self, result: Result | None, outcome: str | None = None) -> Record:
        self.record = self._ex.finish(self.policy, self.request, result, outcome)
        return self.record

    async def _events(self) -> AsyncIterator[StreamEvent]:
        flow = self.policy.flow(self.request)
        send: Any = None
        live: Call | None = None
        result: Result | None = None
        box: list[Outcome] = []
        ended = "error"  # how the record ends if the loop does not: an exception, unless the caller left
        try:
            while True:
                try:
                    step = flow.send(send)
                except StopIteration as stop:
                    result = stop.value
                    break
                if not (isinstance(step, Call) and step.stream and live is None):
                    send = await self._ex.step(step)
                    continue
                box = []
                forwarded = False
                async with aclosing(self._stream_call(step, box)) as events:
                    async for event in events:
                        forwarded = True
                        yield event
                outcome = box[0]
                self._ex.note(outcome)
                if forwarded and not outcome.ok:
                    assert outcome.error is not None
                    yield error_event(outcome.error)
                    why = f"stream broke after it began: {outcome.error.error_type}"
                    self._finish(Result(outcome, Decision(repr(self.policy), outcome.attempt.tier, why)))
                    return
                if forwarded:
                    live = step
                send = outcome
        except (GeneratorExit, asyncio.CancelledError):  # the caller stopped reading, or its task was cancelled
            # (a server cancels the task of a client that went away while the upstream is still answering)
            ended = "cancelled"
            if box and (not self._ex.attempts or self._ex.attempts[-1] is not box[0].attempt):
                self._ex.note(box[0])  # the call cut short: priced at what the upstream consumed
            raise
        finally:
            flow.close()
            if result is None and self.record is None:
                self._finish(None, outcome=ended)
        assert result is not None
        out = result.outcome
        self._finish(result)
        if live is not None:
            if out.call is not live:
                log.warning("policy %r returned another answer than the one it streamed", self.policy)
            return
        if out.response is not None and out.ok:
            for event in response_events(out.response):
                yield event
            return
        raise AllFailed(f"every attempt failed ({self.record.outcome if self.record else 'error'})", self._ex.errors)

    async def _stream_call(self, call: Call, box: list[Outcome]) -> AsyncGenerator[StreamEvent, None]:
        """Stream one call; events go out from the first content delta on; the outcome lands in `box`."""
        ex = self._ex
        started = ex.clock()
        try:
            model, tier = ex.target(call)
        except ModelUnavailable as e:
            box.append(ex.outcome(call, call.target, None, started, error=e))
            return
        started = ex.clock()  # building the model is set-up, not this call's latency
        acc = Accumulator(model=model.name)
        held: list[StreamEvent] = []
        live = False
        ttft_ms: float | None = None
        sent = 0
        adapted = ""
        try:
            request, adapted = ex.adapted(call, model)
            async with asyncio.timeout(call.timeout_s), _closing(model.stream(request)) as upstream:
                async for event in upstream:
                    acc.add(event)
                    if live:
                        sent += 1
                        yield event
                        continue
                    held.append(event)
                    if event.get("type") in ("content_block_delta", "message_stop"):
                        ttft_ms = (ex.clock() - started) * 1000.0
                        live = True
                        for h in held:
                            sent += 1
                            yield h
                        held.clear()
            response = acc.response(ttft_ms=ttft_ms)
        except (GeneratorExit, asyncio.CancelledError):  # the caller left: the upstream billed what it sent
            left = ProviderError(f"{model.name}: the caller left after {sent} events", model=model.name,
                                 status=499, error_type="cancelled", midstream=sent > 0)
            box.append(ex.outcome(call, model, tier, started, error=left, ttft_ms=ttft_ms,
                                  consumed=acc.partial_usage, status=200 if acc.partial_usage else None))
            raise
        except ProviderError as e:
            note = f" [after {sent} events]" if sent else ""
            box.append(ex.outcome(call, model, tier, started, error=e, ttft_ms=ttft_ms, note=note,
                                  consumed=acc.partial_usage, status=200 if acc.partial_usage else None))
            return
        except TimeoutError:
            err = UpstreamTimeout(f"{model.name} stream exceeded {call.timeout_s:g}s", model=model.name,
                                  midstream=sent > 0)
            box.append(ex.outcome(call, model, tier, started, error=err, ttft_ms=ttft_ms,
                                  consumed=acc.partial_usage, status=200 if acc.partial_usage else None))
            return
        box.append(ex.outcome(call, model, tier, started, response=response, ttft_ms=ttft_ms, note=adapted))


@asynccontextmanager
async def _closing(events: AsyncIterator[StreamEvent]) -> AsyncGenerator[AsyncIterator[StreamEvent], None]:
    """Close a model's stream (its HTTP response) as soon as we stop reading it, not at garbage collection."""
    try:
        yield events
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


def stream(policy: Policy, request: Request, models: Resolver, **options: Unpack[Options]) -> StreamRun:
    """Run `policy`, streaming its answering call to the caller (`options` as for `run`: clock, sleep,
    route, sinks, catalog, trace_id); see the module docstring."""
    return StreamRun(policy, request, models, **options)
