"""Prompt-cache usage emulation and replayed benchmark answers, through the SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest
from anthropic.types import MessageParam, TextBlockParam

from tiered.datasets import load_dataset
from tiered.emulator.config import EmulatorConfig, ReplayConfig
from tiered.emulator.replay_lookup import no_answer_text
from tiered.emulator.testing import running_emulator
from tiered.models.replay import answer_text

HAIKU = "claude-haiku-4-5"
SYSTEM = "s" * 4000  # 1000 tokens
DOCUMENT = "d" * 8000  # 2000 tokens


def text_of(message: Any) -> str:
    block = message.content[0]
    assert block.type == "text"
    text: str = block.text
    return text


def cached_call(client: anthropic.Anthropic, question: str, *, ttl: str = "5m", model: str = HAIKU) -> Any:
    system: list[TextBlockParam] = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    messages: Any = [{"role": "user", "content": [
        {"type": "text", "text": DOCUMENT, "cache_control": {"type": "ephemeral", "ttl": ttl}},
        {"type": "text", "text": question},
    ]}]
    return client.messages.create(model=model, max_tokens=20, system=system, messages=messages).usage


@pytest.fixture
def fresh_client() -> Any:
    with running_emulator() as url:
        yield anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)


def test_first_call_writes_the_cache_and_the_next_reads_it(fresh_client: anthropic.Anthropic) -> None:
    first = cached_call(fresh_client, "q" * 40)
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens, first.input_tokens) == (3000, 0, 10)
    assert first.cache_creation.ephemeral_5m_input_tokens == 3000
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    second = cached_call(fresh_client, "r" * 80)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens, second.input_tokens) == (0, 3000, 20)


def test_a_changed_suffix_reads_the_shared_prefix_and_writes_the_rest(fresh_client: anthropic.Anthropic) -> None:
    cached_call(fresh_client, "q")
    other: Any = [{"role": "user", "content": [
        {"type": "text", "text": "e" * 800, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]}]
    system: list[TextBlockParam] = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    usage = fresh_client.messages.create(model=HAIKU, max_tokens=5, system=system, messages=other).usage
    assert usage.cache_read_input_tokens == 1000  # the system prompt
    assert usage.cache_creation is not None and usage.cache_creation.ephemeral_1h_input_tokens == 200
    assert usage.input_tokens == 0


def test_cache_is_per_model_and_per_instance(fresh_client: anthropic.Anthropic) -> None:
    cached_call(fresh_client, "q")
    assert cached_call(fresh_client, "q", model="claude-sonnet-4-6").cache_read_input_tokens == 0
    with running_emulator() as url:
        other = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)
        assert cached_call(other, "q").cache_read_input_tokens == 0


def test_top_level_cache_control_marks_the_last_block(fresh_client: anthropic.Anthropic) -> None:
    body = {"model": HAIKU, "max_tokens": 5, "cache_control": {"type": "ephemeral"},
            "messages": [{"role": "user", "content": "z" * 400}]}
    first: Any = fresh_client.post("/v1/messages", body=body, cast_to=object)
    again: Any = fresh_client.post("/v1/messages", body=body, cast_to=object)
    assert first["usage"]["cache_creation_input_tokens"] == 100 and first["usage"]["input_tokens"] == 0
    assert again["usage"]["cache_read_input_tokens"] == 100


def test_streamed_usage_carries_the_cache_fields(fresh_client: anthropic.Anthropic) -> None:
    cached_call(fresh_client, "q")
    system: list[TextBlockParam] = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    with fresh_client.messages.stream(model=HAIKU, max_tokens=5, system=system,
                                      messages=[{"role": "user", "content": "x"}]) as stream:
        usage = stream.get_final_message().usage
    assert usage.cache_read_input_tokens == 1000 and usage.input_tokens == 1


ROUTERBENCH_CHEAP = "mistralai/mistral-7b-chat"
ROUTERBENCH_STRONG = "gpt-4-1106-preview"


@pytest.fixture(scope="module")
def replayed_url() -> Any:
    mapping = {HAIKU: ROUTERBENCH_CHEAP, "claude-opus-4-7": ROUTERBENCH_STRONG}
    replay = ReplayConfig(dataset="routerbench3", models=mapping)
    with running_emulator(EmulatorConfig(replay=replay)) as url:
        yield url


def test_replayed_models_answer_as_their_benchmark_model(replayed_url: str) -> None:
    items = [i for i in load_dataset("routerbench3") if i.task == "mbpp"][:3]
    client = anthropic.Anthropic(api_key="k", base_url=replayed_url, max_retries=0)
    for item in items:
        for model, recorded in ((HAIKU, ROUTERBENCH_CHEAP), ("claude-opus-4-7", ROUTERBENCH_STRONG)):
            messages: list[MessageParam] = [{"role": "user", "content": item.prompt}]
            answer = client.messages.create(model=model, max_tokens=4000, messages=messages)
            assert text_of(answer) == answer_text(item, recorded)[: 4000 * 4]


def test_replay_miss_and_unmapped_model(replayed_url: str) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=replayed_url, max_retries=0)
    unknown: list[MessageParam] = [{"role": "user", "content": "not a prompt there"}]
    miss = client.messages.create(model=HAIKU, max_tokens=200, messages=unknown)
    assert text_of(miss) == no_answer_text("routerbench3", ROUTERBENCH_CHEAP)
    sonnet = client.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=unknown)
    assert "no recorded answer" not in text_of(sonnet)


def test_default_mapping_plays_the_tiers_with_the_books_models() -> None:
    item = next(i for i in load_dataset("routerbench3") if i.task == "mbpp")
    with running_emulator(EmulatorConfig(replay=ReplayConfig(dataset="routerbench3", models={}))) as url:
        client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)
        messages: list[MessageParam] = [{"role": "user", "content": f"  {item.prompt}\n"}]  # spaces ignored
        answer = client.messages.create(model="opus", max_tokens=4000, messages=messages)
    assert text_of(answer) == answer_text(item, "gpt-4-1106-preview")[: 4000 * 4]


def test_replay_of_an_unknown_dataset_model_is_a_config_error(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    from tiered.errors import ConfigError

    with pytest.raises(ConfigError, match="not a model of dataset"):
        start_emulator(EmulatorConfig(replay=ReplayConfig(dataset="routerbench3", models={HAIKU: "gpt-99"})))
