"""Conversation affinity: a follow-up turn does not drop below the tier its conversation reached.

Switching a conversation from Opus down to Haiku mid-way because turn 5 ("thanks, and the tests?")
looks easy loses context quality and reads as the assistant getting worse. So a router remembers,
per conversation, the highest tier that served it, for `ttl_s`, and routes later turns at least
there. A conversation is `Request.conversation_id` when the caller gives one, else a stable hash of
the first user message (the same for every turn of one conversation, as clients resend history).
Two conversations that open with the same message ("hi") then share an entry: callers that can
should pass `conversation_id` (a gateway can fill it from a session header such as X-Claude-Code-Session-Id).

`AffinityStore` is the small protocol: `MemoryAffinity` (in process, LRU-bounded, injected clock);
`tiered.runtime.redis_state.RedisAffinity` shares it across gateway replicas.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from tiered.types import Request, content_text


@runtime_checkable
class AffinityStore(Protocol):
    def get(self, key: str) -> str | None:
        """The tier the conversation reached, if it is remembered and not expired."""
        ...

    def put(self, key: str, tier: str, ttl_s: float) -> None: ...


def conversation_key(request: Request) -> str | None:
    """`conv:<id>` for a declared conversation, else `first:<sha256 of the first user message>`."""
    if request.conversation_id:
        return f"conv:{request.conversation_id}"
    for m in request.messages:
        if m.get("role") == "user":
            text = content_text(m.get("content"))
            return "first:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return None


def is_follow_up(request: Request) -> bool:
    """Affinity applies to a declared conversation, or to a request that carries earlier turns."""
    return bool(request.conversation_id) or request.turns > 1


class MemoryAffinity:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def get(self, key: str) -> str | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        tier, expires = hit
        if self._clock() >= expires:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return tier

    def put(self, key: str, tier: str, ttl_s: float) -> None:
        self._data[key] = (tier, self._clock() + ttl_s)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "MemoryAffinity()"
