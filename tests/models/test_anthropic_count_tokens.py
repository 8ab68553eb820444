"""AnthropicModel.count_tokens over real HTTP: the emulator's count for the same body, the fields sent,
and errors mapped as `complete` maps them (the fake upstream for a reply without input_tokens)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tiered.emulator.testing import running_emulator_app
from tiered.errors import AuthFailed, BadRequest, Overloaded, ProviderError, RateLimited, ServerError
from tiered.models.anthropic import AnthropicModel
from tiered.models.base import Model, TokenCounter
from tiered.models.fake import FakeModel, text_response
from tiered.types import Request

KEY = "sk-ant-test-SECRET-count-0123456789"
TOOL = {"name": "lookup", "description": "Look a word up.",
        "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}}}


def model(url: str, **kw: Any) -> AnthropicModel:
    return AnthropicModel("claude-haiku-4-5", api_key=KEY, base_url=url, **kw)


def emulator_count(url: str, body: dict[str, Any]) -> int:
    r = httpx2.post(f"{url}/v1/messages/count_tokens", json=body, headers={"x-api-key": "k"})
    assert r.status_code == 200, r.text
    tokens = r.json()["input_tokens"]
    assert isinstance(tokens, int)
    return tokens


def test_the_anthropic_model_counts_and_the_others_do_not() -> None:
    m = AnthropicModel("claude-haiku-4-5", api_key=KEY, base_url="http://127.0.0.1:9")
    fake = FakeModel(lambda r: text_response("x", model="fake"))
    assert isinstance(m, TokenCounter) and isinstance(m, Model)
    assert not isinstance(fake, TokenCounter) and isinstance(fake, Model)


async def test_count_equals_the_emulators_count_of_the_same_body(emulator_url: str) -> None:
    m = model(emulator_url)
    plain = Request.user("What is the capital of France? " * 20)
    rich = Request.user("What is the capital of France? " * 20, system="You are terse. " * 30,
                        tools=(TOOL,), tool_choice={"type": "auto"},
                        extra={"thinking": {"type": "enabled", "budget_tokens": 2048}, "temperature": 1})
    counted_plain, counted_rich = await m.count_tokens(plain), await m.count_tokens(rich)
    await m.aclose()
    body = {"model": "claude-haiku-4-5", "messages": [dict(x) for x in plain.messages]}
    assert counted_plain == emulator_count(emulator_url, body)
    full = {**body, "system": rich.system, "tools": [TOOL], "tool_choice": {"type": "auto"},
            "thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert counted_rich == emulator_count(emulator_url, full)
    assert counted_rich > counted_plain  # system and tools were sent and counted


async def test_only_the_fields_count_tokens_takes_are_sent(fake_upstream: tuple[str, Any]) -> None:
    url, app = fake_upstream
    m = AnthropicModel("haiku-via-proxy", api_key=KEY, base_url=url, upstream_model="claude-haiku-4-5")
    request = Request.user("hi", max_tokens=99, system="be brief", tools=(TOOL,), stop_sequences=("END",),
                           metadata={"user_id": "u1"}, extra={"temperature": 0.2, "thinking": {"type": "adaptive"}},
                           headers={"anthropic-beta": "tools-2026-01-01"})
    with pytest.raises(ServerError) as info:  # the fake answers a chat completion: no input_tokens in it
        await m.count_tokens(request)
    await m.aclose()
    assert "input_tokens" in str(info.value) and info.value.retryable
    assert set(app.bodies[-1]) == {"model", "messages", "system", "tools", "thinking"}
    assert app.bodies[-1]["model"] == "claude-haiku-4-5"
    assert app.headers[-1]["anthropic-beta"] == "tools-2026-01-01"


@pytest.mark.parametrize(("fault", "error", "status"), [
    ("529", Overloaded, 529),
    ("429;retry-after-ms=5", RateLimited, 429),
    ("500", ServerError, 500),
    ("400", BadRequest, 400),
    ("401", AuthFailed, 401),
])
async def test_errors_map_as_for_complete(fault: str, error: type[ProviderError], status: int) -> None:
    with running_emulator_app() as (url, app):
        m = model(url)
        with pytest.raises(error) as info:
            await m.count_tokens(Request.user("hi", headers={"x-tiered-fault": fault}))
        await m.aclose()
        assert app.attempts == {"0": 1}  # max_retries=0: one attempt, the SDK did not retry
    assert type(info.value) is error and info.value.status == status
    assert info.value.request_id and info.value.model == "claude-haiku-4-5"
    if status == 429:
        assert info.value.retry_after == pytest.approx(0.005)


async def test_a_key_echoed_back_never_shows(fake_upstream: tuple[str, Any]) -> None:
    m = model(fake_upstream[0])
    with pytest.raises(AuthFailed) as info:
        await m.count_tokens(Request.user("hi", headers={"x-fake": "echo-key"}))
    await m.aclose()
    assert "[redacted]" in str(info.value)  # the upstream did echo the key; it was scrubbed
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert info.value.__cause__ is None  # and the SDK error that quotes it is not chained
