"""Requests round-trip the Messages body; escalation context only appends; usage reads cache lifetimes."""

from __future__ import annotations

from tiered.types import Request, Response, Usage


def test_request_round_trips_unknown_fields() -> None:
    body = {
        "model": "haiku", "max_tokens": 50, "system": "be brief", "temperature": 0.2,
        "thinking": {"type": "adaptive"}, "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"user_id": "u1"}, "stream": True,
    }
    req = Request.from_body(body)
    out = req.to_body("claude-haiku-4-5")
    assert out["model"] == "claude-haiku-4-5"
    assert out["temperature"] == 0.2 and out["thinking"] == {"type": "adaptive"}
    assert "stream" not in out  # streaming is the transport's choice, not part of the request
    assert req.prompt_text == "be brief\nhi"


def test_appending_reasoning_keeps_the_original_prompt_first() -> None:
    req = Request.user("What is 2+2?")
    esc = req.with_appended_user_text("A cheaper model answered: 5")
    content = esc.messages[-1]["content"]
    assert content[0] == {"type": "text", "text": "What is 2+2?"}
    assert content[1]["text"] == "A cheaper model answered: 5"
    assert req.messages[-1]["content"] == "What is 2+2?"  # the original is untouched


def test_usage_reads_both_cache_lifetimes() -> None:
    u = Usage.from_api({
        "input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 7,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    })
    assert (u.cache_creation_5m_input_tokens, u.cache_creation_1h_input_tokens) == (100, 200)
    assert u.total_input_tokens == 317
    assert Usage.from_api(u.to_api()) == u


def test_usage_without_split_counts_writes_as_five_minute() -> None:
    u = Usage.from_api({"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 40})
    assert u.cache_creation_5m_input_tokens == 40 and u.cache_creation_1h_input_tokens == 0


def test_response_tool_input_parses_json_strings() -> None:
    r = Response.from_api({
        "id": "m", "model": "x", "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1},
        "content": [{"type": "text", "text": "ok"},
                    {"type": "tool_use", "id": "t", "name": "report_confidence", "input": '{"confidence": 0.9}'}],
    })
    assert r.text == "ok"
    assert r.tool_input("report_confidence") == {"confidence": 0.9}
    assert r.tool_input("other") is None
