"""The I/O side: the async driver that performs policies' steps, streaming, breakers, and time.

    result = await run(policy, request, ModelSet.build(catalog))
    async for event in stream(policy, request, models): ...
    PolicyModel(policy, models)          # a policy as a Model

Redis-backed state (`tiered.runtime.redis_state`) is not imported here: it needs the `redis` extra.
"""

from tiered.runtime.clock import ManualClock
from tiered.runtime.driver import Resolver, Run, Sink, run
from tiered.runtime.health import BreakerConfig, Breakers, Health
from tiered.runtime.policy_model import PolicyModel
from tiered.runtime.streaming import StreamRun, stream

__all__ = [
    "BreakerConfig", "Breakers", "Health", "ManualClock", "PolicyModel", "Resolver", "Run", "Sink", "StreamRun",
    "run", "stream",
]
