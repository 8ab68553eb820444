"""Shadow comparison: a sampled request is also answered by the other tiers, and a judge says whether the
cheaper answer was as good. It runs after the client's answer went out, so it never delays or changes it.

For each other tier of the ladder, the same request is sent to that tier's model; the served answer and
the shadow answer are shown to the judge (`tiered.online.judge`) in a random order, and, for a share
`judge_twice` of the comparisons, again with the order swapped. One label row per pair goes to the log:
`tier` = the cheaper tier, `compared_tier` = the dearer one, `score` = 1.0 when the cheaper answer is as
good (from the first reading), `agreement` = 1/0 when judged twice, `judge_cost_usd` = what judging cost.

Money: every shadow answer and judge call is charged to the learning budget (`LearningBudget`, a USD
amount per UTC day for the whole gateway, shared through Redis when `[state]` names one), never to the
caller's. A comparison starts only when its worst case (prompt and max_tokens at the tier's prices, plus
the judge's) fits in what is left today; its exact cost is charged when it ends. A shadow call that fails
skips that comparison: nothing is retried, nothing is labelled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tiered.catalog import Catalog, ModelInfo
from tiered.errors import TieredError
from tiered.models.base import Model
from tiered.online.judge import judge_request, parse_verdict
from tiered.pricing import cost_usd
from tiered.types import Request, Response

log = logging.getLogger("tiered.online")
CHARS_PER_TOKEN_WORST = 2
"""Worst-case prompt tokens are estimated at two characters a token (the usual is about four)."""
JUDGE_MAX_TOKENS = 200
JUDGE_OVERHEAD_TOKENS = 400
"""The rubric, the tool and the section tags, in input tokens (generous)."""


class Resolver(Protocol):
    def resolve(self, target: str) -> Model: ...


class LabelSink(Protocol):
    def add_label(self, trace_id: str, score: float, *, source: str, tier: str | None = ...,
                  model: str | None = ..., compared_tier: str | None = ..., compared_model: str | None = ...,
                  key_name: str | None = ..., judge_model: str | None = ..., judge_cost_usd: Any = ...,
                  agreement: float | None = ..., created_at: float | None = ...) -> None: ...


def utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")


class LearningBudget:
    """What the learning loop may spend per UTC day: held before a comparison, charged after it.

    In memory by default (one gateway process); with a Redis client, the day's spend and holds are shared
    by every replica (`tiered:learning:<day>:spent` / `:held`, in nano-dollars, expiring after two days).
    """

    def __init__(self, usd_per_day: Decimal, *, redis: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.usd_per_day = usd_per_day
        self._redis = redis
        self._clock = clock
        self._lock = threading.Lock()
        self._day = ""
        self._spent = Decimal(0)
        self._held = Decimal(0)

    def _keys(self) -> tuple[str, str]:
        day = utc_day(self._clock())
        return f"tiered:learning:{day}:spent", f"tiered:learning:{day}:held"

    def hold(self, amount: Decimal) -> bool:
        """Hold `amount` if spent + held + amount stays within today's budget."""
        if self._redis is not None:
            spent_key, held_key = self._keys()
            nano = int(amount * 1_000_000_000) + 1
            held = int(self._redis.incrby(held_key, nano))
            self._redis.expire(held_key, 2 * 86400)
            spent = int(self._redis.get(spent_key) or 0)
            if spent + held > int(self.usd_per_day * 1_000_000_000):
                self._redis.decrby(held_key, nano)
                return False
            return True
        with self._lock:
            self._roll()
            if self._spent + self._held + amount > self.usd_per_day:
                return False
            self._held += amount
            return True

    def charge(self, held: Decimal, cost: Decimal) -> None:
        """Release a hold and add the exact cost to today's spend."""
        if self._redis is not None:
            spent_key, held_key = self._keys()
            self._redis.decrby(held_key, int(held * 1_000_000_000) + 1)
            self._redis.incrby(spent_key, int(cost * 1_000_000_000))
            self._redis.expire(spent_key, 2 * 86400)
            return
        with self._lock:
            self._roll()
            self._held = max(Decimal(0), self._held - held)
            self._spent += cost

    def spent_today(self) -> Decimal:
        if self._redis is not None:
            return Decimal(int(self._redis.get(self._keys()[0]) or 0)) / 1_000_000_000
        with self._lock:
            self._roll()
            return self._spent

    def _roll(self) -> None:
        day = utc_day(self._clock())
        if day != self._day:
            self._day, self._spent, self._held = day, Decimal(0), Decimal(0)


@dataclass(frozen=True, slots=True)
class Served:
    """The answer the client got."""

    trace_id: str
    tier: str
    model: str
    text: str


def worst_case(info: ModelInfo, prompt_chars: int, max_tokens: int) -> Decimal:
    tokens_in = prompt_chars // CHARS_PER_TOKEN_WORST + 1
    return (tokens_in * info.prices.input + max_tokens * info.prices.output) / Decimal(1_000_000)


class Shadow:
    def __init__(self, catalog: Catalog, models: Resolver, store: LabelSink, budget: LearningBudget, *,
                 rate: float, judge: str | None = None, judge_twice: float = 0.25,
                 rng: random.Random | None = None) -> None:
        self.catalog = catalog
        self.models = models
        self.store = store
        self.budget = budget
        self.rate = rate
        self.judge = catalog.resolve(judge or list(catalog.tiers)[-1])
        self.judge_twice = judge_twice
        self._rng = rng or random.Random()
        self.compared = 0
        self.skipped_budget = 0
        self.failed = 0

    def sample(self) -> bool:
        return self.rate > 0 and self._rng.random() < self.rate

    def others(self, served_tier: str, tiers: Sequence[str] | None = None) -> list[str]:
        return [t for t in (tiers or self.catalog.tiers) if t != served_tier]

    async def compare(self, request: Request, served: Served, tiers: Sequence[str] | None = None) -> None:
        """Answer `request` on every other tier of `tiers` (the route's router's; default the catalog's ladder)
        and judge each pair; labels go to the store (see the module docstring)."""
        for tier in self.others(served.tier, tiers):
            try:
                await self._pair(request, served, tier)
            except TieredError as e:  # a failed shadow call: no label, nothing retried
                self.failed += 1
                log.info("shadow comparison on %s skipped for trace %s: %s", tier, served.trace_id, e)

    async def _pair(self, request: Request, served: Served, tier: str) -> None:
        info = self.catalog.resolve(tier)
        prompt = request.prompt_text
        judge_in = len(prompt) + len(served.text) + 4 * request.max_tokens + 4 * JUDGE_OVERHEAD_TOKENS
        readings = 2 if self._rng.random() < self.judge_twice else 1
        held = worst_case(info, len(prompt), request.max_tokens) + readings * worst_case(
            self.judge, judge_in, JUDGE_MAX_TOKENS)
        if not await asyncio.to_thread(self.budget.hold, held):
            self.skipped_budget += 1
            log.info("shadow comparison skipped for trace %s: the learning budget for today is spent",
                     served.trace_id)
            return
        spent = Decimal(0)
        try:
            shadow = await self.models.resolve(info.id).complete(request)
            spent += cost_usd(info, shadow.usage)
            cheaper_is_served = self.catalog.tier_rank(served.tier) < self.catalog.tier_rank(tier)
            cheap, dear = (served.text, shadow.text) if cheaper_is_served else (shadow.text, served.text)
            served_first = self._rng.random() < 0.5
            first, judge_cost = await self._judge(prompt, cheap, dear, cheap_is_a=served_first)
            spent += judge_cost
            if first is None:
                self.failed += 1
                return
            agreement: float | None = None
            if readings == 2:
                second, cost2 = await self._judge(prompt, cheap, dear, cheap_is_a=not served_first)
                spent += cost2
                judge_cost += cost2
                if second is not None:
                    agreement = 1.0 if second == first else 0.0
            cheap_tier, dear_tier = (served.tier, tier) if cheaper_is_served else (tier, served.tier)
            cheap_model, dear_model = (served.model, info.id) if cheaper_is_served else (info.id, served.model)
            label = functools.partial(
                self.store.add_label, served.trace_id, 1.0 if first else 0.0, source="judge", tier=cheap_tier,
                model=cheap_model, compared_tier=dear_tier, compared_model=dear_model, judge_model=self.judge.id,
                judge_cost_usd=judge_cost, agreement=agreement)
            await asyncio.to_thread(label)
            self.compared += 1
        finally:
            await asyncio.to_thread(self.budget.charge, held, spent)

    async def _judge(self, prompt: str, cheap: str, dear: str, *, cheap_is_a: bool) -> tuple[bool | None, Decimal]:
        """Whether the cheaper answer is as good (None: no valid verdict), and what asking cost."""
        a, b = (cheap, dear) if cheap_is_a else (dear, cheap)
        response: Response = await self.models.resolve(self.judge.id).complete(judge_request(prompt, a, b))
        cost = cost_usd(self.judge, response.usage)
        verdict = parse_verdict(response)
        if verdict is None:
            return None, cost
        return verdict.as_good("A" if cheap_is_a else "B"), cost
