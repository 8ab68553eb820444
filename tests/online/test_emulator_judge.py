"""The emulator plays the judge from its replay data, over real HTTP: the verdict follows the recorded
qualities, swapping the answers swaps it, and an answer it cannot trace is answered from the schema."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from tiered.datasets import Item, load_dataset
from tiered.emulator.config import EmulatorConfig, ReplayConfig
from tiered.emulator.testing import running_emulator
from tiered.models.replay import DEFAULT_MODELS, answer_text
from tiered.online.judge import JUDGE_TOOL, judge_request, parse_verdict
from tiered.types import Response

WEAK, STRONG = DEFAULT_MODELS["haiku"], DEFAULT_MODELS["opus"]


@pytest.fixture(scope="module")
def replayed() -> Iterator[str]:
    with running_emulator(EmulatorConfig(replay=ReplayConfig(dataset="routerbench3", models={}))) as url:
        yield url


def _items(differ: bool) -> Item:
    for item in load_dataset("routerbench3"):
        o = item.outcomes
        both = WEAK in o and STRONG in o and bool(o[WEAK].response) and bool(o[STRONG].response)
        if both and (o[WEAK].quality != o[STRONG].quality) == differ \
                and answer_text(item, WEAK) != answer_text(item, STRONG):
            return item
    raise AssertionError("no such item in routerbench3")


def _judge(url: str, prompt: str, a: str, b: str) -> Response:
    client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)
    body = judge_request(prompt, a, b).to_body("claude-opus-4-7")
    raw = client.messages.create(**body)
    return Response.from_api(raw.model_dump())


def test_verdict_follows_recorded_quality_and_swaps(replayed: str) -> None:
    item = _items(differ=True)
    weak, strong = answer_text(item, WEAK), answer_text(item, STRONG)
    better_is_strong = item.outcomes[STRONG].quality > item.outcomes[WEAK].quality
    first = parse_verdict(_judge(replayed, item.prompt, weak, strong))
    second = parse_verdict(_judge(replayed, item.prompt, strong, weak))
    assert first is not None and second is not None
    assert first.better == ("B" if better_is_strong else "A")
    assert second == first.swapped()
    assert first.confidence == 1.0  # a 0/1 gap: as sure as it gets
    again = parse_verdict(_judge(replayed, item.prompt, weak, strong))
    assert again == first  # deterministic


def test_equal_quality_is_a_tie(replayed: str) -> None:
    item = _items(differ=False)
    verdict = parse_verdict(_judge(replayed, item.prompt, answer_text(item, WEAK), answer_text(item, STRONG)))
    assert verdict is not None and verdict.better == "tie"


def test_untraceable_answers_still_get_a_valid_tool_call(replayed: str) -> None:
    response = _judge(replayed, "a prompt nobody recorded", "one answer", "another answer")
    assert response.stop_reason == "tool_use"
    verdict = parse_verdict(response)
    assert verdict is not None and verdict.better in ("A", "B", "tie") and 0.0 <= verdict.confidence <= 1.0
    assert response.tool_input(JUDGE_TOOL) is not None
