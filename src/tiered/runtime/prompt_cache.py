"""Which prompt prefixes are warm, per conversation and per model: the ledger, kept on the I/O side.

A cache-aware policy (`tiered.policies.cache_aware`) weighs each tier's expected cost with what is
warm in that tier's prompt cache, but never looks it up: `PromptCacheTracker.annotate` fills
`Request.warm` (model id -> warm prefix tokens of *this* request) before the policy runs, and the
models it hands the driver (`PromptCacheTracker.wrap`) note every answer's prefixes afterwards. So
the policy stays a pure generator, the same live, in tests and in replay.

What is noted: after a call to model M whose usage shows the cache at work (cache read or write > 0;
a prompt under the model's minimum cacheable length shows neither), the prefix up to each of the
request's breakpoints is warm on M until now + its ttl (5 minutes or an hour), and the prefix the
read found is refreshed, as the API does. Entries are per conversation (`conversation_key`: the
declared conversation id, else the hash of its first user message), so the ledger stays small and
one conversation's entries are one lookup.

Ledgers: `MemoryCacheLedger` (one process, LRU-bounded) and `RedisCacheLedger` (shared by gateway
replicas: one hash per conversation, a field per model; keys expire with their last entry). A
ledger that fails (Redis down) costs the routing its cache knowledge, never the request: errors are
logged and the request goes on as if nothing were warm.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from tiered.models.base import Model
from tiered.policies.affinity import conversation_key
from tiered.prompt_cache import TTL_S, PromptShape
from tiered.types import Request, Response, StreamEvent, Usage

if TYPE_CHECKING:
    import redis

    from tiered.runtime.driver import Resolver

log = logging.getLogger(__name__)
MAX_DIGESTS_PER_MODEL = 64
Warm = dict[str, float]
"""Prefix digest -> wall-clock expiry, for one conversation on one model."""


class CacheLedger(Protocol):
    def warm(self, key: str) -> Mapping[str, Warm]:
        """Model id -> the conversation's warm prefixes there (expired ones may be included)."""
        ...

    def note(self, key: str, model: str, prefixes: Warm) -> None:
        """Merge `prefixes` into what is warm on `model` for the conversation (later expiries win)."""
        ...


def merged(old: Mapping[str, float], new: Mapping[str, float], now: float) -> Warm:
    """`old` and `new` without expired entries, the later expiry of each digest, at most
    `MAX_DIGESTS_PER_MODEL` (the latest expiring)."""
    out = {d: e for d, e in old.items() if e > now}
    for digest, expires in new.items():
        if expires > out.get(digest, now):
            out[digest] = expires
    if len(out) > MAX_DIGESTS_PER_MODEL:
        out = dict(sorted(out.items(), key=lambda kv: kv[1])[-MAX_DIGESTS_PER_MODEL:])
    return out


class MemoryCacheLedger:
    def __init__(self, *, clock: Callable[[], float] = time.time, max_conversations: int = 100_000) -> None:
        self._clock = clock
        self._max = max_conversations
        self._data: OrderedDict[str, dict[str, Warm]] = OrderedDict()

    def warm(self, key: str) -> Mapping[str, Warm]:
        entry = self._data.get(key)
        if entry is None:
            return {}
        self._data.move_to_end(key)
        return {model: dict(w) for model, w in entry.items()}

    def note(self, key: str, model: str, prefixes: Warm) -> None:
        entry = self._data.setdefault(key, {})
        entry[model] = merged(entry.get(model, {}), prefixes, self._clock())
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "MemoryCacheLedger()"


class RedisCacheLedger:
    def __init__(self, client: redis.Redis, *, prefix: str = "tiered:prompt-cache:",
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock

    def warm(self, key: str) -> Mapping[str, Warm]:
        raw: Mapping[Any, Any] = self.client.hgetall(self.prefix + key)
        out: dict[str, Warm] = {}
        for field, value in raw.items():
            model = field.decode() if isinstance(field, bytes) else str(field)
            try:
                parsed = json.loads(value)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                out[model] = {str(d): float(e) for d, e in parsed.items() if isinstance(e, int | float)}
        return out

    def note(self, key: str, model: str, prefixes: Warm) -> None:
        name = self.prefix + key
        now = self._clock()

        def txn(pipe: Any) -> None:
            old_raw = pipe.hget(name, model)
            old = json.loads(old_raw) if old_raw else {}
            new = merged(old if isinstance(old, dict) else {}, prefixes, now)
            latest = max(new.values(), default=now)
            pipe.multi()
            pipe.hset(name, model, json.dumps(new, separators=(",", ":")))
            if latest > now:  # the key lives as long as its latest entry on any model it holds
                ttl_ms = int((latest - now) * 1000) + 1
                pipe.pexpire(name, ttl_ms, gt=True)
                pipe.pexpire(name, ttl_ms, nx=True)

        self.client.transaction(txn, name)

    def __repr__(self) -> str:
        return "RedisCacheLedger()"


class PromptCacheTracker:
    """Fills `Request.warm` from a ledger and notes what each answer made warm (see the module docstring)."""

    def __init__(self, ledger: CacheLedger, *, clock: Callable[[], float] = time.time) -> None:
        self.ledger = ledger
        self.clock = clock

    def annotate(self, request: Request) -> Request:
        """`request` with `warm` set: for each model, the tokens of its prefix a cache read would find."""
        key = conversation_key(request)
        if key is None:
            return request
        shape = PromptShape.of(request)
        if not shape.breakpoints:
            return request
        try:
            entries = self.ledger.warm(key)
        except Exception as e:  # noqa: BLE001 - the ledger informs routing; it never fails a request
            log.warning("prompt-cache ledger unavailable (%s: %s): routing as if nothing were warm",
                        type(e).__name__, e)
            return request
        now = self.clock()
        warm = {}
        for model, digests in entries.items():
            tokens = shape.warm_tokens({d: 1 for d, e in digests.items() if e > now})
            if tokens:
                warm[model] = tokens
        return replace(request, warm=warm) if warm else request

    def note(self, request: Request, model: str, usage: Usage) -> None:
        """Record what a call to `model` with `request` left warm (nothing when its usage shows no caching)."""
        if usage.cache_read_input_tokens + usage.cache_creation_input_tokens <= 0:
            return
        key = conversation_key(request)
        if key is None:
            return
        shape = PromptShape.of(request)
        now = self.clock()
        fresh: Warm = {b.digest: now + TTL_S[b.ttl] for b in shape.breakpoints if b.ttl is not None}
        if usage.cache_read_input_tokens:  # the read refreshes the prefix it found (maybe before a breakpoint)
            ttl = min((TTL_S[b.ttl] for b in shape.breakpoints if b.ttl is not None), default=TTL_S["5m"])
            read = [b for b in shape.readable() if b.tokens <= usage.cache_read_input_tokens]
            if read:
                fresh.setdefault(max(read, key=lambda b: b.tokens).digest, now + ttl)
        try:
            self.ledger.note(key, model, fresh)
        except Exception as e:  # noqa: BLE001 - see annotate
            log.warning("prompt-cache ledger could not note %s (%s: %s)", model, type(e).__name__, e)

    def wrap(self, models: Resolver) -> TrackedModels:
        return TrackedModels(models, self)


class TrackedModels:
    """A `Resolver` whose models note their answers' warm prefixes with a tracker."""

    def __init__(self, inner: Resolver, tracker: PromptCacheTracker) -> None:
        self.inner = inner
        self.tracker = tracker
        self.catalog = getattr(inner, "catalog", None)

    def resolve(self, target: str) -> Model:
        return TrackedModel(self.inner.resolve(target), self.tracker)

    def tier(self, target: str) -> str:
        return self.inner.tier(target)


class TrackedModel:
    def __init__(self, inner: Model, tracker: PromptCacheTracker) -> None:
        self.inner = inner
        self.tracker = tracker

    @property
    def name(self) -> str:
        return self.inner.name

    async def complete(self, request: Request) -> Response:
        response = await self.inner.complete(request)
        self.tracker.note(request, self.inner.name, response.usage)
        return response

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        usage: dict[str, Any] = {}
        async for event in self.inner.stream(request):
            kind = event.get("type")
            if kind == "message_start":
                usage.update((event.get("message") or {}).get("usage") or {})
            elif kind == "message_delta":
                usage.update(event.get("usage") or {})
            elif kind == "message_stop":
                self.tracker.note(request, self.inner.name, Usage.from_api(usage))
            yield event

    async def aclose(self) -> None:
        return None  # the inner model belongs to the resolver it came from
