"""Injected faults reach /v1/messages/count_tokens too: by header, and by a model's configured rates."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import pytest
from anthropic.types import MessageParam

from tiered.emulator.config import Behaviour, EmulatorConfig

HAIKU = "claude-haiku-4-5"
HI: list[MessageParam] = [{"role": "user", "content": "hi there"}]


def sdk(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=url, max_retries=0)


@pytest.mark.parametrize(("fault", "error", "status"), [
    ("529", anthropic.OverloadedError, 529),
    ("400", anthropic.BadRequestError, 400),
    ("midstream", anthropic.OverloadedError, 529),  # a count is not streamed: a 529
])
def test_fault_header_fails_a_count(emulator_url: str, fault: str, error: type[anthropic.APIStatusError],
                                    status: int) -> None:
    with pytest.raises(error) as caught:
        sdk(emulator_url).messages.count_tokens(model=HAIKU, messages=HI, extra_headers={"x-tiered-fault": fault})
    assert caught.value.status_code == status
    assert caught.value.response.json()["type"] == "error"


def test_a_429_on_a_count_carries_retry_after(emulator_url: str) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk(emulator_url).messages.count_tokens(model=HAIKU, messages=HI, extra_headers={"x-tiered-fault": "429"})
    assert caught.value.response.headers["retry-after-ms"] == "1000"


def test_configured_rates_fail_a_count_of_that_model_only(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    client = sdk(start_emulator(EmulatorConfig(per_model={"haiku": Behaviour(error_rates={"529": 1.0})})))
    with pytest.raises(anthropic.OverloadedError):
        client.messages.count_tokens(model=HAIKU, messages=HI)
    assert client.messages.count_tokens(model="claude-sonnet-4-6", messages=HI).input_tokens > 0


def test_a_malformed_fault_header_is_a_400_on_a_count(emulator_url: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(emulator_url).messages.count_tokens(model=HAIKU, messages=HI, extra_headers={"x-tiered-fault": "soon"})
    assert "x-tiered-fault" in caught.value.message
