"""Messages <-> chat completions, without HTTP: requests, responses, usage, stop reasons, stream chunks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiered.errors import ServerError
from tiered.models.events import accumulate
from tiered.models.openai_translate import (
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    ChunkTranslator,
    chat_request,
    chat_response,
    messages_request,
    messages_response,
    usage_from_chat,
    usage_to_chat,
)
from tiered.types import Request, Response, Usage

TOOL = {"name": "score", "description": "Rate it.",
        "input_schema": {"type": "object", "properties": {"confidence": {"type": "number"}}}}

CONVERSATION = Request(
    model="llama3",
    max_tokens=256,
    system="You are terse.",
    messages=(
        {"role": "user", "content": "Rate this: 2+2=4"},
        {"role": "assistant", "content": [{"type": "text", "text": "Scoring."},
                                          {"type": "tool_use", "id": "call_1", "name": "score",
                                           "input": {"confidence": 0.9}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "recorded"}]},
        {"role": "user", "content": [{"type": "text", "text": "And now?"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                  "data": "iVBOR"}}]},
    ),
    tools=(TOOL,),
    tool_choice={"type": "tool", "name": "score", "disable_parallel_tool_use": True},
    stop_sequences=("END",),
    metadata={"user_id": "u-7"},
    extra={"temperature": 0.3, "top_p": 0.9},
)


def test_request_maps_every_field() -> None:
    body = chat_request(CONVERSATION, "llama3")
    assert body["model"] == "llama3" and body["max_tokens"] == 256
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert body["messages"][1] == {"role": "user", "content": "Rate this: 2+2=4"}
    assert body["messages"][2] == {"role": "assistant", "content": "Scoring.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "score", "arguments": '{"confidence": 0.9}'}}]}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "recorded"}
    assert body["messages"][4] == {"role": "user", "content": [
        {"type": "text", "text": "And now?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]}
    assert body["tools"] == [{"type": "function", "function": {
        "name": "score", "parameters": TOOL["input_schema"], "description": "Rate it."}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "score"}}
    assert body["parallel_tool_calls"] is False
    assert body["stop"] == ["END"] and body["user"] == "u-7"
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9)
    assert "stream" not in body


def test_tool_results_come_before_the_rest_of_the_user_turn() -> None:
    request = Request(messages=({"role": "user", "content": [
        {"type": "text", "text": "see:"},
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "42"}]}]},))
    messages = chat_request(request, "m")["messages"]
    assert messages == [{"role": "tool", "tool_call_id": "t1", "content": "42"},
                        {"role": "user", "content": [{"type": "text", "text": "see:"}]}]


def test_anthropic_only_fields_are_dropped_and_server_tools_skipped() -> None:
    request = Request.user("hi", extra={"thinking": {"type": "adaptive"}, "top_k": 3},
                           tools=({"type": "web_search_20250305", "name": "web_search"},),
                           system=({"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}))
    body = chat_request(request, "m")
    assert "thinking" not in body and "top_k" not in body and "tools" not in body
    assert body["messages"][0] == {"role": "system", "content": "Be brief.\nBe kind."}


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none"),
    ({"type": "tool", "name": "score"}, {"type": "function", "function": {"name": "score"}}),
])
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    body = chat_request(Request.user("x", tool_choice=choice), "m")
    assert body["tool_choice"] == expected
    assert "parallel_tool_calls" not in body
    assert messages_request(body).tool_choice == choice


def test_stream_asks_for_usage() -> None:
    body = chat_request(Request.user("x"), "m", stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_request_round_trip() -> None:
    back = messages_request(chat_request(CONVERSATION, "llama3"))
    # the tool message becomes a user turn of tool_result blocks; everything else comes back as it was
    assert back == CONVERSATION


def test_chat_body_round_trip() -> None:
    body = {
        "model": "gpt-x", "max_tokens": 100, "temperature": 0,
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": "two"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required", "stop": ["###"], "user": "u1",
    }
    request = messages_request(body)
    assert request.messages[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "c1", "content": "one"},
        {"type": "tool_result", "tool_use_id": "c2", "content": "two"}]}
    assert chat_request(request, "gpt-x") == body


def test_max_completion_tokens_and_single_stop() -> None:
    request = messages_request({"model": "m", "messages": [{"role": "developer", "content": "d"}],
                                "max_completion_tokens": 9, "stop": "x"})
    assert (request.max_tokens, request.stop_sequences, request.system) == (9, ("x",), "d")


def test_usage_both_ways() -> None:
    usage = usage_from_chat({"prompt_tokens": 20, "completion_tokens": 7,
                             "prompt_tokens_details": {"cached_tokens": 4}})
    assert usage == Usage(input_tokens=16, output_tokens=7, cache_read_input_tokens=4)
    assert usage_to_chat(Usage(input_tokens=10, output_tokens=7, cache_read_input_tokens=5,
                               cache_creation_input_tokens=3)) == {
        "prompt_tokens": 18, "completion_tokens": 7, "total_tokens": 25,
        "prompt_tokens_details": {"cached_tokens": 5}}
    assert usage_from_chat(None) == Usage()


def test_stop_reasons() -> None:
    for finish, stop in FINISH_TO_STOP.items():
        if finish != "function_call":
            assert STOP_TO_FINISH[stop] == finish
    assert STOP_TO_FINISH["stop_sequence"] == "stop"
    assert STOP_TO_FINISH["model_context_window_exceeded"] == "length"


def chat_body(finish: str, **message: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-9", "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                             "finish_reason": finish}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3}}


def test_response_with_text_and_tool_calls() -> None:
    body = chat_body("tool_calls", content="Let me score.", tool_calls=[
        {"id": "c1", "type": "function", "function": {"name": "score", "arguments": '{"confidence": 0.4}'}}])
    response = messages_response(body, model="claude-haiku-4-5", request_id="r1")
    assert response.id == "chatcmpl-9" and response.model == "claude-haiku-4-5" and response.request_id == "r1"
    assert response.text == "Let me score."
    assert response.tool_input("score") == {"confidence": 0.4}
    assert response.stop_reason == "tool_use"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 3)


@pytest.mark.parametrize(("finish", "stop"), [
    ("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"), ("weird", "end_turn")])
def test_finish_reasons(finish: str, stop: str) -> None:
    assert messages_response(chat_body(finish, content="x"), model="m").stop_reason == stop


def test_bad_tool_arguments_are_a_server_error() -> None:
    body = chat_body("tool_calls", content=None, tool_calls=[
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}])
    with pytest.raises(ServerError):
        messages_response(body, model="m")


def test_response_round_trip() -> None:
    response = Response(id="msg_1", model="m", stop_reason="tool_use", usage=Usage(input_tokens=5, output_tokens=2),
                        content=({"type": "text", "text": "ok"},
                                 {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": [1, 2]}}))
    body = chat_response(response)
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert json.loads(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": [1, 2]}
    assert messages_response(body, model="m") == response


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-5", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_stream_chunks_become_events_that_accumulate() -> None:
    t = ChunkTranslator("claude-sonnet-4-6")
    events = []
    for c in [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"}),
              chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "score", "arguments": ""}}]}),
              chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"confid'}}]}),
              chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ence": 1}'}}]}),
              chunk({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "note", "arguments": "{}"}}]}),
              chunk({}, "tool_calls"),
              {"id": "chatcmpl-5", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}]:
        events += t.feed(c)
    events += t.finish()
    types = [e["type"] for e in events]
    assert types == ["message_start",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    response = accumulate(events)
    assert response.id == "chatcmpl-5" and response.model == "claude-sonnet-4-6"
    assert response.text == "Hello"
    assert [b["input"] for b in response.tool_uses] == [{"confidence": 1}, {}]
    assert response.stop_reason == "tool_use"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 4)


def test_stream_without_finish_reason_is_truncated() -> None:
    t = ChunkTranslator("m")
    t.feed(chunk({"content": "partial"}))
    with pytest.raises(ServerError) as info:
        t.finish()
    assert info.value.midstream


def test_stream_with_only_a_finish_chunk() -> None:
    t = ChunkTranslator("m")
    response = accumulate([*t.feed(chunk({}, "length")), *t.finish()])
    assert response.content == () and response.stop_reason == "max_tokens"
