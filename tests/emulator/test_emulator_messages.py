"""The emulator against the real anthropic SDK (sync and async): text, streams, tools, other endpoints."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import MessageParam, OutputConfigParam, ToolParam

from tiered.emulator.tokens import estimate_tokens

HAIKU = "claude-haiku-4-5"
CONFIDENCE_TOOL: ToolParam = {
    "name": "report_confidence",
    "description": "Report the answer and how confident you are in it.",
    "input_schema": {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
        "required": ["answer", "confidence"],
    },
}
RICH_TOOL: ToolParam = {
    "name": "file_ticket",
    "input_schema": {
        "type": "object",
        "properties": {
            "priority": {"type": "string", "enum": ["low", "medium", "high"]},
            "count": {"type": "integer", "minimum": 3, "maximum": 7},
            "ratio": {"type": "number", "exclusiveMinimum": 10, "maximum": 12},
            "urgent": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
            "owner": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        },
        "required": ["priority", "count", "ratio", "urgent", "tags", "owner"],
    },
}


def text_of(message: Any) -> str:
    return text_of_block(message.content[0])


def text_of_block(block: Any) -> str:
    assert block.type == "text"
    text: str = block.text
    return text


def input_of(message: Any) -> dict[str, Any]:
    block = message.content[0]
    assert block.type == "tool_use"
    args: dict[str, Any] = block.input
    return args


def user(text: str) -> list[MessageParam]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def client(emulator_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=emulator_url, max_retries=0)


def test_text_answer_is_deterministic_and_counted(client: anthropic.Anthropic) -> None:
    first = client.messages.create(model=HAIKU, max_tokens=1000, messages=user("What is 2 + 2?"))
    again = client.messages.create(model=HAIKU, max_tokens=1000, messages=user("What is 2 + 2?"))
    other = client.messages.create(model=HAIKU, max_tokens=1000, messages=user("Name a prime number."))
    assert first.type == "message" and first.role == "assistant" and first.model == HAIKU
    assert first.content[0].type == "text" and text_of(first)
    assert text_of(first) == text_of(again) != text_of(other)
    assert first.id != again.id and first.id.startswith("msg_")
    assert first.stop_reason == "end_turn" and first.stop_sequence is None
    assert first.usage.output_tokens == estimate_tokens(text_of(first))
    assert first.usage.input_tokens == estimate_tokens("What is 2 + 2?")
    assert first.usage.cache_read_input_tokens == 0 and first.usage.cache_creation_input_tokens == 0
    assert first._request_id is not None and first._request_id.startswith("req_")


def test_max_tokens_and_stop_sequences_end_the_text(client: anthropic.Anthropic) -> None:
    short = client.messages.create(model=HAIKU, max_tokens=3, messages=user("Tell me a long story."))
    assert short.stop_reason == "max_tokens" and short.usage.output_tokens == 3
    full = client.messages.create(model=HAIKU, max_tokens=1000, messages=user("Tell me a long story."))
    text = text_of(full)
    stop = text.split()[3]
    cut = client.messages.create(model=HAIKU, max_tokens=1000, messages=user("Tell me a long story."),
                                 stop_sequences=[stop])
    assert cut.stop_reason == "stop_sequence" and cut.stop_sequence == stop
    assert text_of(cut) == text[: text.index(stop)]


def test_headers_carry_request_id_and_rate_limits(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(model=HAIKU, max_tokens=10, messages=user("hi"))
    assert raw.headers["request-id"].startswith("req_")
    for family in ("requests", "tokens", "input-tokens", "output-tokens"):
        assert int(raw.headers[f"anthropic-ratelimit-{family}-limit"]) > 0
        assert raw.headers[f"anthropic-ratelimit-{family}-reset"].endswith("Z")
    assert raw.parse().content


def test_stream_matches_the_non_streaming_answer(client: anthropic.Anthropic) -> None:
    plain = client.messages.create(model=HAIKU, max_tokens=500, messages=user("Explain caching."))
    with client.messages.stream(model=HAIKU, max_tokens=500, messages=user("Explain caching.")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == text_of(final) == text_of(plain)
    assert final.stop_reason == plain.stop_reason and final.usage.output_tokens == plain.usage.output_tokens


def test_raw_stream_has_the_documented_event_order(client: anthropic.Anthropic) -> None:
    events = list(client.messages.create(model=HAIKU, max_tokens=50, messages=user("Hi"), stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[1] == "content_block_start"
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]


async def test_async_client_text_and_stream(emulator_url: str) -> None:
    client = anthropic.AsyncAnthropic(api_key="test-key", base_url=emulator_url, max_retries=0)
    message = await client.messages.create(model="sonnet", max_tokens=200, messages=user("Hello async"))
    async with client.messages.stream(model="sonnet", max_tokens=200, messages=user("Hello async")) as stream:
        text = "".join([piece async for piece in stream.text_stream])
    assert text == text_of(message)
    assert message.model == "sonnet"


async def test_many_concurrent_requests_all_succeed(emulator_url: str) -> None:
    client = anthropic.AsyncAnthropic(api_key="test-key", base_url=emulator_url, max_retries=0)
    prompts = [f"question {i}" for i in range(100)]
    answers = await asyncio.gather(*(client.messages.create(model=HAIKU, max_tokens=50, messages=user(p))
                                     for p in prompts))
    again = await client.messages.create(model=HAIKU, max_tokens=50, messages=user(prompts[73]))
    assert len({a.id for a in answers}) == 100
    assert text_of(answers[73]) == text_of(again)


def check_confidence(args: dict[str, Any]) -> None:
    assert set(args) == {"answer", "confidence"}
    assert isinstance(args["answer"], str) and args["answer"]
    assert isinstance(args["confidence"], float) and 0.0 <= args["confidence"] <= 1.0


def test_forced_tool_use_fits_the_schema(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=HAIKU, max_tokens=300, messages=user("Capital of France?"), tools=[RICH_TOOL, CONFIDENCE_TOOL],
        tool_choice={"type": "tool", "name": "report_confidence"},
    )
    assert message.stop_reason == "tool_use" and len(message.content) == 1
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "report_confidence" and block.id.startswith("toolu_")
    check_confidence(block.input)


def test_tool_choice_any_picks_the_first_tool_and_honours_constraints(client: anthropic.Anthropic) -> None:
    for prompt in ("one", "two", "three", "four"):
        message = client.messages.create(model=HAIKU, max_tokens=300, messages=user(prompt),
                                         tools=[RICH_TOOL], tool_choice={"type": "any"})
        args: dict[str, Any] = input_of(message)
        assert args["priority"] in ("low", "medium", "high")
        assert isinstance(args["count"], int) and 3 <= args["count"] <= 7
        assert 10 < args["ratio"] <= 12
        assert isinstance(args["urgent"], bool)
        assert 2 <= len(args["tags"]) <= 4 and all(isinstance(t, str) for t in args["tags"])
        assert isinstance(args["owner"]["name"], str)


def test_auto_tool_choice_answers_in_text(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=HAIKU, max_tokens=100, messages=user("hi"), tools=[CONFIDENCE_TOOL])
    assert message.content[0].type == "text" and message.stop_reason in ("end_turn", "max_tokens")


def test_streamed_tool_input_arrives_as_json_deltas(client: anthropic.Anthropic) -> None:
    kwargs: dict[str, Any] = {"model": HAIKU, "max_tokens": 300, "messages": user("Capital of Peru?"),
                              "tools": [CONFIDENCE_TOOL], "tool_choice": {"type": "tool", "name": "report_confidence"}}
    plain = client.messages.create(**kwargs)
    with client.messages.stream(**kwargs) as stream:
        deltas = [e for e in stream if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
        final = stream.get_final_message()
    assert len(deltas) > 1 and final.stop_reason == "tool_use"
    check_confidence(input_of(final))
    assert input_of(final) == input_of(plain)


async def test_async_stream_tool_use(emulator_url: str) -> None:
    client = anthropic.AsyncAnthropic(api_key="test-key", base_url=emulator_url, max_retries=0)
    async with client.messages.stream(model=HAIKU, max_tokens=300, messages=user("Is water wet?"),
                                      tools=[CONFIDENCE_TOOL], tool_choice={"type": "any"}) as stream:
        final = await stream.get_final_message()
    check_confidence(input_of(final))


def test_structured_output_is_json_fitting_the_schema(client: anthropic.Anthropic) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 1}},
        "required": ["city", "population"],
    }
    message = client.messages.create(model=HAIKU, max_tokens=200, messages=user("Largest city of Peru?"),
                                     output_config=OutputConfigParam(format={"type": "json_schema", "schema": schema}))
    value = json.loads(text_of(message))
    assert isinstance(value["city"], str) and isinstance(value["population"], int) and value["population"] >= 1


def test_count_tokens_counts_system_messages_and_tools(client: anthropic.Anthropic) -> None:
    bare = client.messages.count_tokens(model=HAIKU, messages=user("x" * 400))
    assert bare.input_tokens == 100
    more = client.messages.count_tokens(model=HAIKU, messages=user("x" * 400), system="y" * 40,
                                        tools=[CONFIDENCE_TOOL])
    assert more.input_tokens > 110
    created = client.messages.create(model=HAIKU, max_tokens=5, messages=user("x" * 400), system="y" * 40,
                                     tools=[CONFIDENCE_TOOL])
    assert created.usage.input_tokens == more.input_tokens


def test_models_list_and_get(client: anthropic.Anthropic) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[:3] == ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]
    page = client.models.list(limit=1)
    assert [m.id for m in page.data] == ["claude-haiku-4-5"] and page.has_more
    info = client.models.retrieve("haiku")
    assert info.id == HAIKU and info.display_name == "Claude Haiku 4.5" and info.type == "model"
    assert info.lifecycle == "active" and info.line == "haiku" and info.max_input_tokens == 200_000
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("claude-nonexistent")
    assert caught.value.type == "not_found_error"


def test_x_api_key_and_bearer_are_both_accepted_with_any_version(emulator_url: str) -> None:
    body = {"model": HAIKU, "max_tokens": 5, "messages": user("hi")}
    for headers in ({"x-api-key": "k"}, {"authorization": "Bearer k", "anthropic-version": "2023-06-01"},
                    {"x-api-key": "k", "anthropic-version": "1999-01-01"}):
        response = httpx2.post(f"{emulator_url}/v1/messages", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["type"] == "message"


def test_thinking_comes_first_with_a_signature_and_counts_as_output(client: anthropic.Anthropic) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 2000}
    plain = client.messages.create(model=HAIKU, max_tokens=3000, messages=user("Think about it."))
    message = client.messages.create(model=HAIKU, max_tokens=3000, messages=user("Think about it."), thinking=thinking)
    first, second = message.content
    assert first.type == "thinking" and first.thinking and first.signature
    assert second.type == "text" and second.text == text_of(plain)
    assert message.usage.output_tokens == estimate_tokens(first.thinking) + plain.usage.output_tokens
    with client.messages.stream(model=HAIKU, max_tokens=3000, messages=user("Think about it."),
                                thinking=thinking) as stream:
        kinds = {e.delta.type for e in stream if e.type == "content_block_delta"}
        final = stream.get_final_message()
    assert kinds == {"thinking_delta", "signature_delta", "text_delta"}
    assert final.content[0] == first and text_of_block(final.content[1]) == second.text


def test_thinking_budget_is_checked(client: anthropic.Anthropic) -> None:
    budgets: list[Any] = [{"type": "enabled", "budget_tokens": 100}, {"type": "enabled", "budget_tokens": 5000}]
    for thinking in budgets:
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(model=HAIKU, max_tokens=3000, messages=user("x"), thinking=thinking)
        assert "budget_tokens" in caught.value.message
