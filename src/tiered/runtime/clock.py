"""Time as an injected dependency: the clock and sleep types, and `ManualClock`, a clock you move by hand.

Everything in tiered that waits or measures takes `clock` and `sleep` arguments with real defaults
(`time.perf_counter`, `asyncio.sleep`). `ManualClock` is the documented fake for both: its `sleep`
records the duration and moves the clock instead of waiting, so a test of back-off, retry-after or
a breaker's cooldown runs instantly and can assert on exactly how long the code meant to wait.

    clock = ManualClock()
    await run(policy, request, models, clock=clock, sleep=clock.sleep)
    clock.slept        # [0.5, 1.0]: the back-offs the policy asked for
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
SleepFn = Callable[[float], Awaitable[None]]


class ManualClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the wait and move time on; yields to the loop once, as a real sleep would."""
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now:g})"
