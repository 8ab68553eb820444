"""`PolicyModel`: a policy plus the models it calls, seen as one `Model`, so composites nest.

The gateway serves a route with it, and a library user can hand it anywhere a `Model` goes:

    smart = PolicyModel(Fallback(Cascade(("haiku", "sonnet")), "opus"), ModelSet.build(catalog), name="smart")
    response = await smart.complete(Request.user("..."))      # AllFailed when every attempt failed
    async for event in smart.stream(request): ...

Every request it answers emits a `Record` to its sinks; `last_record` keeps the latest for callers
that want it without a sink.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable

from tiered.catalog import Catalog
from tiered.policies.base import Policy
from tiered.records import Record
from tiered.runtime.clock import Clock, SleepFn
from tiered.runtime.driver import Resolver, Sink, run
from tiered.runtime.streaming import stream
from tiered.types import Request, Response, StreamEvent


class PolicyModel:
    def __init__(
        self,
        policy: Policy,
        models: Resolver,
        *,
        name: str = "tiered",
        route: str = "default",
        sinks: Iterable[Sink] = (),
        catalog: Catalog | None = None,
        clock: Clock = time.perf_counter,
        sleep: SleepFn = asyncio.sleep,
    ) -> None:
        self.policy = policy
        self.models = models
        self._name = name
        self.route = route
        self.sinks = tuple(sinks)
        self.catalog = catalog
        self.clock = clock
        self.sleep = sleep
        self.last_record: Record | None = None

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: Request) -> Response:
        result = await run(self.policy, request, self.models, clock=self.clock, sleep=self.sleep, route=self.route,
                           sinks=self.sinks, catalog=self.catalog)
        self.last_record = result.record
        return result.unwrap()

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        s = stream(self.policy, request, self.models, clock=self.clock, sleep=self.sleep, route=self.route,
                   sinks=self.sinks, catalog=self.catalog)
        try:
            async for event in s:
                yield event
        finally:
            self.last_record = s.record

    async def aclose(self) -> None:
        """The models belong to whoever built the resolver; it closes them."""
        return None

    def __repr__(self) -> str:
        return f"PolicyModel({self.policy!r}, name={self._name!r})"
