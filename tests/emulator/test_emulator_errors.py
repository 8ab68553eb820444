"""Every error the emulator answers comes in the API's own shape, and the SDK maps it as it maps the real API's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import pytest

from tiered.emulator.config import EmulatorConfig

OK_MESSAGES = [{"role": "user", "content": "hi"}]
BASE: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": OK_MESSAGES}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in BASE.items() if k != key}


def check_shape(body: Any, kind: str) -> str:
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["request_id"].startswith("req_")
    message: str = body["error"]["message"]
    assert message
    return message


@pytest.fixture
def client(emulator_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=emulator_url, max_retries=0)


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    (without("model"), "model"),
    ({**BASE, "model": 7}, "model"),
    (without("messages"), "messages"),
    ({**BASE, "messages": []}, "messages"),
    ({**BASE, "messages": "hi"}, "messages"),
    ({**BASE, "messages": ["hi"]}, "messages.0"),
    ({**BASE, "messages": [{"role": "system", "content": "hi"}]}, "messages.0.role"),
    ({**BASE, "messages": [{"role": "user"}]}, "messages.0.content"),
    ({**BASE, "messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
    ({**BASE, "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
    ({**BASE, "messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages.0.content.0.type"),
    (without("max_tokens"), "max_tokens"),
    ({**BASE, "max_tokens": -1}, "max_tokens"),  # 0 is allowed (a cache pre-warm), below it is not
    ({**BASE, "max_tokens": "10"}, "max_tokens"),
    ({**BASE, "max_tokens": 1.5}, "max_tokens"),
    ({**BASE, "max_tokens": True}, "max_tokens"),
    ({**BASE, "max_tokens": 10**9}, "max_tokens"),  # above the model's max output: "... > 64000, which is ..."
    ({**BASE, "system": 3}, "system"),
    ({**BASE, "system": [{"type": "image"}]}, "system.0"),
    ({**BASE, "tools": {"name": "x"}}, "tools"),
    ({**BASE, "tools": [{"name": "x"}]}, "tools.0.input_schema"),
    ({**BASE, "tools": [{"input_schema": {}}]}, "tools.0.name"),
    ({**BASE, "tool_choice": {"type": "sometimes"}}, "tool_choice"),
    ({**BASE, "tool_choice": {"type": "tool", "name": "missing"}}, "tool_choice.name"),
    ({**BASE, "tool_choice": {"type": "any"}}, "tool_choice"),
    ({**BASE, "stream": "yes"}, "stream"),
    ({**BASE, "temperature": "hot"}, "temperature"),
    ({**BASE, "temperature": 1.5}, "temperature"),
    ({**BASE, "top_p": -0.1}, "top_p"),
    ({**BASE, "top_k": 0.5}, "top_k"),
    ({**BASE, "stop_sequences": "END"}, "stop_sequences"),
    ({**BASE, "metadata": "me"}, "metadata"),
    ({**BASE, "thinking": True}, "thinking"),
    ({**BASE, "output_config": {"effort": "turbo"}}, "output_config.effort"),
    (
        {**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": 1}]}]},
        "messages.0.content.0.cache_control",
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_BODIES)])
def test_malformed_bodies_are_400_naming_the_field(
    client: anthropic.Anthropic, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.post("/v1/messages", body=body, cast_to=object)
    error = caught.value
    assert error.status_code == 400 and error.type == "invalid_request_error"
    assert check_shape(error.body, "invalid_request_error").startswith(field)
    assert error.request_id is not None and error.request_id.startswith("req_")


def test_count_tokens_needs_no_max_tokens_but_checks_the_rest(client: anthropic.Anthropic) -> None:
    counted = client.post("/v1/messages/count_tokens", body=without("max_tokens"), cast_to=object)
    assert counted == {"input_tokens": 1}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.post("/v1/messages/count_tokens", body={"model": "haiku", "messages": []}, cast_to=object)
    assert check_shape(caught.value.body, "invalid_request_error").startswith("messages")


def test_first_message_may_be_from_the_assistant(client: anthropic.Anthropic) -> None:
    body = {**BASE, "messages": [{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Hi"}]}
    answer = client.post("/v1/messages", body=body, cast_to=object)
    assert isinstance(answer, dict) and answer["type"] == "message"


@pytest.mark.parametrize("raw", [
    b"{not json", b"", b"[1, 2]", b"\xff\xfe",
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's recursion limit: was a 500
    b'{"model": "haiku", "max_tokens": 10, "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}',
])
def test_bodies_that_are_not_a_json_object_are_400(emulator_url: str, raw: bytes) -> None:
    response = httpx2.post(f"{emulator_url}/v1/messages", content=raw, headers={"x-api-key": "k"})
    assert response.status_code == 400
    check_shape(response.json(), "invalid_request_error")
    assert response.headers["request-id"] == response.json()["request_id"]


def test_missing_credentials_are_401(emulator_url: str) -> None:
    for headers in ({}, {"authorization": "Basic abc"}, {"authorization": "Bearer"}, {"x-api-key": ""}):
        response = httpx2.post(f"{emulator_url}/v1/messages", json=BASE, headers=headers)
        assert response.status_code == 401
        check_shape(response.json(), "authentication_error")
    response = httpx2.get(f"{emulator_url}/v1/models")
    assert response.status_code == 401


def test_unknown_model_is_404(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="claude-unknown-9", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404 and caught.value.type == "not_found_error"
    assert "claude-unknown-9" in check_shape(caught.value.body, "not_found_error")


def test_configured_models_are_known(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    url = start_emulator(EmulatorConfig(extra_models=("my-finetune",)))
    client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)
    answer = client.messages.create(model="my-finetune", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert answer.model == "my-finetune"
    assert "my-finetune" in [m.id for m in client.models.list(limit=100)]


def test_unknown_route_is_404_and_wrong_method_is_405(emulator_url: str) -> None:
    missing = httpx2.get(f"{emulator_url}/v1/nothing", headers={"x-api-key": "k"})
    assert missing.status_code == 404
    check_shape(missing.json(), "not_found_error")
    wrong = httpx2.get(f"{emulator_url}/v1/messages", headers={"x-api-key": "k"})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    check_shape(wrong.json(), "invalid_request_error")
    wrong = httpx2.delete(f"{emulator_url}/v1/models", headers={"x-api-key": "k"})
    assert wrong.status_code == 405


def test_bodies_over_the_limit_are_413(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    url = start_emulator(EmulatorConfig(max_body_bytes=2000))
    client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="haiku", max_tokens=5, messages=[{"role": "user", "content": "x" * 3000}])
    assert caught.value.status_code == 413
    check_shape(caught.value.body, "request_too_large")
    fits = client.messages.create(model="haiku", max_tokens=5, messages=[{"role": "user", "content": "x" * 1000}])
    assert fits.type == "message"


def test_default_limit_is_32_mb(emulator_url: str) -> None:
    text = "x" * (32 << 20)
    huge = b'{"model": "haiku", "max_tokens": 5, "messages": [{"role": "user", "content": "%s"}]}' % text.encode()
    response = httpx2.post(f"{emulator_url}/v1/messages", content=huge, headers={"x-api-key": "k"}, timeout=30)
    assert response.status_code == 413
    check_shape(response.json(), "request_too_large")


def test_bad_models_query_is_400(emulator_url: str) -> None:
    response = httpx2.get(f"{emulator_url}/v1/models?limit=0", headers={"x-api-key": "k"})
    assert response.status_code == 400
    assert check_shape(response.json(), "invalid_request_error").startswith("limit")
