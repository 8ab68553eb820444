"""The openai SDK against /v1/chat/completions: whole, streamed, failed, and with bad bodies."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from gateway_support import KEY, ServeGateway

from tiered.emulator.config import Behaviour, EmulatorConfig

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0)


def test_whole_answer(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    raw = client(gw.url).chat.completions.with_raw_response.create(model="claude-haiku-4-5", messages=MESSAGES,
                                                                    max_tokens=64)
    done = raw.parse()
    assert done.choices[0].message.content and done.choices[0].finish_reason in ("stop", "length")
    assert done.model == "claude-haiku-4-5" and done.usage is not None and done.usage.completion_tokens > 0
    assert raw.headers["x-tiered-tier"] == "haiku" and raw.headers["x-tiered-degraded"] == "false"


def test_streamed_answer_ends_with_usage_and_done(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    whole = client(gw.url).chat.completions.create(model="tiered/default", messages=MESSAGES, max_tokens=64)
    chunks = list(client(gw.url).chat.completions.create(
        model="tiered/default", messages=MESSAGES, max_tokens=64, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    raw = httpx2.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                      json={"model": "auto", "messages": MESSAGES, "stream": True})
    lines = [x for x in raw.text.split("\n") if x]
    assert all(x.startswith("data: ") for x in lines) and lines[-1] == "data: [DONE]"


def test_tool_calls_round_trip(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    tools = [{"type": "function", "function": {"name": "report", "parameters": {
        "type": "object", "properties": {"confidence": {"type": "number"}}, "required": ["confidence"]}}}]
    choice = {"type": "function", "function": {"name": "report"}}
    done = client(gw.url).chat.completions.create(model="haiku", messages=MESSAGES, tools=tools,  # type: ignore[arg-type]
                                                  tool_choice=choice)  # type: ignore[arg-type]
    call = done.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert done.choices[0].finish_reason == "tool_calls" and call.function.name == "report"  # type: ignore[union-attr]
    chunks = list(client(gw.url).chat.completions.create(model="haiku", messages=MESSAGES, tools=tools,  # type: ignore[arg-type]
                                                         tool_choice=choice, stream=True))  # type: ignore[arg-type]
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    args = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(args) == json.loads(call.function.arguments)  # type: ignore[union-attr]


def test_failures_keep_their_status(start_emulator, serve_gateway: ServeGateway) -> None:  # type: ignore[no-untyped-def]
    gw = serve_gateway(start_emulator(EmulatorConfig(default=Behaviour(error_rates={"529": 1.0}))))
    with pytest.raises(openai.InternalServerError) as caught:
        client(gw.url).chat.completions.create(model="auto", messages=MESSAGES)
    assert caught.value.status_code == 529 and caught.value.body["type"] == "overloaded_error"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        client(gw.url).chat.completions.create(model="auto", messages=[{"role": "wizard", "content": "x"}])  # type: ignore[list-item]
    assert "messages.0.role" in bad.value.message
    with pytest.raises(openai.BadRequestError):
        client(gw.url).chat.completions.create(model="auto", messages=MESSAGES, n=2)
    r = httpx2.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"}, json={"model": "x"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_a_stream_that_breaks_raises(start_emulator, serve_gateway: ServeGateway) -> None:  # type: ignore[no-untyped-def]
    gw = serve_gateway(start_emulator(EmulatorConfig(default=Behaviour(error_rates={"midstream": 1.0}))))
    got: list[str] = []

    def consume() -> None:
        for chunk in client(gw.url).chat.completions.create(model="haiku", messages=MESSAGES, stream=True):
            got.extend(c.delta.content or "" for c in chunk.choices)

    with pytest.raises(openai.APIError):
        consume()
    assert got  # bytes went out before the failure
