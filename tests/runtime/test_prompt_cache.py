"""The prompt-cache ledger: what the emulator's usage says is warm reaches the router as data, over real HTTP."""

from __future__ import annotations

from dataclasses import replace

import redis

from tiered.catalog import Catalog
from tiered.emulator.app import Emulator
from tiered.emulator.server import make_server
from tiered.models.registry import ModelSet
from tiered.policies.cache_aware import CacheAware
from tiered.policies.router import ComplexityRouter
from tiered.runtime.driver import run
from tiered.runtime.prompt_cache import MemoryCacheLedger, PromptCacheTracker, RedisCacheLedger
from tiered.scoring.base import Thresholds
from tiered.serving import serving_in_thread
from tiered.types import Request, Usage

PREFIX = "y" * 40_000  # 10,000 tokens


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def conversation(turns: int) -> Request:
    """A conversation of `turns` user turns, its last block marked for caching."""
    messages: list[dict[str, object]] = []
    for i in range(turns):
        if i:
            messages.append({"role": "assistant", "content": f"answer {i}"})
        messages.append({"role": "user", "content": [{"type": "text", "text": PREFIX if i == 0 else f"more {i}"}]})
    last = dict(messages[-1])
    last["content"] = [{**last["content"][0], "cache_control": {"type": "ephemeral"}}]  # type: ignore[index]
    messages[-1] = last
    return Request(messages=tuple(messages), max_tokens=200, conversation_id="conv-1")


def test_the_tracker_notes_what_an_answer_left_warm_and_lets_it_expire() -> None:
    clock = Clock()
    tracker = PromptCacheTracker(MemoryCacheLedger(clock=clock), clock=clock)
    first = conversation(1)
    assert tracker.annotate(first).warm == {}
    tracker.note(first, "claude-sonnet-4-6", Usage(input_tokens=3, cache_creation_input_tokens=10_000))
    second = tracker.annotate(conversation(2))
    assert second.warm == {"claude-sonnet-4-6": 10_000}  # found by lookback before the new breakpoint
    clock.now += 299
    assert tracker.annotate(conversation(2)).warm == {"claude-sonnet-4-6": 10_000}
    clock.now += 2  # 5 minutes after the write, with no read since
    assert tracker.annotate(conversation(2)).warm == {}


def test_a_read_refreshes_and_no_caching_notes_nothing() -> None:
    clock = Clock()
    tracker = PromptCacheTracker(MemoryCacheLedger(clock=clock), clock=clock)
    tracker.note(conversation(1), "claude-haiku-4-5", Usage(input_tokens=3, cache_creation_input_tokens=10_000))
    clock.now += 200
    tracker.note(conversation(2), "claude-haiku-4-5", Usage(input_tokens=3, cache_read_input_tokens=10_000,
                                                             cache_creation_input_tokens=8))
    clock.now += 200  # 400 s after the write, 200 after the read: still warm
    assert tracker.annotate(conversation(3)).warm["claude-haiku-4-5"] >= 10_000
    tracker.note(conversation(1), "claude-opus-4-7", Usage(input_tokens=10_000))  # under the minimum: no cache
    assert "claude-opus-4-7" not in tracker.annotate(conversation(2)).warm


def test_the_redis_ledger_is_shared_by_two_trackers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"tiered:test-prompt-cache:{id(client)}:"
    clock = Clock()
    clock.now = __import__("time").time()
    one = PromptCacheTracker(RedisCacheLedger(client, prefix=prefix, clock=clock), clock=clock)
    two = PromptCacheTracker(RedisCacheLedger(client, prefix=prefix, clock=clock), clock=clock)
    one.note(conversation(1), "claude-sonnet-4-6", Usage(input_tokens=3, cache_creation_input_tokens=10_000))
    assert two.annotate(conversation(2)).warm == {"claude-sonnet-4-6": 10_000}
    assert 0 < int(client.pttl(prefix + "conv:conv-1")) <= 300_001  # type: ignore[arg-type]
    client.delete(prefix + "conv:conv-1")


def test_a_broken_ledger_costs_the_knowledge_not_the_request() -> None:
    class Down:
        def warm(self, key: str) -> dict[str, dict[str, float]]:
            raise ConnectionError("redis is down")

        def note(self, key: str, model: str, prefixes: dict[str, float]) -> None:
            raise ConnectionError("redis is down")

    tracker = PromptCacheTracker(Down())
    request = conversation(2)
    assert tracker.annotate(request) is request
    tracker.note(request, "claude-sonnet-4-6", Usage(cache_read_input_tokens=5))  # logged, not raised


async def test_cache_aware_routing_stays_on_the_warm_tier_and_the_bill_agrees(catalog: Catalog) -> None:
    """Turn 1 needs sonnet, turn 2 only haiku: cache-blind moves to haiku and writes the prefix cold
    there; cache-aware stays on sonnet and reads it, which the emulator's usage bills for less."""
    clock = Clock()
    app = Emulator(catalog=catalog, cache_clock=clock)
    scores = {1: 0.5, 2: 0.1}
    thresholds = Thresholds.of(("haiku", "sonnet", "opus"), (1 / 3, 2 / 3))
    with serving_in_thread(lambda host, port: make_server(app, host=host, port=port), name="emulator") as url:
        models = ModelSet.build(catalog, backend="emulator", base_url=url)
        costs = {}
        for aware in (False, True):
            app.cache = type(app.cache)(clock=clock)
            tracker = PromptCacheTracker(MemoryCacheLedger(clock=clock), clock=clock)
            router = ComplexityRouter(lambda r: scores[r.turns], thresholds,
                                      cache=CacheAware(catalog, horizon_turns=1) if aware else None)
            first = await run(router, tracker.annotate(conversation(1)), tracker.wrap(models), catalog=catalog)
            assert first.record.tier == "sonnet"
            clock.now += 20
            second_request = tracker.annotate(conversation(2))
            assert second_request.warm == ({"claude-sonnet-4-6": 10_000})
            second = await run(router, second_request if aware else replace(second_request, warm={}),
                               tracker.wrap(models), catalog=catalog)
            costs[aware] = second.record.cost_usd
            attempt = second.record.attempts[0]
            if aware:
                assert second.record.tier == "sonnet" and attempt.cache_read_input_tokens == 10_000
                assert "stay on sonnet: cache warm, switching to haiku costs $" in second.record.decision.reason
                assert second.record.decision.scores["cache_saving_usd"] > 0
            else:
                assert second.record.tier == "haiku" and attempt.cache_creation_input_tokens >= 10_000
        await models.aclose()
    assert costs[True] < costs[False]
