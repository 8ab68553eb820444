"""ReplayBook and ReplayModel over a small dataset written here, and over the packaged sample."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tiered.catalog import Catalog
from tiered.datasets import load_dataset, packaged_data_dir
from tiered.errors import NoAnswer
from tiered.models.events import collect
from tiered.models.replay import NEAREST_NOTE_START, ReplayBook, ReplayModel, answer_text, normalize
from tiered.pricing import cost_usd
from tiered.types import Request

WEAK, STRONG = "mistralai/mistral-7b-chat", "gpt-4-1106-preview"
ITEMS = [
    {"id": "math.1", "source": "t", "task": "math", "split": "test", "prompt": "What is 2 + 2?\nAnswer:",
     "outcomes": {WEAK: {"quality": 0.0, "input_tokens": 7, "output_tokens": 1, "response": "['5']"},
                  STRONG: {"quality": 1.0, "response": "The answer is 4."}}},
    {"id": "geo.1", "source": "t", "task": "geo", "split": "test", "prompt": "Name the capital of France.",
     "outcomes": {WEAK: {"quality": 1.0, "response": None}, STRONG: {"quality": 1.0, "response": "Paris"}}},
    {"id": "code.1", "source": "t", "task": "code", "split": "train",
     "prompt": "Write a python function that reverses a string.",
     "outcomes": {STRONG: {"quality": 1.0, "response": "def rev(s):\n    return s[::-1]"}}},
]
MAPPING = {"haiku": WEAK, "claude-haiku-4-5": WEAK, "opus": STRONG, "claude-opus-4-7": STRONG}


@pytest.fixture
def book(tmp_path: Path) -> ReplayBook:
    path = tmp_path / "tiny.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(item) + "\n" for item in ITEMS)
    return ReplayBook(load_dataset(path), MAPPING)


def haiku(book: ReplayBook, **kw: object) -> ReplayModel:
    return ReplayModel("claude-haiku-4-5", book, **kw)  # type: ignore[arg-type]


async def test_exact_hit_uses_recorded_answer_and_tokens(book: ReplayBook) -> None:
    response = await haiku(book).complete(Request.user("What is 2 + 2?\nAnswer:"))
    assert response.id == "replay_math.1"
    assert response.model == "claude-haiku-4-5"
    assert response.text == "5"  # RouterBench's list literal "['5']" unwrapped
    assert response.stop_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 1)


async def test_tokens_are_estimated_at_four_chars_when_not_recorded(book: ReplayBook) -> None:
    opus = ReplayModel("claude-opus-4-7", book)
    response = await opus.complete(Request.user("What is 2 + 2?\nAnswer:"))
    # prompt 22 chars -> 22 // 4 = 5 tokens; "The answer is 4." 16 chars -> 4 tokens
    assert (response.usage.input_tokens, response.usage.output_tokens) == (5, 4)
    assert response.text == "The answer is 4."


async def test_cost_comes_from_the_claude_prices(book: ReplayBook) -> None:
    catalog = Catalog.load()
    response = await ReplayModel("claude-opus-4-7", book).complete(Request.user("What is 2 + 2?\nAnswer:"))
    # Opus 4.7: 5 in x 5.00 = 25; 4 out x 25.00 = 100; 125 / 1e6
    assert cost_usd(catalog.resolve(response.model), response.usage) == Decimal("0.000125")


async def test_lookup_ignores_whitespace_and_reads_the_last_user_turn(book: ReplayBook) -> None:
    request = Request(messages=(
        {"role": "user", "content": "Name the capital of France."},
        {"role": "assistant", "content": "Paris"},
        {"role": "user", "content": [{"type": "text", "text": "  What is 2 +   2?\n\nAnswer:  "}]},
    ))
    assert (await haiku(book).complete(request)).id == "replay_math.1"
    assert normalize("  a \n b\t") == "a b"


async def test_missing_response_gets_a_stand_in_stating_the_quality(book: ReplayBook) -> None:
    response = await haiku(book).complete(Request.user("Name the capital of France."))
    assert response.text == "[replay] recorded answer not available; recorded quality 1.0"
    assert response.usage.output_tokens == 1  # nothing recorded to estimate from: the floor of one token


async def test_miss_raises_no_answer_by_default(book: ReplayBook) -> None:
    with pytest.raises(NoAnswer) as info:
        await haiku(book).complete(Request.user("Something nobody ever asked"))
    assert info.value.status == 404
    assert not info.value.retryable
    assert info.value.model == "claude-haiku-4-5"
    assert "on_miss" in str(info.value) and WEAK in str(info.value)


async def test_known_prompt_without_the_models_answer_is_a_miss(book: ReplayBook) -> None:
    prompt = "Write a python function that reverses a string."
    with pytest.raises(NoAnswer):
        await haiku(book).complete(Request.user(prompt))
    # nearest skips the prompts the weak model never answered
    response = await haiku(book, on_miss="nearest").complete(Request.user(prompt))
    assert response.id.startswith("replay-nearest_")
    assert response.id != "replay-nearest_code.1"


async def test_nearest_answers_with_the_most_similar_prompt(book: ReplayBook) -> None:
    request = Request.user("what is 2 + 2 ?")
    response = await ReplayModel("claude-opus-4-7", book, on_miss="nearest").complete(request)
    assert response.id == "replay-nearest_math.1"
    assert response.stop_reason == "end_turn"
    # the answer says plainly, first, that it answers another prompt (issue 8, item 4)
    note, _, answer = response.text.partition("\n\n")
    assert note.startswith(NEAREST_NOTE_START) and "different prompt" in note and "math.1" in note
    assert answer == "The answer is 4."
    assert response.usage.input_tokens == len("what is 2 + 2 ?") // 4  # estimated from the request itself


def test_nearest_reports_similarity(book: ReplayBook) -> None:
    match = book.nearest("the capital of France, name it")
    assert match is not None
    assert match.item.id == "geo.1"
    assert not match.exact
    assert 0.0 < match.similarity < 1.0
    exact = book.nearest("Name the capital of France.")
    assert exact is not None and exact.exact and exact.similarity == 1.0


def test_quality_by_claude_name_or_dataset_model(book: ReplayBook) -> None:
    assert book.quality("What is 2 + 2?\nAnswer:", "haiku") == 0.0
    assert book.quality("What is 2 + 2?\nAnswer:", "claude-opus-4-7") == 1.0
    assert book.quality("What is 2 + 2?\nAnswer:", STRONG) == 1.0
    assert book.quality("Write a python function that reverses a string.", "haiku") is None
    assert book.quality("unknown", "haiku") is None


async def test_stream_is_the_complete_answer_as_events(book: ReplayBook) -> None:
    model = ReplayModel("claude-opus-4-7", book)
    request = Request.user("Write a python function that reverses a string.")
    events = [e async for e in model.stream(request)]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    streamed = await collect(model.stream(request))
    whole = await model.complete(request)
    assert (streamed.id, streamed.content, streamed.usage) == (whole.id, whole.content, whole.usage)


async def test_stream_miss_raises(book: ReplayBook) -> None:
    with pytest.raises(NoAnswer):
        [e async for e in haiku(book).stream(Request.user("nope"))]


async def test_latency_is_injected_sleep(book: ReplayBook) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    await haiku(book, latency_s=0.25, sleep=sleep).complete(Request.user("What is 2 + 2?\nAnswer:"))
    await haiku(book, sleep=sleep).complete(Request.user("What is 2 + 2?\nAnswer:"))
    assert slept == [0.25]


def test_bad_on_miss_is_rejected(book: ReplayBook) -> None:
    with pytest.raises(ValueError, match="on_miss"):
        ReplayModel("claude-haiku-4-5", book, on_miss="guess")  # type: ignore[arg-type]


def test_answer_text_keeps_non_list_text(book: ReplayBook) -> None:
    item = book.find("What is 2 + 2?\nAnswer:")
    assert item is not None
    assert answer_text(item, STRONG) == "The answer is 4."
    assert answer_text(item, WEAK) == "5"


async def test_packaged_sample_answers_every_tier() -> None:
    path = packaged_data_dir() / "routerbench3"
    book = ReplayBook.load(path)
    assert len(book) == 3148  # distinct prompts of the train (2,205) and test (945) splits
    assert set(book.dataset.model_names) == {WEAK, "gpt-3.5-turbo-1106", STRONG}
    item = book.dataset.items[0]
    for tier, played in (("haiku", WEAK), ("sonnet", "gpt-3.5-turbo-1106"), ("opus", STRONG)):
        response = await ReplayModel(f"claude-{tier}", book, dataset_model=played).complete(Request.user(item.prompt))
        assert response.id == f"replay_{item.id}"
        assert response.text
        assert book.quality(item.prompt, tier) == item.outcomes[played].quality


def test_a_nearest_model_builds_its_index_before_its_first_call() -> None:
    """The index is set-up: a first miss must not pay it inside its attempt's latency (issue 8, item 10)."""
    from tiered.catalog import Catalog
    from tiered.models.registry import ModelSet, default_book

    catalog = Catalog.load()
    models = ModelSet.build(catalog, backend="replay", on_miss="nearest")
    book = default_book(catalog)
    assert book is default_book(catalog)  # one book per process, shared by every model set
    assert book.nearest_ready
    assert all(getattr(m, "book", book) is book for m in models.values())
