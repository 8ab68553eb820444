"""The emulator refuses a forced tool with extended thinking on, with the API's own 400 and message."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tiered.emulator.validation import THINKING_FORCED_TOOL

HAIKU = "claude-haiku-4-5"
TOOL: Any = {"name": "report", "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}}
THINKING: list[Any] = [{"type": "enabled", "budget_tokens": 1024}, {"type": "adaptive"}]


@pytest.fixture
def client(emulator_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=emulator_url, max_retries=0)


@pytest.mark.parametrize("thinking", THINKING)
@pytest.mark.parametrize("choice", [{"type": "tool", "name": "report"}, {"type": "any"}])
def test_forced_tool_with_thinking_is_refused(client: anthropic.Anthropic, thinking: Any, choice: Any) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=HAIKU, max_tokens=2048, messages=[{"role": "user", "content": "hi"}],
                               tools=[TOOL], tool_choice=choice, thinking=thinking)
    assert caught.value.status_code == 400
    assert caught.value.body == {"type": "error", "error": {"type": "invalid_request_error",
                                                            "message": THINKING_FORCED_TOOL},
                                 "request_id": caught.value.request_id}
    assert THINKING_FORCED_TOOL == "Thinking may not be enabled when tool_choice forces tool use."


@pytest.mark.parametrize("choice", [{"type": "auto"}, {"type": "none"}])
def test_auto_or_none_tool_choice_with_thinking_is_served(client: anthropic.Anthropic, choice: Any) -> None:
    message = client.messages.create(model=HAIKU, max_tokens=2048, messages=[{"role": "user", "content": "hi"}],
                                     tools=[TOOL], tool_choice=choice, thinking=THINKING[0])
    assert message.content[0].type == "thinking" and message.stop_reason == "end_turn"


def test_forced_tool_without_thinking_is_served(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=HAIKU, max_tokens=256, messages=[{"role": "user", "content": "hi"}],
                                     tools=[TOOL], tool_choice={"type": "tool", "name": "report"},
                                     thinking={"type": "disabled"})
    assert message.stop_reason == "tool_use"
