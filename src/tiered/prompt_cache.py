"""The prompt cache as routing sees it: which prefix of a prompt can be cached, which is warm, what it costs.

The API caches a prompt's prefix per model. The prompt is read in cache order, tools → system →
messages, as a list of blocks; a block carrying `cache_control` (or the last block, with a top-level
`cache_control`) is a *breakpoint*. After a request, the prefix up to each breakpoint is in that
model's cache for its ttl ("5m", or "1h"), refreshed by every read. A later request reads the
longest cached prefix that ends at one of its breakpoints or at most `LOOKBACK_BLOCKS` blocks before
one; what lies between that and its last breakpoint is written (1.25x the input price for 5 minutes,
2x for an hour); what follows the last breakpoint is plain input; a read costs 0.1x.

This module is pure: `PromptShape.of(request)` walks a prompt once (a digest of the prefix at every
block boundary, its estimated tokens, the breakpoints); `expected_cost` prices one call to a model
given how many tokens of the prefix are warm there. What is warm is kept by a ledger
(`tiered.runtime.prompt_cache`) and reaches policies as data, in `Request.warm`.

Tokens are the character estimate (`tiered.datasets.CHARS_PER_TOKEN`, as the emulator counts): what
a routing decision needs is the size of each term, not the exact bill, which the records keep.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tiered.catalog import ModelInfo
from tiered.datasets import CHARS_PER_TOKEN
from tiered.types import Request

LOOKBACK_BLOCKS = 20
"""A cache read is found at a breakpoint or up to this many blocks before it (as the API documents)."""
TTL_S = {"5m": 300.0, "1h": 3600.0}
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Boundary:
    """The prompt up to and including one block."""

    digest: str
    tokens: int
    ttl: str | None
    """The block's cache ttl when it is a breakpoint, else None."""


@dataclass(frozen=True, slots=True)
class PromptShape:
    """A prompt's blocks as the cache sees them."""

    boundaries: tuple[Boundary, ...]
    total_tokens: int

    @classmethod
    def of(cls, request: Request | Mapping[str, Any]) -> PromptShape:
        body = request.to_body() if isinstance(request, Request) else request
        hasher = hashlib.blake2b(digest_size=16)
        chars = 0
        out: list[Boundary] = []
        parts = list(prompt_parts(body))
        top = body.get("cache_control")
        for i, part in enumerate(parts):
            hasher.update(_canonical(part))
            chars += block_chars(part)
            ttl = cache_ttl(part)
            if ttl is None and i == len(parts) - 1 and isinstance(top, Mapping):
                ttl = "1h" if top.get("ttl") == "1h" else "5m"
            out.append(Boundary(hasher.hexdigest(), _tokens(chars), ttl))
        return cls(tuple(out), _tokens(chars))

    @property
    def breakpoints(self) -> tuple[Boundary, ...]:
        return tuple(b for b in self.boundaries if b.ttl is not None)

    @property
    def cacheable_tokens(self) -> int:
        """Tokens up to the last breakpoint: what is read or written; 0 without a breakpoint."""
        marks = self.breakpoints
        return marks[-1].tokens if marks else 0

    def readable(self) -> Iterator[Boundary]:
        """The boundaries a cache read may end at: each breakpoint and the `LOOKBACK_BLOCKS` blocks before it."""
        last_mark = -1
        for i in range(len(self.boundaries) - 1, -1, -1):
            if self.boundaries[i].ttl is not None:
                last_mark = i
            if last_mark >= 0 and last_mark - i <= LOOKBACK_BLOCKS:
                yield self.boundaries[i]

    def warm_tokens(self, warm_digests: Mapping[str, int]) -> int:
        """The tokens of the longest prefix a read would find, given the digests warm on one model."""
        return max((b.tokens for b in self.readable() if b.digest in warm_digests), default=0)


@dataclass(frozen=True, slots=True)
class CallCost:
    """The expected cost of one call, split as the bill is."""

    read: Decimal
    write: Decimal
    plain: Decimal
    output: Decimal

    @property
    def total(self) -> Decimal:
        return self.read + self.write + self.plain + self.output


def expected_cost(info: ModelInfo, shape: PromptShape, warm_tokens: int, output_tokens: int) -> CallCost:
    """What a call to `info` costs with `warm_tokens` of the prefix warm there and `output_tokens` out."""
    p = info.prices
    cacheable = shape.cacheable_tokens
    warm = min(warm_tokens, cacheable)
    ttl = shape.breakpoints[-1].ttl if shape.breakpoints else None
    write_price = p.cache_write_1h if ttl == "1h" else p.cache_write_5m
    return CallCost(
        read=warm * p.cache_read / _MILLION,
        write=(cacheable - warm) * write_price / _MILLION,
        plain=(shape.total_tokens - cacheable) * p.input / _MILLION,
        output=output_tokens * p.output / _MILLION,
    )


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def prompt_parts(body: Mapping[str, Any]) -> Iterator[Any]:
    """A Messages body's prompt blocks in cache order: tools, system, then every message's content."""
    yield from body.get("tools") or ()
    system = body.get("system")
    if isinstance(system, str):
        if system:
            yield system
    elif system:
        yield from system
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, str):
            yield content
        else:
            yield from content or ()


def block_chars(block: Any) -> int:
    """A block's size in characters: its text, else its compact JSON (the emulator counts tokens the same way)."""
    if isinstance(block, str):
        return len(block)
    if isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str):
        return len(block["text"])
    return len(json.dumps(block, separators=(",", ":")))


def cache_ttl(block: Any) -> str | None:
    """"5m" or "1h" for a block carrying `cache_control` (a breakpoint), else None."""
    marker = block.get("cache_control") if isinstance(block, Mapping) else None
    if not isinstance(marker, Mapping):
        return None
    return "1h" if marker.get("ttl") == "1h" else "5m"


def _canonical(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode() + b"\x00"
    if isinstance(value, Mapping):
        value = {k: v for k, v in value.items() if k != "cache_control"}
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode() + b"\x00"
