"""The emulator refuses what a model does not accept, from the catalog's capability fields, as the API does
(issue 8, item 5): thinking types, output_config.effort values, tool types."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

HI = [{"role": "user", "content": "Say hello."}]


def _post(url: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(f"{url}/v1/messages", headers={"x-api-key": "k"}, json={"messages": HI, **body})


@pytest.mark.parametrize(("model", "extra", "problem"), [
    ("claude-opus-4-7", {"thinking": {"type": "enabled", "budget_tokens": 2000}}, "thinking.type.enabled is not"),
    ("claude-opus-5-5", {"thinking": {"type": "enabled", "budget_tokens": 2000}}, "thinking.type.enabled is not"),
    ("claude-haiku-4-5", {"thinking": {"type": "adaptive"}}, "thinking.type.adaptive is not"),
    ("claude-haiku-4-5", {"output_config": {"effort": "low"}}, "does not support the effort parameter"),
    ("claude-opus-4-5", {"output_config": {"effort": "xhigh"}}, "'xhigh' is not supported"),
    ("claude-sonnet-4-6", {"tools": [{"type": "mcp_toolset_20251120", "name": "m"}]}, "tools.0.type"),
])
def test_what_a_model_does_not_accept_is_a_400(emulator_url: str, model: str, extra: dict[str, Any],
                                               problem: str) -> None:
    r = _post(emulator_url, {"model": model, "max_tokens": 4000, **extra})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error" and problem in r.json()["error"]["message"]


@pytest.mark.parametrize(("model", "extra"), [
    ("claude-opus-4-7", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}}),
    ("claude-sonnet-4-6", {"thinking": {"type": "enabled", "budget_tokens": 2000}}),
    ("claude-sonnet-4-6", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
    ("claude-haiku-4-5", {"thinking": {"type": "enabled", "budget_tokens": 2000}}),
    ("claude-haiku-4-5", {"thinking": {"type": "disabled"},
                          "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
])
def test_what_a_model_accepts_is_answered(emulator_url: str, model: str, extra: dict[str, Any]) -> None:
    r = _post(emulator_url, {"model": model, "max_tokens": 4000, **extra})
    assert r.status_code == 200, r.text
