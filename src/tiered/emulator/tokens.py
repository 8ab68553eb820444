"""Token counts for the emulator, and its deterministic prompt cache.

Every count the emulator reports comes from `estimate_tokens` (ceil(chars / CHARS_PER_TOKEN), the
same ratio the datasets use), so input, output, count_tokens and cache figures agree with each other
and with replayed records.

The prompt is read in the API's cache order, tools → system → messages, as a list of blocks. A
block carrying `cache_control` (or the last block, when the body has a top-level `cache_control`)
is a breakpoint. The longest prefix (the model plus every block up to and including one) that this
emulator instance cached before and that ends at a breakpoint or up to 20 blocks before one (the
API's lookback) is a cache read; the blocks after it, up to the last breakpoint, are cache writes,
billed by the ttl ("5m" default, or "1h") of the breakpoint that closes their segment; what follows
the last breakpoint is plain input. The real API's minimum cacheable length is not emulated; expiry
is when the cache is given a clock (5 minutes or an hour, refreshed by each read), and otherwise
the outcome depends only on the sequence of requests, which is what a repeatable benchmark needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tiered.datasets import CHARS_PER_TOKEN
from tiered.prompt_cache import block_chars, cache_ttl, prompt_parts

MAX_REMEMBERED_PREFIXES = 1_000_000


def estimate_tokens(text: str) -> int:
    """The one token estimate of the emulator: about CHARS_PER_TOKEN characters a token."""
    return _tokens(len(text))


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class InputUsage:
    input_tokens: int
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write_5m,
                "ephemeral_1h_input_tokens": self.cache_write_1h,
            },
        }


@dataclass(frozen=True, slots=True)
class _Block:
    chars: int
    value: Any
    ttl: str | None


def prompt_blocks(body: Mapping[str, Any]) -> list[_Block]:
    blocks = [_Block(block_chars(part), part, cache_ttl(part)) for part in prompt_parts(body)]
    top = body.get("cache_control")
    if isinstance(top, Mapping) and blocks and blocks[-1].ttl is None:
        last = blocks[-1]
        blocks[-1] = _Block(last.chars, last.value, "1h" if top.get("ttl") == "1h" else "5m")
    return blocks


def _scan(body: Mapping[str, Any]) -> tuple[int, bool]:
    """(prompt characters, whether any cache marker is present), without building blocks."""
    chars, marked = 0, isinstance(body.get("cache_control"), Mapping)
    for part in prompt_parts(body):
        chars += block_chars(part)
        if not marked and isinstance(part, Mapping) and part.get("cache_control") is not None:
            marked = True
    return chars, marked


def count_input_tokens(body: Mapping[str, Any]) -> int:
    """What /v1/messages/count_tokens answers: every prompt token, cached or not."""
    return max(1, _tokens(_scan(body)[0]))


LOOKBACK_BLOCKS = 20
"""A read is found at a breakpoint or up to this many blocks before it, as the API documents."""
TTL_S = {"5m": 300.0, "1h": 3600.0}


class PromptCache:
    """The prefixes this emulator instance has cached, per model (a bounded map of digests).

    A read is the longest cached prefix ending at a breakpoint or up to `LOOKBACK_BLOCKS` blocks
    before one. With no `clock`, nothing expires (the outcome depends only on the request order);
    with one (seconds), an entry lives for its ttl (5 minutes or an hour) and every read refreshes it.
    """

    def __init__(self, capacity: int = MAX_REMEMBERED_PREFIXES, *, clock: Callable[[], float] | None = None) -> None:
        self._seen: dict[bytes, float] = {}
        """Digest -> expiry (infinite without a clock)."""
        self._capacity = capacity
        self._clock = clock

    def usage(self, model: str, body: Mapping[str, Any]) -> InputUsage:
        total, marked = _scan(body)
        if not marked:
            return InputUsage(input_tokens=max(1, _tokens(total)))
        blocks = prompt_blocks(body)
        now = self._clock() if self._clock is not None else 0.0
        hasher = hashlib.blake2b(model.encode(), digest_size=16)
        chars = 0
        bounds: list[tuple[int, str | None, bytes]] = []  # (chars up to here, ttl if a breakpoint, prefix digest)
        for block in blocks:
            hasher.update(_canonical(block.value))
            chars += block.chars
            bounds.append((chars, block.ttl, hasher.copy().digest()))
        marks = [i for i, b in enumerate(bounds) if b[1]]
        hit = -1
        for m in marks:
            for i in range(m, max(-1, m - LOOKBACK_BLOCKS - 1), -1):
                if i > hit and self._seen.get(bounds[i][2], -1.0) > now:
                    hit = i
                    break
        read = _tokens(bounds[hit][0]) if hit >= 0 else 0
        written = {"5m": 0, "1h": 0}
        boundary = read
        for m in marks:
            if m <= hit:
                continue
            ttl = bounds[m][1] or "5m"
            written[ttl] += _tokens(bounds[m][0]) - boundary
            boundary = _tokens(bounds[m][0])
        shortest = min(TTL_S[bounds[m][1] or "5m"] for m in marks)
        if hit >= 0:
            self._keep(bounds[hit][2], now + shortest)
        for m in marks:
            self._keep(bounds[m][2], now + TTL_S[bounds[m][1] or "5m"])
        return InputUsage(
            input_tokens=_tokens(total) - boundary,
            cache_read=read,
            cache_write_5m=written["5m"],
            cache_write_1h=written["1h"],
        )

    def _keep(self, digest: bytes, expires: float) -> None:
        if len(self._seen) >= self._capacity:
            self._seen.clear()
        expiry = expires if self._clock is not None else float("inf")
        self._seen[digest] = max(expiry, self._seen.get(digest, expiry))


def _canonical(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode() + b"\x00"
    if isinstance(value, Mapping):
        value = {k: v for k, v in value.items() if k != "cache_control"}
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode() + b"\x00"
