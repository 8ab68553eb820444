"""A whole answer is POSTed with the SDK's own HTTP client, skipping its per-call request building
(issue 13: that building cost more CPU than the gateway's own work). The upstream must not see any
difference from what the SDK sends for a stream: same auth, version and client headers, same body."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.errors import ServerError, SpendLimit
from tiered.models.anthropic import AnthropicModel
from tiered.types import Request

KEY = "sk-ant-test-SECRET-0123456789"
SAME = ("authorization", "x-api-key", "anthropic-version", "user-agent", "content-type", "accept",
        "x-stainless-lang", "x-stainless-package-version", "anthropic-beta")


async def test_a_whole_answer_reaches_the_upstream_as_the_sdk_sends_a_stream(fake_upstream: tuple[str, Any]) -> None:
    url, app = fake_upstream
    m = AnthropicModel("claude-haiku-4-5", api_key=KEY, base_url=url, default_headers={"x-team": "t1"})
    request = Request.user("hi", extra={"temperature": 0.2}, headers={"anthropic-beta": "b-1"})
    with pytest.raises(SpendLimit):
        await m.complete(Request.user("hi", extra={"temperature": 0.2}, headers={"anthropic-beta": "b-1",
                                                                                 "x-fake": "spend"}))
    with pytest.raises(ServerError):
        [e async for e in m.stream(Request.user("hi", extra={"temperature": 0.2},
                                                headers={"anthropic-beta": "b-1", "x-fake": "cut"}))]
    await m.aclose()
    whole, streamed = ({k.lower(): v for k, v in h.items()} for h in app.headers[-2:])
    assert {k: whole.get(k) for k in SAME} == {k: streamed.get(k) for k in SAME}
    assert whole["x-team"] == streamed["x-team"] == "t1" and whole["anthropic-beta"] == "b-1"
    assert KEY in (whole.get("x-api-key", "") + whole.get("authorization", ""))
    sent, streamed_body = app.bodies[-2:]
    assert sent == {**streamed_body, "stream": False} or {**sent, "stream": True} == streamed_body
    assert sent["model"] == "claude-haiku-4-5" and sent["temperature"] == 0.2
    assert request.to_body("claude-haiku-4-5").items() <= sent.items()
