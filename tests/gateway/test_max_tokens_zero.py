"""`max_tokens: 0` is accepted, as the API accepts it to pre-warm the prompt cache: an empty answer, through the
emulator, the models, the policies and the gateway (issue 8, item 7)."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import httpx2
import pytest
from gateway_support import KEY, ServeGateway

from tiered.catalog import Catalog
from tiered.emulator.config import EmulatorConfig
from tiered.models.registry import ModelSet
from tiered.policies import Cascade, Direct, Fallback
from tiered.runtime.driver import run
from tiered.runtime.streaming import stream
from tiered.types import Request

SYSTEM = [{"type": "text", "text": "You are a careful reviewer. " * 400, "cache_control": {"type": "ephemeral"}}]
HI = [{"role": "user", "content": "Warm the cache."}]


def test_the_emulator_answers_an_empty_message(emulator_url: str) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=emulator_url, max_retries=0)
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=0, system=SYSTEM, messages=HI)
    assert message.content == [] and message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 0
    assert message.usage.cache_creation_input_tokens > 0  # the prompt was cached: the point of the request
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=0, system=SYSTEM, messages=HI) as s:
        final = s.get_final_message()
    assert final.content == [] and final.stop_reason == "max_tokens"
    negative = httpx2.post(f"{emulator_url}/v1/messages", headers={"x-api-key": "k"},
                           json={"model": "claude-haiku-4-5", "max_tokens": -1, "messages": HI})
    assert negative.status_code == 400 and "greater than or equal to 0" in negative.text


@pytest.mark.parametrize("policy", [Direct("sonnet"), Fallback("opus", "sonnet"),
                                    Cascade(("haiku", "sonnet", "opus"))], ids=repr)
async def test_policies_answer_it_once_without_escalating(policy: object, catalog: Catalog,
                                                          start_emulator: Callable[[EmulatorConfig], str]) -> None:
    models = ModelSet.build(catalog, backend="emulator", base_url=start_emulator(EmulatorConfig()))
    try:
        request = Request(messages=tuple(HI), max_tokens=0, system=tuple(SYSTEM))
        done = await run(policy, request, models)  # type: ignore[arg-type]
        assert done.response is not None and done.response.content == ()
        assert done.response.stop_reason == "max_tokens" and len(done.record.attempts) == 1
        streamed = stream(policy, request, models)  # type: ignore[arg-type]
        events = [e async for e in streamed]
        assert events[-1]["type"] == "message_stop" and streamed.record is not None
        assert streamed.record.outcome == "ok" and len(streamed.record.attempts) == 1
    finally:
        await models.aclose()


def test_the_gateway_passes_it_through(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url)
    client = anthropic.Anthropic(api_key=KEY, base_url=gw.url, max_retries=0)
    for model in ("claude-haiku-4-5", "tiered/default"):
        raw = client.messages.with_raw_response.create(model=model, max_tokens=0, system=SYSTEM, messages=HI)
        message = raw.parse()
        assert message.content == [] and message.stop_reason == "max_tokens", model
        assert message.usage.output_tokens == 0
        with client.messages.stream(model=model, max_tokens=0, system=SYSTEM, messages=HI) as s:
            assert s.get_final_message().content == []
    assert all(r.outcome == "ok" for r in gw.records(4))
