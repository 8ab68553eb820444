"""The OpenAI side: /v1/models in OpenAI's shape, and response_format honoured through a forced tool (whole and
streamed) or refused with a clear 400."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from gateway_support import KEY, ServeGateway

MESSAGES: Any = [{"role": "user", "content": "Give me a city and its population."}]
SCHEMA = {"name": "city", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"], "additionalProperties": False}}


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0)


def test_models_in_each_clients_shape(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    models = list(client(gw.url).models.list())
    assert models and all(m.object == "model" and m.owned_by == "tiered" and m.created > 0 for m in models)
    assert "claude-tiered-default" in [m.id for m in models]
    raw = httpx2.get(f"{gw.url}/v1/models", headers={"authorization": f"Bearer {KEY}"}).json()
    assert raw["object"] == "list" and "has_more" not in raw
    one = client(gw.url).models.retrieve(models[-1].id)
    assert one.id == models[-1].id and one.object == "model"
    # the Anthropic SDK (it sends anthropic-version) still gets the Anthropic page
    page = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0).models.list()
    assert [m.id for m in page.data] == [m.id for m in models] and page.data[0].type == "model"
    assert "object" not in httpx2.get(f"{gw.url}/v1/models", headers={"x-api-key": KEY,
                                                                      "anthropic-version": "2023-06-01"}).json()


def test_json_object_and_json_schema_whole(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    plain = client(gw.url).chat.completions.create(model="haiku", messages=MESSAGES, max_tokens=200,
                                                   response_format={"type": "json_object"})
    assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)
    assert plain.choices[0].finish_reason == "stop" and not plain.choices[0].message.tool_calls
    typed = client(gw.url).chat.completions.create(model="haiku", messages=MESSAGES, max_tokens=200,
                                                   response_format={"type": "json_schema", "json_schema": SCHEMA})
    answer = json.loads(typed.choices[0].message.content or "")
    assert set(answer) == {"city", "population"} and isinstance(answer["population"], int)
    text = client(gw.url).chat.completions.create(model="haiku", messages=MESSAGES, max_tokens=50,
                                                  response_format={"type": "text"})
    assert text.choices[0].message.content


def test_json_schema_streamed(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    chunks = list(client(gw.url).chat.completions.create(
        model="haiku", messages=MESSAGES, max_tokens=200, stream=True,
        response_format={"type": "json_schema", "json_schema": SCHEMA}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert set(json.loads(text)) == {"city", "population"}
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


@pytest.mark.parametrize(("response_format", "extra", "says"), [
    ({"type": "xml"}, {}, "type must be text, json_object or json_schema"),
    ("json", {}, "must be an object"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}, {}, "top level must be"),
    ({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}, {}, "non-empty name"),
    ({"type": "json_object"}, {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
     "cannot be combined with tools"),
])
def test_response_formats_that_cannot_be_honoured_are_refused(emulator_url: str, serve_gateway: ServeGateway,
                                                              response_format: Any, extra: dict[str, Any],
                                                              says: str) -> None:
    gw = serve_gateway(emulator_url)
    body = {"model": "haiku", "messages": MESSAGES, "max_tokens": 20, "response_format": response_format, **extra}
    got = httpx2.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"}, json=body)
    assert got.status_code == 400 and got.json()["error"]["type"] == "invalid_request_error"
    assert says in got.json()["error"]["message"] and got.json()["error"]["message"].startswith("response_format:")
