"""The emulator's prompt cache: the API's 20-block lookback, expiry on a clock, and max_tokens 0 pre-warms."""

from __future__ import annotations

from typing import Any

import anthropic

from tiered.emulator.tokens import PromptCache

BIG = "z" * 8_000  # 2,000 tokens


def body(blocks: int, *, mark: int | None = None) -> dict[str, Any]:
    """A user turn of `blocks` text blocks, the last (or `mark`) one a breakpoint."""
    content: list[dict[str, Any]] = [{"type": "text", "text": BIG if i == 0 else f"block {i:04d}"}
                                     for i in range(blocks)]
    at = blocks - 1 if mark is None else mark
    content[at] = {**content[at], "cache_control": {"type": "ephemeral"}}
    return {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": content}]}


def test_a_read_is_found_up_to_twenty_blocks_before_the_breakpoint() -> None:
    cache = PromptCache()
    first = cache.usage("m", body(1))
    assert first.cache_write_5m == 2_000 and first.cache_read == 0
    near = cache.usage("m", body(21))  # the old breakpoint is 20 blocks before the new one
    assert near.cache_read == 2_000 and near.cache_write_5m > 0
    far = PromptCache()
    far.usage("m", body(1))
    beyond = far.usage("m", body(23))  # 22 blocks before: out of the lookback, written again
    assert beyond.cache_read == 0 and beyond.cache_write_5m > 2_000


def test_entries_expire_on_the_clock_and_reads_refresh_them() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    cache.usage("m", body(1))
    now[0] = 290.0
    assert cache.usage("m", body(1)).cache_read == 2_000  # read at 290 s: refreshed until 590
    now[0] = 580.0
    assert cache.usage("m", body(1)).cache_read == 2_000
    now[0] = 881.0  # 301 s after the last read
    assert cache.usage("m", body(1)).cache_read == 0
    assert PromptCache().usage("m", body(1)).cache_write_5m == 2_000  # no clock: never expires
    other_model = cache.usage("n", body(1))
    assert other_model.cache_read == 0  # a cache belongs to one model


def test_max_tokens_zero_prewarms_the_cache(emulator_url: str) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=emulator_url, max_retries=0)
    request = body(1)
    request["messages"][0]["content"][0]["text"] = BIG + "prewarm-test"
    warm = client.messages.create(**{**request, "max_tokens": 0})
    assert warm.content == [] and warm.stop_reason == "max_tokens" and warm.usage.output_tokens == 0
    assert (warm.usage.cache_creation_input_tokens or 0) > 2_000
    answer = client.messages.create(**{**request, "max_tokens": 20})
    assert answer.content and (answer.usage.cache_read_input_tokens or 0) > 2_000
