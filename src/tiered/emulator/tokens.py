"""Token counts for the emulator, and its deterministic prompt cache.

Every count the emulator reports comes from `estimate_tokens` (ceil(chars / CHARS_PER_TOKEN), the
same ratio the datasets use), so input, output, count_tokens and cache figures agree with each other
and with replayed records.

The prompt is read in the API's cache order, tools → system → messages, as a list of blocks. A
block carrying `cache_control` (or the last block, when the body has a top-level `cache_control`)
is a breakpoint. A breakpoint whose prefix (the model plus every block up to and including it)
this emulator instance has seen before is a cache read; the blocks after the last such hit, up to
the last breakpoint, are cache writes, billed by the ttl ("5m" default, or "1h") of the breakpoint
that closes their segment; what follows the last breakpoint is plain input. The real API's
minimum cacheable length and its expiry are not emulated: the outcome depends only on the
sequence of requests, which is what a repeatable benchmark needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tiered.datasets import CHARS_PER_TOKEN

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


def _block_chars(block: Any) -> int:
    if isinstance(block, str):
        return len(block)
    if isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str):
        return len(block["text"])
    return len(json.dumps(block, separators=(",", ":")))


def _ttl(block: Any) -> str | None:
    if not isinstance(block, Mapping):
        return None
    marker = block.get("cache_control")
    if not isinstance(marker, Mapping):
        return None
    return "1h" if marker.get("ttl") == "1h" else "5m"


def _prompt_parts(body: Mapping[str, Any]) -> Iterator[Any]:
    yield from body.get("tools") or ()
    system = body.get("system")
    if isinstance(system, str):
        if system:
            yield system
    elif system:
        yield from system
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            yield content
        else:
            yield from content


def prompt_blocks(body: Mapping[str, Any]) -> list[_Block]:
    blocks = [_Block(_block_chars(part), part, _ttl(part)) for part in _prompt_parts(body)]
    top = body.get("cache_control")
    if isinstance(top, Mapping) and blocks and blocks[-1].ttl is None:
        last = blocks[-1]
        blocks[-1] = _Block(last.chars, last.value, "1h" if top.get("ttl") == "1h" else "5m")
    return blocks


def _scan(body: Mapping[str, Any]) -> tuple[int, bool]:
    """(prompt characters, whether any cache marker is present), without building blocks."""
    chars, marked = 0, isinstance(body.get("cache_control"), Mapping)
    for part in _prompt_parts(body):
        chars += _block_chars(part)
        if not marked and isinstance(part, Mapping) and part.get("cache_control") is not None:
            marked = True
    return chars, marked


def count_input_tokens(body: Mapping[str, Any]) -> int:
    """What /v1/messages/count_tokens answers: every prompt token, cached or not."""
    return max(1, _tokens(_scan(body)[0]))


class PromptCache:
    """The prefixes this emulator instance has seen, per model (a bounded set of digests)."""

    def __init__(self, capacity: int = MAX_REMEMBERED_PREFIXES) -> None:
        self._seen: set[bytes] = set()
        self._capacity = capacity

    def usage(self, model: str, body: Mapping[str, Any]) -> InputUsage:
        total, marked = _scan(body)
        if not marked:
            return InputUsage(input_tokens=max(1, _tokens(total)))
        blocks = prompt_blocks(body)
        hasher = hashlib.blake2b(model.encode(), digest_size=16)
        chars = 0
        breakpoints: list[tuple[int, str, bytes]] = []  # (chars up to here, ttl, prefix digest)
        for block in blocks:
            hasher.update(_canonical(block.value))
            chars += block.chars
            if block.ttl:
                breakpoints.append((chars, block.ttl, hasher.copy().digest()))
        hit = max((i for i, bp in enumerate(breakpoints) if bp[2] in self._seen), default=-1)
        read = _tokens(breakpoints[hit][0]) if hit >= 0 else 0
        written = {"5m": 0, "1h": 0}
        boundary = read
        for bp_chars, ttl, _ in breakpoints[hit + 1 :]:
            written[ttl] += _tokens(bp_chars) - boundary
            boundary = _tokens(bp_chars)
        self._remember(bp[2] for bp in breakpoints)
        return InputUsage(
            input_tokens=_tokens(total) - boundary,
            cache_read=read,
            cache_write_5m=written["5m"],
            cache_write_1h=written["1h"],
        )

    def _remember(self, digests: Iterator[bytes]) -> None:
        if len(self._seen) >= self._capacity:
            self._seen.clear()
        self._seen.update(digests)


def _canonical(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode() + b"\x00"
    if isinstance(value, Mapping):
        value = {k: v for k, v in value.items() if k != "cache_control"}
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode() + b"\x00"
