"""The one async driver: performs a policy's steps against real models and records what happened.

A policy (`tiered.policies`) only decides; this module does the I/O. For each step it

- `Call`: resolves the target through a `Resolver` (tier, alias or id -> `Model`; `ModelSet` from
  `tiered.models.registry` is one), calls the model, measures latency with the injected clock,
  prices the usage from the catalog (`tiered.pricing.cost_usd`), and turns a `ProviderError` (or a
  `Call.timeout_s` overrun, as `UpstreamTimeout`) into an error `Outcome`; it never raises them;
- `Parallel`: runs the calls concurrently under a semaphore of `limit`, each with its own timeout;
- `Sleep`: awaits the injected `sleep`.

At the end it builds one frozen `Record` (every attempt, total cost and latency, degraded /
escalated / fell_back, the decision) and hands it to each `Sink` (`emit(record)`; telemetry sinks
live in `tiered.telemetry`, which the core never imports).

Failure is returned, not raised: `run` gives a `Run` whose `error` is set and whose `errors` hold
every provider error seen, in order; `Run.unwrap()` returns the response or raises `AllFailed` with
all of them (what `PolicyModel.complete` and a plain library caller want). The record is emitted
either way, and also when something unexpected escapes (a bug; a cancelled caller): the exception
propagates after one record with outcome `error` (or `cancelled`) went to the sinks. A model the
resolver cannot build is that call's error outcome (`ModelUnavailable`, 500 api_error, not retryable).
Streaming lives in `tiered.runtime.streaming`.

    run = await run(Fallback("opus", "sonnet"), Request.user("hi"), ModelSet.build(catalog))
    run.unwrap().text, run.record.cost_usd
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypedDict, Unpack

from tiered.capabilities import adapt
from tiered.catalog import Catalog
from tiered.errors import AllFailed, CatalogError, ModelUnavailable, ProviderError, UpstreamTimeout
from tiered.models.base import Model
from tiered.policies.base import Call, Outcome, Parallel, Policy, Result, Sleep
from tiered.pricing import cost_usd
from tiered.records import Attempt, Decision, Record
from tiered.runtime.clock import Clock, SleepFn
from tiered.types import Request, Response, Usage

log = logging.getLogger(__name__)


class Resolver(Protocol):
    """Target (tier name, alias or model id) -> the `Model` to call; `ModelSet` satisfies it."""

    def resolve(self, target: str) -> Model: ...

    def tier(self, target: str) -> str: ...


class Sink(Protocol):
    def emit(self, record: Record) -> None: ...


@dataclass(frozen=True, slots=True)
class Run:
    """What `run` returns: the response (None on failure), the record, and every provider error seen."""

    response: Response | None
    record: Record
    errors: tuple[ProviderError, ...]
    error: ProviderError | None = None
    """The error that ended the request (the last one), when it failed."""

    def unwrap(self) -> Response:
        if self.response is None:
            errors = self.errors or ((self.error,) if self.error else ())
            raise AllFailed(f"every attempt failed ({self.record.outcome})", errors)
        return self.response


class Options(TypedDict, total=False):
    """The keyword options `run` and `stream` share (defaults in `Execution`)."""

    clock: Clock
    """Latency and ttft (default `time.perf_counter`)."""
    sleep: SleepFn
    """What a `Sleep` step awaits (default `asyncio.sleep`)."""
    route: str
    """The record's route (default "default")."""
    sinks: Iterable[Sink]
    """Who gets the record (default none)."""
    catalog: Catalog | None
    """Prices and tiers (default the resolver's catalog, else the packaged one)."""
    trace_id: str | None
    """The record's id (default a fresh uuid4 hex)."""


class Execution:
    """One request's run: performs steps, collects the attempts, writes the one record. Shared by `run`
    and `stream`, which take its keyword arguments as `Options`."""

    def __init__(
        self,
        models: Resolver,
        *,
        catalog: Catalog | None = None,
        clock: Clock = time.perf_counter,
        sleep: SleepFn = asyncio.sleep,
        route: str = "default",
        sinks: Iterable[Sink] = (),
        trace_id: str | None = None,
    ) -> None:
        self.models = models
        self.catalog = catalog or getattr(models, "catalog", None) or Catalog.load()
        self.clock = clock
        self.sleep = sleep
        self.route = route
        self.sinks = tuple(sinks)
        self.trace_id = trace_id or uuid.uuid4().hex
        self.attempts: list[Attempt] = []
        self.errors: list[ProviderError] = []
        self.started = clock()

    async def step(self, step: Call | Parallel | Sleep) -> Any:
        """Perform one step and return what the policy receives for it."""
        if isinstance(step, Call):
            outcome = await self.call(step)
            self.note(outcome)
            return outcome
        if isinstance(step, Parallel):
            sem = asyncio.Semaphore(max(1, step.limit))

            async def bounded(c: Call) -> Outcome:
                async with sem:
                    return await self.call(c)

            outcomes = await asyncio.gather(*(bounded(c) for c in step.calls))
            for o in outcomes:
                self.note(o)
            return tuple(outcomes)
        await self.sleep(step.seconds)
        return None

    def note(self, outcome: Outcome) -> None:
        self.attempts.append(outcome.attempt)
        if outcome.error is not None:
            self.errors.append(outcome.error)

    def target(self, call: Call) -> tuple[Model, str | None]:
        """The model and tier for `call`; `ModelUnavailable` when the model cannot be built (a missing
        key, a bad backend or catalog entry), which `call` and the streaming driver turn into an error
        outcome, so the request fails with a record instead of escaping the driver."""
        try:
            model = self.models.resolve(call.target)
        except ProviderError:
            raise
        except Exception as e:  # any build failure is this call's failed attempt, not a crash of the request
            log.warning("model %r cannot be built: %s: %s", call.target, type(e).__name__, e)
            raise ModelUnavailable(f"model {call.target!r} is not available on this server: {e}",
                                   model=call.target) from e
        try:
            tier: str | None = self.models.tier(call.target) or None
        except CatalogError:
            tier = None
        return model, tier

    async def call(self, call: Call) -> Outcome:
        started = self.clock()
        try:
            model, tier = self.target(call)
        except ModelUnavailable as e:
            return self.outcome(call, call.target, None, started, error=e)
        started = self.clock()  # building the model (an SDK import, a replay book's load) is set-up, not latency
        try:
            request, note = self.adapted(call, model)
            async with asyncio.timeout(call.timeout_s):
                response = await model.complete(request)
        except ProviderError as e:
            return self.outcome(call, model, tier, started, error=e)
        except TimeoutError:
            err = UpstreamTimeout(f"{model.name} gave no answer within {call.timeout_s:g}s", model=model.name)
            return self.outcome(call, model, tier, started, error=err)
        return self.outcome(call, model, tier, started, response=response, note=note)

    def adapted(self, call: Call, model: Model) -> tuple[Request, str]:
        """The call's request as its model accepts it (`tiered.capabilities.adapt`) and a note for the attempt's
        reason saying what changed; `Unsupported` when the model cannot serve it."""
        info = self.catalog.get(model.name)
        if info is None:
            return call.request, ""
        adapted = adapt(call.request, info, largest_output=max(m.max_output for m in self.catalog.models.values()))
        return adapted.request, "".join(f"; adapted: {c}" for c in adapted.changes)

    def outcome(
        self,
        call: Call,
        model: Model | str,
        tier: str | None,
        started: float,
        *,
        response: Response | None = None,
        error: ProviderError | None = None,
        ttft_ms: float | None = None,
        note: str = "",
        consumed: Usage | None = None,
        status: int | None = None,
    ) -> Outcome:
        """The outcome and its priced attempt. `consumed` is what a failed call used upstream anyway (a
        stream that broke after message_start); it is priced when there is no response, never besides one.
        `status` is the HTTP status the call got when it is not the error's (a stream that broke after its
        200: the error is the attempt's outcome, the status stays 200)."""
        latency_ms = (self.clock() - started) * 1000.0
        name = model if isinstance(model, str) else model.name
        usage = response.usage if response is not None else consumed
        info = self.catalog.get(name)
        cost = cost_usd(info, usage) if info is not None and usage is not None else Decimal(0)
        attempt = Attempt(
            model=name,
            tier=tier,
            purpose=call.purpose,
            outcome=error.error_type if error is not None else "ok",
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cache_read_input_tokens=usage.cache_read_input_tokens if usage else 0,
            cache_creation_input_tokens=usage.cache_creation_input_tokens if usage else 0,
            cost_usd=cost,
            latency_ms=latency_ms,
            ttft_ms=ttft_ms if ttft_ms is not None else (response.ttft_ms if response is not None else None),
            status=status if status is not None else error.status if error is not None else 200,
            reason=call.reason + note,
            kind=call.attempt_kind,
        )
        return Outcome(call, attempt, response, error)

    def finish(self, policy: Policy, request: Request, result: Result | None, outcome: str | None = None) -> Record:
        """Build the request's record and hand it to the sinks."""
        record = self.record(policy, request, result, outcome=outcome)
        emit(record, self.sinks)
        return record

    def record(self, policy: Policy, request: Request, result: Result | None, *, outcome: str | None = None) -> Record:
        served = result.outcome if result is not None and result.outcome.ok else None
        failed = result.outcome.error if result is not None else None
        return Record(
            trace_id=self.trace_id,
            route=self.route,
            policy=repr(policy),
            decision=result.decision if result is not None else Decision(repr(policy), None, "stopped"),
            attempts=tuple(self.attempts),
            cost_usd=sum((a.cost_usd for a in self.attempts), Decimal(0)),
            latency_ms=(self.clock() - self.started) * 1000.0,
            degraded=bool(result and result.degraded),
            created_at=time.time(),
            model=served.attempt.model if served else None,
            tier=served.attempt.tier if served else None,
            requested_model=request.model or None,
            task=request.task,
            escalated=any(a.kind == "escalation" for a in self.attempts),
            fell_back=any(a.kind == "fallback" for a in self.attempts),
            outcome=outcome or ("ok" if served else (failed.error_type if failed else "error")),
        )


def emit(record: Record, sinks: Iterable[Sink]) -> None:
    """Give the record to every sink. Telemetry must never fail a request, so a sink's error is logged."""
    for sink in sinks:
        try:
            sink.emit(record)
        except Exception:  # any sink failure is logged; the answer still goes out
            log.exception("sink %r failed to store record %s", sink, record.trace_id)


async def run(policy: Policy, request: Request, models: Resolver, **options: Unpack[Options]) -> Run:
    """Run `policy` on `request` to the end (`options`: clock, sleep, route, sinks, catalog, trace_id);
    see the module docstring."""
    ex = Execution(models, **options)
    flow = policy.flow(request)
    send: Any = None
    try:
        while True:
            try:
                step = flow.send(send)
            except StopIteration as stop:
                result: Result = stop.value
                break
            send = await ex.step(step)
    except BaseException as e:  # a bug in a policy or model, or a cancelled caller: still one record
        ended = "cancelled" if isinstance(e, asyncio.CancelledError) else "error"
        ex.finish(policy, request, None, ended)
        raise
    finally:
        flow.close()
    record = ex.finish(policy, request, result)
    out = result.outcome
    return Run(out.response if out.ok else None, record, tuple(ex.errors), None if out.ok else out.error)
